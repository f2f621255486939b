#pragma once
// One process's membership in a channel and every operation on the shared state. Producer and
// Consumer are thin handles over this class.
//
// Concurrency contract: all shared state is changed under the channel lock, a futex word holding
// the owner's participant id, held through a Locked guard (lock() or lock_always()) whose end
// releases it and runs the wakes gathered under it. A waiter that sleeps on the lock checks every kLivenessCheckNs
// whether the owner is still alive; if it died, the waiter takes the lock over and runs repair(),
// which recovers the dead process's slots and rebuilds the derived structures from the slot table.
// A live owner that does not let go (stopped by SIGSTOP or a debugger) cannot be taken over, but
// every wait that has a deadline gives up at it. The code is split by concern: channel_lock.cpp,
// channel_join.cpp (membership), channel_groups.cpp (group lifetime, dead letters),
// channel_state.cpp (slots, publish, take) and channel_repair.cpp (recovery).
// Sleeping for messages or room uses separate futex words, bumped only when someone sleeps, so an
// uncontended publish or receive makes no system call.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "channel/layout.hpp"
#include "channel/segment.hpp"
#include "common/clock.hpp"
#include "framebus/error.hpp"
#include "framebus/units.hpp"

namespace framebus {
// The public types this header names, declared only: the channel core does not depend on the
// handles' headers (consumer.hpp and producer.hpp include it, through their .cpp files).
struct ProducerOptions;
struct ConsumerOptions;
struct MessageMeta;
enum class Policy : std::uint32_t;
enum class EndReason : std::uint32_t;
}  // namespace framebus

namespace framebus::detail {

/// What acquire() gives when the drop policies discard the message (the Loan writes to scratch).
inline constexpr std::uint32_t kDiscardSlot = 0xFFFFFFFFU;

/// What a consumer's take() returned: a message (its slot), the end of the channel (`ended` is
/// its reason), or neither (the timeout passed).
struct Taken {
  std::optional<std::uint32_t> slot;
  bool redelivered = false;
  EndReason ended{};  // EndReason::none
};

/// Messages a closing producer discarded because its linger ran out, per group.
struct LingerDiscards {
  std::vector<std::pair<std::string, std::uint64_t>> by_group;  // "" = no group had joined yet
  std::uint64_t total = 0;
};

class Channel {
 public:
  /// Creates or joins `name` as a producer (reclaiming it first if every participant is dead).
  static Result<Channel> join_producer(std::string_view name, const ProducerOptions& options);
  /// Joins `name` as a consumer of options.group, waiting up to options.wait for it to appear,
  /// or for a live producer when the channel was left by dead ones.
  /// `stop` cancels that wait (ErrorCode::interrupted).
  static Result<Channel> join_consumer(std::string_view name, const ConsumerOptions& options,
                                       std::stop_token stop = {});
  /// Removes group `group` of channel `name` with its queue (framebus rm --group).
  static Result<std::uint64_t> remove_group(std::string_view name, std::string_view group);

  Channel() = default;
  Channel(Channel&&) noexcept = default;
  Channel& operator=(Channel&&) noexcept = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel() = default;

  // Producer side.
  /// A free slot for `bytes`, or kDiscardSlot when the drop policies discard the message.
  /// `force_block` waits for room whatever the policies say (end-of-stream markers). `stop`
  /// cancels the wait (ErrorCode::interrupted).
  Result<std::uint32_t> acquire(std::uint64_t bytes, Duration timeout, bool force_block, std::stop_token stop = {});
  /// Writes the slot's metadata (`meta`, a payload of `payload_size` bytes) and makes the loaned
  /// slot visible to every group: the one writer of a slot's metadata.
  Result<void> publish(std::uint32_t slot, const MessageMeta& meta, std::uint64_t payload_size);
  /// Returns an unpublished loan.
  void give_back(std::uint32_t slot) noexcept;
  /// Counts a message that no group received because the policies dropped it.
  void count_discarded(std::uint32_t stream) noexcept;
  /// Waits, at most `linger`, until no message of this producer is queued for a group without a
  /// live member (or for the lobby); then discards those, counted per group and returned, and
  /// retires the producer in the same critical section (so no death slips in between).
  Result<LingerDiscards> close_producer(Duration linger);
  /// Stops being a producer: the channel ends for consumers when no producer remains.
  void retire_producer() noexcept;

  // Consumer side.
  /// The next message of this consumer's group; `stop` cancels the wait (ErrorCode::interrupted).
  Result<Taken> take(Duration timeout, std::stop_token stop = {});
  /// The consumer is done with `slot`.
  void release(std::uint32_t slot) noexcept;

  /// Leaves the channel: returns loans, releases held slots, removes the channel if last.
  void leave() noexcept;

  /// Thread-safe: wakes every wait of this handle and makes it, and every later wait, fail with
  /// ErrorCode::closed. It requests the stop of the handle's own stop_source, so it wakes waits
  /// exactly as a call's stop_token does (see sleep_unlocked).
  void cancel() noexcept;
  [[nodiscard]] bool cancelled() const noexcept;

  /// True if this handle may be used by the calling process (not an inherited copy after fork).
  [[nodiscard]] bool usable() const noexcept;
  [[nodiscard]] Error unusable_error() const;
  [[nodiscard]] const Segment& segment() const noexcept { return seg_; }
  [[nodiscard]] const std::string& name() const noexcept { return seg_.name(); }
  [[nodiscard]] const std::string& group_name() const noexcept { return group_name_; }
  [[nodiscard]] std::uint16_t id() const noexcept { return id_; }

