#pragma once
// The shared-memory layout of a channel. Everything here lives in /dev/shm/framebus.NAME and is
// shared by processes that do not trust each other's liveness: every field is either written under
// the channel lock or is an atomic, and every index read back is bounds-checked before use.
//
//   +--------------------+  offset 0                                       (mapped read-write)
//   | Header             |  geometry (immutable after creation), lock, channel state
//   | ParticipantCtl[P]  |  who is registered: identity word (pid + start time), role, group
//   | GroupCtl[G]        |  name, policy, queue cursor, counters, wake futex
//   | SlotCtl[S]         |  per-slot state: free / loaned / published, pending groups, holders
//   | free stack[S]      |  indices of free slots (derived: rebuilt from SlotCtl on repair)
//   | queues[G+1][S]     |  per-group FIFO of slot indices, last one is the lobby (derived)
//   +--------------------+  control_bytes (page aligned)                   (consumers: read-only)
//   | slot 0: SlotMeta | payload (slot_size, page aligned)                 |
//   | slot 1: ...                                                          |
//   +----------------------------------------------------------------------+  total_bytes
//
// The slot table is the ground truth. Free stack and queues are derived from it and rebuilt when
// the lock is taken over from a dead owner, so a process killed in the middle of any operation
// leaves a state that repair() can make whole without losing a published message.

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "framebus/message.hpp"

namespace framebus::detail {

inline constexpr std::uint64_t kMagic = 0x3153554245524D46ULL;  // "FMREBUS1" little-endian
inline constexpr std::uint32_t kMaxGroups = 16;
inline constexpr std::uint32_t kMaxParticipants = 64;
inline constexpr std::uint32_t kMaxSlots = 4096;
inline constexpr std::uint64_t kMaxSlotSize = 1ULL << 34;  // 16 GiB: guards size arithmetic
inline constexpr std::uint32_t kStreamDropEntries = 32;
inline constexpr std::uint64_t kPageSize = 4096;
inline constexpr std::uint64_t kSlotMetaBytes = kPageSize;  // keeps every payload page aligned
inline constexpr std::uint32_t kLobby = kMaxGroups;         // queue index of the lobby
inline constexpr std::uint16_t kNobody = 0;                 // participant ids are 1-based

// Lock word: owner participant id in the low bits; this bit says someone sleeps on it.
inline constexpr std::uint32_t kLockContended = 1U << 31;
inline constexpr std::uint32_t kLockOwnerMask = 0xFFFFU;

enum ChannelStateValue : std::uint32_t { kChannelLive = 1, kChannelRetired = 2 };
enum SlotStateValue : std::uint32_t { kSlotFree = 0, kSlotLoaned = 1, kSlotPublished = 2 };
enum RoleValue : std::uint32_t { kRoleNone = 0, kRoleProducer = 1, kRoleConsumer = 2, kRoleAdmin = 3 };

struct alignas(64) Header {
  // Immutable after creation (validated on every open).
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t header_bytes;
  std::uint64_t total_bytes;
  std::uint64_t control_bytes;
  std::uint32_t slot_count;
  std::uint32_t max_groups;
  std::uint32_t max_participants;
  std::uint32_t default_policy;
  std::uint64_t slot_size;
  std::uint64_t slot_stride;
  std::uint64_t participants_offset;
  std::uint64_t groups_offset;
  std::uint64_t slots_offset;
  std::uint64_t free_stack_offset;
  std::uint64_t queues_offset;
  std::uint32_t creator_uid;
  std::uint32_t mode;
  std::int64_t created_ns;
  std::int64_t group_grace_ns;  // how long a group whose members all died waits for a new one

  // Synchronisation.
  alignas(64) std::atomic<std::uint32_t> lock;
  std::atomic<std::uint32_t> state;
  std::atomic<std::uint32_t> repairs;  // times the lock was taken over from a dead owner
  // When the current owner took the lock (coarse monotonic clock): `framebus ls` shows how long a
  // participant has held it, so a stopped process (SIGSTOP, a debugger) inside it is visible.
  std::atomic<std::int64_t> lock_since_ns;

