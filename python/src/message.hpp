#pragma once
// The Python view of a received message: metadata properties, a zero-copy read-only NumPy array,
// the buffer protocol and DLPack. Every view holds its own Message reference, so the slot goes back
// to the channel only when the message and every array or tensor made from it are gone.

#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "framebus/channel/consumer.hpp"

namespace framebus::python {

/// A message's metadata copied out of its slot, for a message that made itself private.
struct DetachedMeta {
  std::uint32_t stream = 0;
  std::uint64_t frame = 0;
  std::int64_t pts = 0;
  std::int64_t publish_ns = 0;
  std::uint32_t flags = 0;
  bool redelivered = false;
  PayloadKind kind = PayloadKind::bytes;
  std::optional<std::string> format;
  std::string user;
  std::size_t nbytes = 0;
};

class PyMessage {
 public:
  explicit PyMessage(Message sample) : message_(std::move(sample)) {}

  /// The slot's Message; raises Closed after release() and for a detached message.
  [[nodiscard]] const Message& message() const;
  /// The copied metadata of a detached message, else nullptr (the Message has it).
  [[nodiscard]] const DetachedMeta* detached() const noexcept { return detached_ ? &*detached_ : nullptr; }
  [[nodiscard]] bool released() const noexcept { return !message_.valid() && !detached_; }
  void release() noexcept;
  /// The NumPy array (made once, then cached): a read-only view of the slot, or the private
  /// writable copy of a detached message.
  pybind11::object array(pybind11::handle self);
  /// A new private, writable, C-contiguous copy of the payload.
  pybind11::object copy(pybind11::handle self);
  /// Copies the payload and metadata out and gives the slot back now: array() becomes a private
  /// writable array (Consumer(writable=True)).
  void detach(pybind11::handle self);
  pybind11::object dlpack(pybind11::handle self);

 private:
  Message message_;
  pybind11::object array_;
  std::optional<DetachedMeta> detached_;
};

void bind_message(pybind11::module_& mod);

}  // namespace framebus::python