  /// Futexes to wake once the lock is released.
  class Wakes;
  /// The channel lock, held: its end (the guard's scope, or unlock()) releases the lock and runs
  /// the wakes gathered meanwhile, so that no path forgets either.
  class Locked;

 private:
  // Lock (channel_lock.cpp).
  /// Takes the channel lock, giving up at `deadline` (ErrorCode::timeout naming the holder) or
  /// when cancelled (ErrorCode::closed) or stopped (ErrorCode::interrupted). A dead holder's lock
  /// is taken over and repaired.
  Result<Locked> lock(const Deadline& deadline, const std::stop_token& stop = {});
  /// For paths that must finish (release, leave): waits however long a live holder keeps it.
  Locked lock_always() noexcept;
  Result<void> lock_impl(const Deadline& deadline, bool interruptible, const std::stop_token& stop);
  /// The error a wait ends with when the handle was cancelled or the call's `stop` requested.
  [[nodiscard]] Result<void> check_stop(const std::stop_token& stop, const char* doing) const;
  void unlock(const Wakes& wakes) noexcept;
  [[nodiscard]] Error lock_timeout_error(std::uint32_t word, const char* doing) const;
  /// Under the lock: registers as a sleeper on `word`, unlocks, and sleeps until the word changes,
  /// the handle is cancelled, `stop` is requested or one liveness slice passes.
  Result<void> sleep_unlocked(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& sleepers,
                              const Deadline& deadline, Locked& locked, const char* doing, const std::stop_token& stop);

  // Membership (channel_join.cpp).
  Result<void> claim_entry(bool entry_zero_preclaimed);
  void release_entry() noexcept;
  [[nodiscard]] std::uint32_t other_claimed_entries() const noexcept;
  /// Under the lock: other registered producers and consumers (entries that have a role).
  [[nodiscard]] std::uint32_t other_members() const noexcept;
  /// Under the lock, right after joining: recovers what the dead process whose entry this
  /// process inherited (the table was full) left behind.
  void recover_inherited(Wakes& wakes);
  [[nodiscard]] std::uint64_t leftover_messages() const noexcept;
  /// A handle on `seg` with a participant entry claimed (entry 0 when the creator preclaimed it).
  static Result<Channel> attach(Segment seg, bool entry_zero_preclaimed);
  /// Right after locking a channel being joined: recovers what an inherited entry's dead owner
  /// left, reaps the dead; false when the file was retired meanwhile (then the lock is released,
  /// the entry freed, and the joiner starts again).
  bool settle_join(Locked& locked);
  /// Gives up a join in progress (under the lock): unlocks, frees the entry, passes `error` on.
  Error abandon_join(Locked& locked, Error error);

  // Groups (channel_groups.cpp).
  Result<std::uint32_t> find_or_create_group(std::string_view group, Policy policy, std::uint32_t max_deliveries,
                                             bool declared, Wakes& wakes);
  /// Removes group `g`: its messages are released (counted), its slot freed for a new group.
  std::uint64_t remove_group_at(std::uint32_t g, Wakes& wakes);
  /// A consumer of group `g` let go of `slot` without finishing it (it died): the message goes
  /// back to the group in publish order, flagged, or to the dead letters past max_deliveries.
  void return_to_group(std::uint32_t slot, std::uint32_t g, Wakes& wakes);
  /// Removes groups that were not declared and whose members all died longer than the grace ago.
  void expire_orphaned_groups(Wakes& wakes);

  // Death and repair (channel_repair.cpp).
  /// Under the lock: recovers every registered participant whose process is gone.
  bool reap(Wakes& wakes);
  /// Under the lock, after taking it over from a dead owner: reap + rebuild derived state.
  void repair(Wakes& wakes);
  void rebuild_derived(Wakes& wakes);
  /// Takes the lock (if it can before `deadline`) and recovers dead participants.
  void reap_now(const Deadline& deadline);
  /// reap_now(), at most every kBusyReapIntervalNs.
  void maybe_reap(const Deadline& deadline);
  void recover_participant(std::uint32_t index, std::uint64_t identity, Wakes& wakes);
  /// Recovers what participant `index` (dead) held; its entry is not touched.
  void recover_state_of(std::uint32_t index, Wakes& wakes);

  // Slots (channel_state.cpp).
  Result<std::uint32_t> try_take_free();
  bool evict_oldest_droppable(Wakes& wakes);
  bool evict_for_block_group(Wakes& wakes);
  /// Discards a queued message for every group still waiting for it (counted) and frees its slot.
  void drop_queued(std::uint32_t slot, Wakes& wakes);
  /// Gives up `slot` for group `g` (its consumers died taking it max_deliveries times).
  void dead_letter(std::uint32_t slot, std::uint32_t g, Wakes& wakes);
  [[nodiscard]] bool block_group_waits() const noexcept;
  [[nodiscard]] bool room_is_coming() const noexcept;
  void count_drop(GroupCtl& group, std::uint32_t stream) noexcept;
  void retire_locked(Wakes& wakes) noexcept;
  void free_slot(std::uint32_t slot, Wakes& wakes) noexcept;

  Result<void> check_live() const;
  [[nodiscard]] Error corrupt(const std::string& what) const;

  Segment seg_;
  std::uint16_t id_ = kNobody;  // 1-based participant id
  std::uint32_t role_ = kRoleNone;
  std::uint32_t group_ = 0;  // consumers: group index
  std::string group_name_;
  std::uint64_t fork_generation_ = 0;
  std::int64_t last_reap_ns_ = 0;
  bool inherited_ = false;  // our entry was a dead process's (the table was full): recover it
  // Stopped by cancel() from any thread. Its state lives on the heap, so the Channel stays movable.
  std::stop_source cancel_;
};

}  // namespace framebus::detail