  // Under the lock.
  alignas(64) std::uint32_t free_count;
  std::uint32_t participants;
  std::uint32_t producers;
  std::uint32_t producers_ever;
  std::uint32_t end_reason;  // EndReason
  std::uint32_t lobby_head;
  std::uint32_t lobby_count;
  std::uint32_t active_groups;  // bit per GroupCtl with active != 0 (kept in step with them)
  std::uint64_t next_seq;
  std::uint64_t published;
  std::uint64_t discarded;       // messages no group received (drop policies with no room)
  std::uint64_t reclaimed;       // messages left by dead processes in the channel this one replaced
  std::uint32_t groups_removed;  // groups removed when their last member left, or by remove_group
  std::uint32_t reserved0;
  std::uint64_t group_released;  // messages that removed groups never took

  // Producers waiting for a free slot, and closing producers waiting for their messages to be taken.
  alignas(64) std::atomic<std::uint32_t> space_wake;
  std::atomic<std::uint32_t> space_waiters;
};

struct alignas(64) ParticipantCtl {
  // 0 = free. Otherwise pid << 32 | low 32 bits of the process start time: claimed by CAS, so a
  // process that dies right after claiming is still identifiable, and a reused pid does not match.
  std::atomic<std::uint64_t> identity;
  std::uint32_t role;
  std::uint32_t group;  // consumers: group index
  std::int64_t joined_ns;
};

struct StreamDropCtl {
  std::uint32_t stream;
  std::uint32_t used;
  std::uint64_t dropped;
};

/// A message a group gave up on after max_deliveries deliveries that each killed their consumer.
struct DeadLetterCtl {
  std::uint32_t stream;
  std::uint32_t deliveries;
  std::uint64_t frame;
};
inline constexpr std::uint32_t kDeadLetterEntries = 16;  // the most recent ones are kept

struct alignas(64) GroupCtl {
  std::uint32_t active;
  std::uint32_t policy;
  std::uint32_t declared;        // declared at creation: persists without members
  std::uint32_t max_deliveries;  // 0 = unlimited
  std::int64_t orphaned_ns;      // when its last member died (0: it has members, or left normally)
  char name[48];
  std::uint32_t queue_head;
  std::uint32_t queue_count;
  std::uint32_t members;
  std::uint32_t held;
  std::uint64_t delivered;
  std::uint64_t dropped;
  std::uint64_t redelivered;
  std::uint64_t other_stream_drops;  // streams that did not fit into `drops`
  std::uint64_t expired;             // dropped because a closing producer's linger ran out
  std::uint64_t dead_letters;        // given up after max_deliveries (the last ones in `dead`)
  StreamDropCtl drops[kStreamDropEntries];
  DeadLetterCtl dead[kDeadLetterEntries];
  alignas(64) std::atomic<std::uint32_t> wake;
  std::atomic<std::uint32_t> waiters;
};

struct alignas(64) SlotCtl {
  std::uint32_t state;
  std::uint16_t owner;        // producer that loaned / published it
  std::uint16_t in_lobby;     // published before any group existed
  std::uint32_t pending;      // groups that have not finished with it (bit per group)
  std::uint32_t redelivered;  // groups to which it goes (or went) again after a consumer died
  std::uint32_t stream;
  std::uint32_t flags;
  std::uint64_t seq;                    // publish order
  std::uint64_t frame;                  // the message's frame number, kept here for dead-letter records
  std::uint16_t holder[kMaxGroups];     // per group: consumer holding it, kNobody if queued
  std::uint8_t deliveries[kMaxGroups];  // per group: times taken (a death each time but the last)
};

// Per-slot message description, written by the producer before publishing, read-only to consumers.
struct alignas(64) SlotMeta {
  std::uint64_t payload_size;
  std::uint64_t frame;
  std::int64_t pts;
  std::int64_t publish_ns;
  std::uint32_t stream;
  std::uint32_t flags;
  std::uint32_t kind;
  std::uint32_t user_size;
  ImageDesc image;
  TensorDesc tensor;
  std::byte user[kUserMetaCapacity];
};

/// One read of a field that another process may change at any moment. A bounds check must test
/// the value it then uses: a plain field may legally be read again by the compiler between the
/// check and the use, and a scribbler could change it in between.
template <typename T>
T read_once(const T& field) noexcept {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}

static_assert(sizeof(SlotMeta) <= kSlotMetaBytes);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(kMaxParticipants < kLockOwnerMask);
static_assert(kMaxGroups <= 32, "group masks are 32-bit");

}  // namespace framebus::detail
