#include "errors.hpp"

#include <array>

namespace py = pybind11;

namespace framebus::python {

namespace {

// Leaked on purpose: exception classes must outlive every call, including at interpreter exit.
std::array<PyObject*, 13> g_classes{};
PyObject* g_error = nullptr;
PyObject* g_end_of_channel = nullptr;
PyObject* g_producer_died = nullptr;

// The Python class of each ErrorCode, in the enum's order (framebus/_errors.py defines them);
// `interrupted` has no class of its own: raise() re-raises the signal handler's exception.
constexpr std::array<const char*, 13> kClassNames{
    "InvalidArgument", "InvalidName",     "NotFound",        "AlreadyExists", "PermissionDenied",
    "Corrupt",         "VersionMismatch", "PayloadTooLarge", "Timeout",       "LimitReached",
    "Closed",          "Error",           "SystemFailure"};
static_assert(static_cast<std::size_t>(ErrorCode::system) + 1 == kClassNames.size(), "one class per ErrorCode");

PyObject* grab(const py::module_& m, const char* name) {
  py::object cls = m.attr(name);
  return cls.release().ptr();
}

}  // namespace

void load_error_classes() {
  py::module_ m = py::module_::import("framebus._errors");
  for (int i = 0; i <= static_cast<int>(ErrorCode::system); ++i) {
    g_classes[static_cast<std::size_t>(i)] = grab(m, kClassNames[static_cast<std::size_t>(i)]);
  }
  g_error = grab(m, "Error");
  g_end_of_channel = grab(m, "EndOfChannel");
  g_producer_died = grab(m, "ProducerDied");
}

void raise(const Error& error) {
  if (error.code() == ErrorCode::interrupted && PyErr_CheckSignals() != 0) {
    throw py::error_already_set();  // the KeyboardInterrupt a signal handler raised
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

}  // namespace framebus::python
