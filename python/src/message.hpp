#pragma once
// The Python view of a received message: metadata properties, a zero-copy read-only NumPy array,
// the buffer protocol and DLPack. Every view holds its own Message reference, so the slot goes back
// to the channel only when the message and every array or tensor made from it are gone.

#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "framebus/channel/consumer.hpp"

namespace framebus::python {

/// What the properties of a Python message read, copied out of the slot once when the message
/// is wrapped: they read the same before and after the message makes itself private.
struct MessageFacts {
  MessageMeta meta;  ///< `user` stays empty: user_meta() reads the slot or the private copy.
  std::int64_t publish_ns = 0;
  bool redelivered = false;
  std::size_t nbytes = 0;

  static MessageFacts of(const Message& message);
};

class PyMessage {
 public:
  explicit PyMessage(Message message) : message_(std::move(message)), facts_(MessageFacts::of(message_)) {}

  /// The slot's Message; raises Closed after release() and for a private message.
  [[nodiscard]] const Message& message() const;
  /// The message's metadata; raises Closed after release().
  [[nodiscard]] const MessageFacts& facts() const;
  /// The user metadata blob, from the slot or from the private copy.
  [[nodiscard]] pybind11::bytes user_meta() const;
  /// True for a private message: its payload and user metadata were copied and its slot given back.
  [[nodiscard]] bool detached() const noexcept { return detached_user_.has_value(); }
  [[nodiscard]] bool released() const noexcept { return !message_.valid() && !detached(); }
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
  MessageFacts facts_;
  pybind11::object array_;
  std::optional<std::string> detached_user_;  ///< Set once the message is private.
};

void bind_message(pybind11::module_& mod);

}  // namespace framebus::python
