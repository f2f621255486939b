#pragma once
// Ctrl-C for waits that run without the GIL. A wait takes a std::stop_token (the library's one
// way to cancel a wait); in Python's main thread the token of a call is stopped by SIGINT:
// while the call runs, a SIGINT handler of ours sits in front of Python's (which still runs and
// sets the flag that raises KeyboardInterrupt), writes to an eventfd, and a helper thread reads
// it and requests the stop; a handler cannot do that itself (request_stop is not
// async-signal-safe). close() from another thread cancels the handle, the same mechanism.

#include <pybind11/pybind11.h>

#include <stop_token>

#include "errors.hpp"

namespace framebus::python {

/// Around one blocking call; constructed and destroyed with the GIL held. Outside the main
/// thread (where Python never runs signal handlers) the token never stops.
class InterruptScope {
 public:
  InterruptScope();
  // Neither copied nor moved (a deleted move deletes the copies too): a scope installs the
  // SIGINT handler once and puts Python's back once.
  InterruptScope(InterruptScope&&) = delete;
  ~InterruptScope();

  /// Puts Python's own handler back; then the call's error can be raised.
  void end() noexcept;
  [[nodiscard]] std::stop_token token() const noexcept { return source_.get_token(); }

 private:
  std::stop_source source_{std::nostopstate};
  bool installed_ = false;
};

/// Runs `call(token)` without the GIL; when SIGINT interrupted it, runs Python's signal handlers:
/// their exception (KeyboardInterrupt) is raised, and when they raise none the call starts again
/// (as Python's own calls do, PEP 475). Returns the call's result otherwise.
template <typename Call>
auto interruptible(Call&& call) -> decltype(call(std::stop_token{})) {
  for (;;) {
    InterruptScope scope;
    auto result = [&] {
      pybind11::gil_scoped_release nogil;
      return call(scope.token());
    }();
    const bool signalled = scope.token().stop_requested();
    scope.end();
    if (!signalled || result || result.error().code() != ErrorCode::interrupted) return result;
    if (PyErr_CheckSignals() != 0) throw pybind11::error_already_set();
  }
}

/// For a call that is not itself a wait but ends when asked to (a run, a worker): runs `call()`
/// without the GIL, and on Ctrl-C runs `on_interrupt` (in a helper thread) so that it ends; the
/// KeyboardInterrupt is raised once `call` has returned.
template <typename Call, typename OnInterrupt>
auto until_interrupted(Call&& call, OnInterrupt on_interrupt) -> decltype(call()) {
  InterruptScope scope;
  auto result = [&] {
    const std::stop_callback stopping(scope.token(), std::move(on_interrupt));
    pybind11::gil_scoped_release nogil;
    return call();
  }();
  scope.end();
  if (PyErr_CheckSignals() != 0) throw pybind11::error_already_set();
  return result;
}

}  // namespace framebus::python
