#pragma once
// The Python view of a received message: metadata properties, a zero-copy read-only NumPy array,
// the buffer protocol and DLPack. Every view holds its own Sample reference, so the slot goes back
// to the channel only when the message and every array or tensor made from it are gone.

#include <pybind11/pybind11.h>

#include "framebus/consumer.hpp"

namespace framebus::python {

class Message {
 public:
  explicit Message(Sample sample) : sample_(std::move(sample)) {}

  [[nodiscard]] const Sample& sample() const;  // raises Closed after release()
  [[nodiscard]] bool released() const noexcept { return !sample_.valid(); }
  void release() noexcept;
  /// The read-only NumPy view (made once, then cached).
  pybind11::object array(pybind11::handle self);
  pybind11::capsule dlpack() const;

 private:
  Sample sample_;
  pybind11::object array_;
};

void bind_message(pybind11::module_& mod);

}  // namespace framebus::python
