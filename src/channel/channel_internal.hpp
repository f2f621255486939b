#pragma once
// Small helpers shared by the files that implement Channel (lock, membership, groups, slots).
// Everything here runs under the channel lock unless it says otherwise.

#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "channel/channel_state.hpp"
#include "channel/futex.hpp"
#include "channel/layout.hpp"
#include "channel/queue.hpp"
#include "channel/segment.hpp"

namespace framebus::detail {

// How often a sleeper checks that the processes it depends on are alive. Bounds how long a death
// goes unnoticed (the contract is one second).
inline constexpr std::int64_t kLivenessCheckNs = 100'000'000;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

inline Policy policy_of(const GroupCtl& g) noexcept {
  return g.policy <= static_cast<std::uint32_t>(Policy::drop_newest) ? static_cast<Policy>(g.policy) : Policy::block;
}

inline Policy default_policy_of(const Header& h) noexcept {
  return h.default_policy <= static_cast<std::uint32_t>(Policy::drop_newest) ? static_cast<Policy>(h.default_policy)
                                                                             : Policy::block;
}

inline std::string group_name_of(const GroupCtl& g) { return std::string(g.name, strnlen(g.name, sizeof g.name)); }

// Futexes to wake once the lock is released, so that woken processes do not collide with it.
class Channel::Wakes {
 public:
  void space() noexcept { space_ = true; }
  void group(std::uint32_t index, bool all) noexcept { (all ? all_ : one_) |= 1U << index; }
  void run(const Segment& seg) const noexcept {
    if (space_) futex_wake(seg.header().space_wake, INT_MAX);
    for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
      if ((all_ >> g) & 1U) {
        futex_wake(seg.group(g).wake, INT_MAX);
      } else if ((one_ >> g) & 1U) {
        futex_wake(seg.group(g).wake, 1);
      }
    }
  }

 private:
  bool space_ = false;
  std::uint32_t one_ = 0;
  std::uint32_t all_ = 0;
};

class Channel::Locked {
 public:
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
  Locked(Locked&& other) noexcept : channel_(std::exchange(other.channel_, nullptr)), wakes_(other.wakes_) {}
  Locked& operator=(Locked&&) = delete;
  ~Locked() { unlock(); }

  [[nodiscard]] Wakes& wakes() noexcept { return wakes_; }
  /// Releases the lock now (before sleeping, or before work that needs no lock); the guard's end
  /// then does nothing.
  void unlock() noexcept {
    if (channel_ != nullptr) std::exchange(channel_, nullptr)->unlock(wakes_);
  }

 private:
  friend class Channel;
  explicit Locked(Channel& channel) noexcept : channel_(&channel) {}
  Channel* channel_;
  Wakes wakes_;
};

// Bumps a wake word only if someone sleeps on it; the sleeper registered under the lock, so it
// cannot miss the bump.
inline void notify_space(const Segment& seg, Channel::Wakes& wakes) {
  Header& h = seg.header();
  if (h.space_waiters.load(std::memory_order_relaxed) > 0) {
    h.space_wake.fetch_add(1, std::memory_order_release);
    wakes.space();
  }
}

inline void notify_group(const Segment& seg, std::uint32_t index, bool all, Channel::Wakes& wakes) {
  GroupCtl& g = seg.group(index);
  if (g.waiters.load(std::memory_order_relaxed) > 0) {
    g.wake.fetch_add(1, std::memory_order_release);
    wakes.group(index, all);
  }
}

inline void notify_all_groups(const Segment& seg, Channel::Wakes& wakes) {
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) notify_group(seg, g, true, wakes);
}

inline SlotQueue queue_of(const Segment& seg, std::uint32_t index) {
  if (index == kLobby) {
    Header& h = seg.header();
    return SlotQueue(seg.queue(kLobby), h.lobby_head, h.lobby_count, seg.slot_count());
  }
  GroupCtl& g = seg.group(index);
  return SlotQueue(seg.queue(index), g.queue_head, g.queue_count, seg.slot_count());
}

// The header's mask saves reading every group's cache line on each publish.
inline std::uint32_t active_group_mask(const Segment& seg) {
  return seg.header().active_groups & ((kMaxGroups >= 32 ? 0U : 1U << kMaxGroups) - 1U);
}

/// CLOCK_MONOTONIC_COARSE: a few nanoseconds through the vDSO, millisecond-grained; good enough to
/// tell how long the lock has been held, and cheap enough to stamp on every acquisition.
std::int64_t coarse_ns() noexcept;

}  // namespace framebus::detail
