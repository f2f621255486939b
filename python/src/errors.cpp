#include "errors.hpp"

#include <array>

#include "channel/channel_state.hpp"

namespace py = pybind11;

namespace framebus::python {

namespace {

// Leaked on purpose: exception classes must outlive every call, including at interpreter exit.
std::array<PyObject*, 13> g_classes{};
PyObject* g_error = nullptr;
PyObject* g_end_of_channel = nullptr;
PyObject* g_producer_died = nullptr;

const char* class_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument: return "InvalidArgument";
    case ErrorCode::invalid_name: return "InvalidName";
    case ErrorCode::not_found: return "NotFound";
    case ErrorCode::already_exists: return "AlreadyExists";
    case ErrorCode::permission_denied: return "PermissionDenied";
    case ErrorCode::corrupt: return "Corrupt";
    case ErrorCode::version_mismatch: return "VersionMismatch";
    case ErrorCode::payload_too_large: return "PayloadTooLarge";
    case ErrorCode::timeout: return "Timeout";
    case ErrorCode::limit_reached: return "LimitReached";
    case ErrorCode::closed: return "Closed";
    case ErrorCode::interrupted: return "Error";
    case ErrorCode::system: return "SystemFailure";
  }
  return "Error";
}

PyObject* grab(const py::module_& m, const char* name) {
  py::object cls = m.attr(name);
  return cls.release().ptr();
}

// The thread that runs Python's signal handlers (threading.main_thread()).
unsigned long g_main_thread = 0;

// Runs with the GIL released, from inside a wait: take the GIL and let Python run its signal
// handlers. A handler that raised (KeyboardInterrupt) leaves the exception set for the caller.
// Only Python's main thread runs handlers, so no other thread takes the GIL here: a decoder's
// stream thread (never a Python thread) waiting for room must not wait for the GIL, which the
// thread joining it may hold, and at interpreter exit a thread that takes the GIL is ended
// under its C++ frames.
bool python_signal_pending() {
  if (PyThread_get_thread_ident() != g_main_thread || PyGILState_GetThisThreadState() == nullptr) return false;
#if PY_VERSION_HEX >= 0x030D0000
  if (Py_IsFinalizing() != 0) return false;
#else
  if (_Py_IsFinalizing() != 0) return false;
#endif
  py::gil_scoped_acquire gil;
  return PyErr_CheckSignals() != 0;
}

}  // namespace

void load_error_classes() {
  py::module_ m = py::module_::import("framebus._errors");
  for (int i = 0; i <= static_cast<int>(ErrorCode::system); ++i) {
    g_classes[static_cast<std::size_t>(i)] = grab(m, class_name(static_cast<ErrorCode>(i)));
  }
  g_error = grab(m, "Error");
  g_end_of_channel = grab(m, "EndOfChannel");
  g_producer_died = grab(m, "ProducerDied");
}

void raise(const Error& error) {
  if (error.code() == ErrorCode::interrupted && PyErr_Occurred() != nullptr) {
    throw py::error_already_set();  // the KeyboardInterrupt raised by the signal handler
  }
  PyObject* cls = g_classes[static_cast<std::size_t>(error.code())];
  if (cls == nullptr) cls = g_error != nullptr ? g_error : PyExc_RuntimeError;
  PyErr_SetString(cls, error.message().c_str());
  throw py::error_already_set();
}

void raise_end_of_channel(EndReason reason, const std::string& channel) {
  PyObject* cls = reason == EndReason::producer_died ? g_producer_died : g_end_of_channel;
  const std::string text = reason == EndReason::producer_died
                               ? "channel '" + channel + "' ended: its last producer died"
                               : "channel '" + channel + "' ended: every producer closed";
  PyErr_SetString(cls, text.c_str());
  throw py::error_already_set();
}

void install_interrupt_hook() {
  g_main_thread = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  detail::set_interrupt_check(&python_signal_pending);
}

}  // namespace framebus::python
