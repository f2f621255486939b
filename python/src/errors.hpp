#pragma once
// Raising framebus errors as the Python exception classes of framebus._errors.

#include <pybind11/pybind11.h>

#include "framebus/channel/consumer.hpp"
#include "framebus/error.hpp"

namespace framebus::python {

/// Imports framebus._errors once; call from the module initialiser.
void load_error_classes();
/// Throws pybind11::error_already_set carrying the matching framebus exception.
[[noreturn]] void raise(const Error& error);
/// Throws framebus.EndOfChannel, or framebus.ProducerDied for that reason.
[[noreturn]] void raise_end_of_channel(EndReason reason, const std::string& channel);

/// Unwraps a Result or raises its error.
template <typename T>
T unwrap(Result<T>&& result) {
  if (!result) raise(result.error());
  return std::move(*result);
}
inline void unwrap(Result<void>&& result) {
  if (!result) raise(result.error());
}

}  // namespace framebus::python
