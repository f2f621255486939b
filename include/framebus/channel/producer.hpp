#pragma once
/// @file producer.hpp
/// The sending side of a channel.

#include <atomic>
#include <cstddef>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "framebus/channel/options.hpp"
#include "framebus/error.hpp"
#include "framebus/message.hpp"

namespace framebus {

namespace detail {
class ProducerCore;
}

/// A writable region inside a channel slot, owned by one producer until published or dropped.
/// Dropping an unpublished Loan returns its slot. Move-only.
class Loan {
 public:
  Loan() = default;
  Loan(Loan&& other) noexcept;
  Loan& operator=(Loan&& other) noexcept;
  Loan(const Loan&) = delete;
  Loan& operator=(const Loan&) = delete;
  ~Loan();

  /// The writable payload bytes, `size()` long, in shared memory (64-byte aligned).
  [[nodiscard]] std::span<std::byte> data() const noexcept { return {data_, size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// False for an empty (moved-from or published) loan.
  [[nodiscard]] bool valid() const noexcept { return core_ != nullptr; }
  /// True when every group's drop policy already discarded this message: writing is harmless,
  /// publishing only counts the drop.
  [[nodiscard]] bool discarded() const noexcept;

 private:
  friend class Producer;
  friend class detail::ProducerCore;
  std::shared_ptr<detail::ProducerCore> core_;
  std::uint32_t slot_ = 0;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

/// What Producer::close() could not deliver: messages that no one could take before the linger
/// ran out (queued for groups without a live member, or for the lobby), discarded and counted.
struct CloseReport {
  struct Group {
    std::string name;  ///< "" for messages published before any group had joined
    std::uint64_t discarded = 0;
  };
  std::uint64_t discarded = 0;  ///< Sum over `groups`.
  std::vector<Group> groups;
};

/// Publishes messages into a channel. Not usable in a forked child (each process opens its own
/// handle).
///
/// Threads: one thread at a time per Producer. A call that starts while another thread is inside
/// the same Producer (loan, publish, send, end_stream, close) fails with
/// ErrorCode::invalid_argument ("used from two threads at once") and leaves the handle alone,
/// instead of racing. Only cancel() may be called from any thread at any time; the Producer must
/// still be closed or destroyed by one thread once no other thread uses it. A Loan is used by
/// the thread that uses its Producer.
class Producer {
 public:
  /// Creates the channel `name`, or joins it if it exists with the same slot geometry.
  /// A channel whose participants are all dead is reclaimed and created anew.
  static Result<Producer> create(std::string_view name, const ProducerOptions& options = {});

  Producer() = default;
  Producer(Producer&&) noexcept;
  Producer& operator=(Producer&&) noexcept;
  ~Producer();

  /// Borrows a slot for a payload of `bytes` bytes. Zero copy: write into Loan::data().
  /// Blocks per the groups' policies when the channel is full, at most block_timeout; a stop
  /// requested on `stop` ends the wait at once with ErrorCode::interrupted (from any thread: the
  /// one way to cancel a wait, see docs/design.md "Cancelling a wait").
  Result<Loan> loan(std::size_t bytes, std::stop_token stop = {});
  /// Hands a loan to the consumers without copying.
  Result<void> publish(Loan&& loan, const MessageMeta& meta);
  /// Copies `payload` into a slot and publishes it (waiting for room as loan() does).
  Result<void> send(std::span<const std::byte> payload, const MessageMeta& meta, std::stop_token stop = {});
  /// Delivers an end-of-stream marker for `stream` to every group.
  /// The marker's frame number is `frame_count`: the number of frames the stream numbered
  /// (0 .. frame_count-1), so that a reader can tell which frames it never saw (dropped ones).
  /// It waits for room whatever the policies say (a marker is never dropped), at most
  /// block_timeout (or `timeout`), until `stop`.
  Result<void> end_stream(std::uint32_t stream, std::uint64_t frame_count = 0, std::stop_token stop = {});
  Result<void> end_stream(std::uint32_t stream, std::uint64_t frame_count, Duration timeout, std::stop_token stop = {});
  /// Retires this producer. Its queued messages stay deliverable to every group that has a live
  /// member (close() does not wait for those); for groups without one, it waits up to `linger`
  /// and then discards what is left, counted per group and returned. When the last producer has
  /// closed, consumers see end of channel once drained.
  Result<CloseReport> close();
  /// Thread-safe: wakes every call of this handle that waits (loan, send, end_stream waiting for
  /// room; close's linger) and makes it, and every later waiting call, fail with
  /// ErrorCode::closed (the handle's own stop, the mechanism of a call's `stop`). The handle must still be closed or
  /// destroyed by one thread, once no other thread uses it.
  void cancel() noexcept;

  [[nodiscard]] const std::string& name() const noexcept;
  [[nodiscard]] bool is_open() const noexcept { return core_ != nullptr; }
  /// Slot geometry of the channel (which may have been created by another producer).
  [[nodiscard]] std::uint32_t slot_count() const noexcept;
  [[nodiscard]] std::uint64_t slot_size() const noexcept;

 private:
  explicit Producer(std::shared_ptr<detail::ProducerCore> core);
  std::shared_ptr<detail::ProducerCore> core_;
  std::atomic<bool> busy_{false};  // a thread is inside a call (see "Threads" above)
};

}  // namespace framebus
