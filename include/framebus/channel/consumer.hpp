#pragma once
/// @file consumer.hpp
/// The receiving side of a channel.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>

#include "framebus/channel/options.hpp"
#include "framebus/error.hpp"
#include "framebus/message.hpp"

namespace framebus {

namespace detail {
class ConsumerCore;
}

/// A received message: a read-only view into shared memory. Copies share the slot; the slot goes
/// back to the channel when the last copy is released or destroyed. A Message keeps the mapping
/// alive, also after its Consumer is closed.
class Message {
 public:
  Message() = default;
  Message(const Message& other) noexcept;
  Message& operator=(const Message& other) noexcept;
  Message(Message&& other) noexcept;
  Message& operator=(Message&& other) noexcept;
  ~Message();

  [[nodiscard]] bool valid() const noexcept { return core_ != nullptr; }
  /// Payload bytes (read-only mapping: writing to them faults).
  [[nodiscard]] std::span<const std::byte> data() const noexcept { return {data_, size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  [[nodiscard]] std::uint32_t stream() const noexcept;
  [[nodiscard]] std::uint64_t frame() const noexcept;
  [[nodiscard]] std::int64_t pts() const noexcept;
  /// CLOCK_MONOTONIC nanoseconds at which the producer published the message.
  [[nodiscard]] std::int64_t publish_time_ns() const noexcept;
  [[nodiscard]] std::uint32_t flags() const noexcept;
  [[nodiscard]] bool is_end_of_stream() const noexcept { return (flags() & flags::kEndOfStream) != 0; }
  /// True when a consumer of this group died holding this message and it was delivered again.
  [[nodiscard]] bool redelivered() const noexcept { return redelivered_; }
  [[nodiscard]] PayloadKind kind() const noexcept;
  [[nodiscard]] const ImageDesc& image() const noexcept;
  [[nodiscard]] const TensorDesc& tensor() const noexcept;
  [[nodiscard]] std::span<const std::byte> user_meta() const noexcept;
  /// Index of the slot that holds this message (diagnostics).
  [[nodiscard]] std::uint32_t slot() const noexcept { return slot_; }

  /// Gives this reference up now (the slot is returned once no other copy refers to it).
  void release() noexcept;

 private:
  friend class detail::ConsumerCore;
  friend class Consumer;
  std::shared_ptr<detail::ConsumerCore> core_;
  const void* meta_ = nullptr;  // detail::SlotMeta in the read-only mapping
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::uint32_t slot_ = 0;
  bool redelivered_ = false;
};

/// The former name of Message (one name for the concept in C++, Python and the CLI); it goes in
/// the next release.
using Sample [[deprecated("framebus::Sample is now framebus::Message")]] = Message;

/// Why a channel ended.
enum class EndReason : std::uint32_t {
  none = 0,           ///< Not ended.
  closed = 1,         ///< Every producer closed normally.
  producer_died = 2,  ///< The last producer died without closing.
};
std::string_view to_string(EndReason reason) noexcept;

/// Outcome of Consumer::receive: a message, a timeout, or the end of the channel.
struct Received {
  enum class Status { message, timeout, end_of_channel };
  Status status = Status::timeout;
  EndReason reason = EndReason::none;  ///< Set when status == end_of_channel.
  Message message;                     ///< Set when status == message.

  [[nodiscard]] bool has_message() const noexcept { return status == Status::message; }
  explicit operator bool() const noexcept { return has_message(); }
};

/// Receives messages of one group of a channel. Not usable in a forked child.
///
/// Threads: one thread at a time per Consumer. A receive() (or iteration step) that starts while
/// another thread is inside the same Consumer fails with ErrorCode::invalid_argument ("used from
/// two threads at once") instead of racing. Only cancel() may be called from any thread at any
/// time, and Messages may be copied and released from any thread; the Consumer must still be
/// closed or destroyed by one thread once no other thread uses it (a close() that finds another
/// thread inside cancels that call and waits for it to return before closing).
class Consumer {
 public:
  /// Joins channel `name` as a member of options.group (created if new).
  /// With options.wait > 0, waits for the channel to be created (or, when every producer of it
  /// died, for a live one); a stop requested on `stop` ends that wait at once with
  /// ErrorCode::interrupted.
  static Result<Consumer> open(std::string_view name, const ConsumerOptions& options = {}, std::stop_token stop = {});

  Consumer() = default;
  Consumer(Consumer&&) noexcept;
  Consumer& operator=(Consumer&&) noexcept;
  ~Consumer();

  /// Takes the group's next message, waiting (without spinning) up to `timeout`; a stop
  /// requested on `stop` ends the wait at once with ErrorCode::interrupted.
  Result<Received> receive(Duration timeout = forever, std::stop_token stop = {});
  /// Never waits.
  Result<Received> try_receive() { return receive(Duration::zero()); }
  /// Stops receiving. Outstanding Messages stay valid; the registration ends with the last one.
  void close() noexcept;
  /// Thread-safe: wakes a receive() that waits in another thread and makes it, and every later
  /// receive(), fail with ErrorCode::closed. The handle must still be closed or destroyed by one
  /// thread, once no other thread uses it.
  void cancel() noexcept;

  [[nodiscard]] const std::string& name() const noexcept;
  [[nodiscard]] const std::string& group() const noexcept;
  [[nodiscard]] bool is_open() const noexcept { return core_ != nullptr; }
  /// The reason of the end of channel, once receive() has reported it.
  [[nodiscard]] EndReason end_reason() const noexcept;
  /// Messages receive() refused as corrupt (a payload size beyond the slot, or a description
  /// larger than the payload or overflowing): each was released and skipped, and receive()
  /// returned ErrorCode::corrupt for it; the next receive() takes the next message.
  [[nodiscard]] std::uint64_t corrupt_messages() const noexcept { return corrupt_messages_; }

  /// Iteration receives until end of channel (or an error, see last_error()).
  class Iterator;
  Iterator begin();
  static Iterator end() noexcept;
  [[nodiscard]] const std::optional<Error>& last_error() const noexcept { return last_error_; }

 private:
  explicit Consumer(std::shared_ptr<detail::ConsumerCore> core);
  std::shared_ptr<detail::ConsumerCore> core_;
  std::optional<Error> last_error_;
  EndReason end_reason_ = EndReason::none;
  std::atomic<bool> busy_{false};  // a thread is inside a call (see "Threads" above)
  std::uint64_t corrupt_messages_ = 0;
};

class Consumer::Iterator {
 public:
  using value_type = Message;
  using difference_type = std::ptrdiff_t;
  Iterator() = default;
  Message& operator*() noexcept { return current_; }
  Message* operator->() noexcept { return &current_; }
  Iterator& operator++();
  bool operator==(const Iterator& other) const noexcept { return consumer_ == other.consumer_; }

 private:
  friend class Consumer;
  explicit Iterator(Consumer* consumer) : consumer_(consumer) { ++*this; }
  Consumer* consumer_ = nullptr;
  Message current_;
};

}  // namespace framebus
