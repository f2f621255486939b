#pragma once
// One process's membership in a channel and every operation on the shared state. Producer and
// Consumer are thin handles over this class.
//
// Concurrency contract: all shared state is changed under the channel lock, a futex word holding
// the owner's participant id. A waiter that sleeps on the lock checks every kLockCheckNs whether
// the owner is still alive; if it died, the waiter takes the lock over and runs repair(), which
// recovers the dead process's slots and rebuilds the derived structures from the slot table.
// Sleeping for messages or room uses separate futex words, bumped only when someone sleeps, so an
// uncontended publish or receive makes no system call.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "channel/layout.hpp"
#include "channel/segment.hpp"
#include "common/clock.hpp"
#include "framebus/consumer.hpp"
#include "framebus/error.hpp"
#include "framebus/message.hpp"
#include "framebus/options.hpp"

namespace framebus::detail {

/// Called when a wait is interrupted by a signal and after each liveness slice of a wait (every
/// 100 ms at most); returning true makes the wait fail with
/// ErrorCode::interrupted (the Python binding uses it so that Ctrl-C works).
using InterruptCheck = bool (*)();
void set_interrupt_check(InterruptCheck check) noexcept;

inline constexpr std::uint32_t kDiscardSlot = 0xFFFFFFFFU;

/// What a consumer's take() returned.
struct Taken {
  Received::Status status = Received::Status::timeout;
  EndReason reason = EndReason::none;
  std::uint32_t slot = 0;
  bool redelivered = false;
};

class Channel {
 public:
  /// Creates or joins `name` as a producer (reclaiming it first if every participant is dead).
  static Result<Channel> join_producer(std::string_view name, const ProducerOptions& options);
  /// Joins `name` as a consumer of options.group, waiting up to options.wait for it to appear.
  static Result<Channel> join_consumer(std::string_view name, const ConsumerOptions& options);

  Channel() = default;
  Channel(Channel&&) noexcept = default;
  Channel& operator=(Channel&&) noexcept = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel() = default;

  // Producer side.
  /// A free slot for `bytes`, or kDiscardSlot when the drop policies discard the message.
  /// `force_block` waits for room whatever the policies say (end-of-stream markers).
  Result<std::uint32_t> acquire(std::uint64_t bytes, Duration timeout, bool force_block);
  /// Makes a loaned slot whose SlotMeta is written visible to every group.
  Result<void> publish(std::uint32_t slot);
  /// Returns an unpublished loan.
  void give_back(std::uint32_t slot) noexcept;
  /// Counts a message that no group received because the policies dropped it.
  void count_discarded(std::uint32_t stream) noexcept;
  /// Waits until no message of this producer is queued, at most `linger`; then discards the rest.
  Result<void> linger(Duration linger);
  /// Stops being a producer: the channel ends for consumers when no producer remains.
  void retire_producer() noexcept;

  // Consumer side.
  Result<Taken> take(Duration timeout);
  /// The consumer is done with `slot`.
  void release(std::uint32_t slot) noexcept;

  /// Leaves the channel: returns loans, releases held slots, removes the channel if last.
  void leave() noexcept;

  /// True if this handle may be used by the calling process (not an inherited copy after fork).
  [[nodiscard]] bool usable() const noexcept;
  [[nodiscard]] Error unusable_error() const;
  [[nodiscard]] const Segment& segment() const noexcept { return seg_; }
  [[nodiscard]] const std::string& name() const noexcept { return seg_.name(); }
  [[nodiscard]] const std::string& group_name() const noexcept { return group_name_; }
  [[nodiscard]] std::uint16_t id() const noexcept { return id_; }

  /// Futexes to wake once the lock is released.
  class Wakes;

 private:
  Result<void> lock();
  void unlock(Wakes& wakes) noexcept;
  void unlock() noexcept;

  Result<void> claim_entry(bool entry_zero_precclaimed);
  void release_entry() noexcept;
  /// Under the lock: recovers every registered participant whose process is gone.
  bool reap(Wakes& wakes);
  /// Under the lock, after taking it over from a dead owner: reap + rebuild derived state.
  void repair(Wakes& wakes);
  void rebuild_derived();
  /// Takes the lock and recovers dead participants.
  void reap_now();
  /// reap_now(), at most every kBusyReapIntervalNs.
  void maybe_reap();
  Result<void> sleep_unlocked(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& sleepers,
                              const Deadline& deadline, Wakes& wakes, const char* doing);
  [[nodiscard]] std::uint32_t other_claimed_entries() const noexcept;
  /// Under the lock: other registered producers and consumers (entries that have a role).
  [[nodiscard]] std::uint32_t other_members() const noexcept;
  Result<std::uint32_t> find_or_create_group(std::string_view group, Policy policy, Wakes& wakes);

  Result<std::uint32_t> try_take_free();
  bool evict_oldest_droppable(Wakes& wakes);
  [[nodiscard]] bool room_is_coming() const noexcept;
  void count_drop(GroupCtl& group, std::uint32_t stream) noexcept;
  void free_slot(std::uint32_t slot, Wakes& wakes) noexcept;
  void recover_participant(std::uint32_t index, Wakes& wakes);

  Result<void> check_live() const;
  [[nodiscard]] Error corrupt(const std::string& what) const;

  Segment seg_;
  std::uint16_t id_ = kNobody;       // 1-based participant id
  std::uint32_t role_ = kRoleNone;
  std::uint32_t group_ = 0;          // consumers: group index
  std::string group_name_;
  std::uint64_t fork_generation_ = 0;
  std::int64_t last_reap_ns_ = 0;
};

}  // namespace framebus::detail
