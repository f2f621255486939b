// The channel lock and the sleeps built on it. A participant may die inside the lock (the next
// waiter takes it over and repairs), or be stopped inside it (SIGSTOP, a debugger): then nobody
// can take it, but every call that has a deadline still returns by it, with an error that names
// the process holding the lock and for how long. cancel() wakes every wait of one handle.

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <climits>
#include <string>

#include "channel/channel_internal.hpp"
#include "channel/liveness.hpp"

namespace framebus::detail {

namespace {

// A short spin before sleeping: in a busy pipeline the next message usually arrives within
// microseconds, and a futex sleep plus wake-up costs tens of microseconds. The spin yields the
// CPU between checks, so when the peer shares this CPU (2-core machines do that often) it runs at
// once instead of waiting for our time slice to end.
constexpr std::int64_t kSpinNs = 20'000;

std::atomic<InterruptCheck> g_interrupt_check{nullptr};

// Waits until `word` differs from `seen`, the deadline passes, or a liveness-check slice ends.
WaitResult wait_for_change(std::atomic<std::uint32_t>& word, std::uint32_t seen, const Deadline& deadline) {
  const std::int64_t spin_until = monotonic_ns() + std::min(kSpinNs, deadline.remaining_ns(kSpinNs));
  do {
    for (int i = 0; i < 16; ++i) {
      if (word.load(std::memory_order_acquire) != seen) return WaitResult::woken;
      cpu_relax();
    }
    sched_yield();
  } while (monotonic_ns() < spin_until);
  const std::int64_t slice = deadline.remaining_ns(kLivenessCheckNs);
  if (slice <= 0) return WaitResult::timed_out;
  return futex_wait(word, seen, slice);
}

}  // namespace

bool interrupt_requested() {
  const InterruptCheck check = g_interrupt_check.load(std::memory_order_acquire);
  return check != nullptr && check();
}

void set_interrupt_check(InterruptCheck check) noexcept { g_interrupt_check.store(check, std::memory_order_release); }

std::int64_t coarse_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Result<void> Channel::lock(const Deadline& deadline) { return lock_impl(deadline, true); }

void Channel::lock_always() noexcept { (void)lock_impl(Deadline(forever), false); }

Result<void> Channel::lock_impl(const Deadline& deadline, bool interruptible) {
  Header& h = seg_.header();
  std::uint32_t expected = 0;
  if (h.lock.compare_exchange_strong(expected, id_, std::memory_order_acquire, std::memory_order_relaxed)) {
    h.lock_since_ns.store(coarse_ns(), std::memory_order_relaxed);
    return {};
  }
  for (int spin = 0; spin < 200; ++spin) {
    if (spin % 16 == 15) sched_yield();  // the owner may be waiting for this CPU
    cpu_relax();
    expected = 0;
    if (h.lock.load(std::memory_order_relaxed) == 0 &&
        h.lock.compare_exchange_weak(expected, id_, std::memory_order_acquire, std::memory_order_relaxed)) {
      h.lock_since_ns.store(coarse_ns(), std::memory_order_relaxed);
      return {};
    }
  }
  for (;;) {
    std::uint32_t v = h.lock.load(std::memory_order_relaxed);
    if (v == 0) {
      // Others may still sleep: keep the contended bit so that our unlock wakes them.
      if (h.lock.compare_exchange_weak(v, id_ | kLockContended, std::memory_order_acquire, std::memory_order_relaxed)) {
        h.lock_since_ns.store(coarse_ns(), std::memory_order_relaxed);
        return {};
      }
      continue;
    }
    if (interruptible) {
      if (cancelled()) return make_error(ErrorCode::closed, "the handle of channel '" + name() + "' was cancelled");
      if (deadline.expired()) return tl::unexpected(lock_timeout_error(v, "taking the lock of"));
    }
    if ((v & kLockContended) == 0) {
      if (!h.lock.compare_exchange_weak(v, v | kLockContended, std::memory_order_relaxed)) continue;
      v |= kLockContended;
    }
    const std::int64_t slice = interruptible ? std::max<std::int64_t>(deadline.remaining_ns(kLivenessCheckNs), 1)
                                             : kLivenessCheckNs;
    if (futex_wait(h.lock, v, slice) != WaitResult::timed_out) continue;
    // The owner has held the lock for a whole slice: is it still alive?
    const std::uint32_t owner = v & kLockOwnerMask;
    const bool owner_valid = owner >= 1 && owner <= kMaxParticipants;
    if (owner_valid && identity_alive(seg_.participant(owner - 1).identity.load(std::memory_order_acquire))) continue;
    if (h.lock.compare_exchange_strong(v, id_ | kLockContended, std::memory_order_acquire, std::memory_order_relaxed)) {
      h.lock_since_ns.store(coarse_ns(), std::memory_order_relaxed);
      h.repairs.fetch_add(1, std::memory_order_relaxed);
      Wakes wakes;
      repair(wakes);
      // The wakes run at our unlock; record them by re-notifying everyone, which is cheap and rare.
      notify_all_groups(seg_, wakes);
      notify_space(seg_, wakes);
      wakes.run(seg_);
      return {};
    }
  }
}

Error Channel::lock_timeout_error(std::uint32_t word, const char* doing) const {
  const std::uint32_t owner = word & kLockOwnerMask;
  std::string holder = "participant " + std::to_string(owner);
  if (owner >= 1 && owner <= kMaxParticipants) {
    const std::uint64_t identity = seg_.participant(owner - 1).identity.load(std::memory_order_acquire);
    holder = "process " + std::to_string(identity_pid(identity));
  }
  const std::int64_t held_ms =
      elapsed_ns(coarse_ns(), seg_.header().lock_since_ns.load(std::memory_order_relaxed)) / 1'000'000;
  return Error(ErrorCode::timeout, std::string("timed out ") + doing + " channel '" + name() + "': " + holder +
                                       " has held its lock for " + std::to_string(std::max<std::int64_t>(held_ms, 0)) +
                                       " ms (stopped or being debugged?)");
}

void Channel::unlock() noexcept {
  Header& h = seg_.header();
  const std::uint32_t prev = h.lock.exchange(0, std::memory_order_release);
  if ((prev & kLockContended) != 0) futex_wake(h.lock, 1);
}

void Channel::unlock(Wakes& wakes) noexcept {
  unlock();
  wakes.run(seg_);
}

void Channel::cancel() noexcept {
  if (!seg_.valid()) return;
  cancelled_->store(true, std::memory_order_release);
  // Bump and wake every word this handle may sleep on. Other sleepers on those words wake too,
  // find nothing new and sleep again: harmless, and cancelling is rare.
  Header& h = seg_.header();
  h.space_wake.fetch_add(1, std::memory_order_release);
  futex_wake(h.space_wake, INT_MAX);
  if (role_ == kRoleConsumer && group_ < kMaxGroups) {
    GroupCtl& g = seg_.group(group_);
    g.wake.fetch_add(1, std::memory_order_release);
    futex_wake(g.wake, INT_MAX);
  }
  futex_wake(h.lock, INT_MAX);
}

bool Channel::cancelled() const noexcept { return cancelled_ && cancelled_->load(std::memory_order_acquire); }

// Called with the lock held: registers as a sleeper on `word`, unlocks, and sleeps until the word
// changes or one liveness slice passes. An idle slice is the moment to notice dead participants
// (a producer that died, a consumer whose messages can go to others).
Result<void> Channel::sleep_unlocked(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& sleepers,
                                     const Deadline& deadline, Wakes& wakes, const char* doing) {
  const std::uint32_t seen = word.load(std::memory_order_relaxed);
  sleepers.fetch_add(1, std::memory_order_relaxed);
  unlock(wakes);
  WaitResult r = WaitResult::woken;
  if (!cancelled()) r = wait_for_change(word, seen, deadline);
  sleepers.fetch_sub(1, std::memory_order_relaxed);
  if (cancelled()) {
    return make_error(ErrorCode::closed, std::string("the handle was cancelled while ") + doing + " channel '" + name() + "'");
  }
  if (r != WaitResult::woken && interrupt_requested()) {
    return make_error(ErrorCode::interrupted, std::string("interrupted while ") + doing + " channel '" + name() + "'");
  }
  if (r == WaitResult::timed_out) reap_now(deadline);
  return {};
}

}  // namespace framebus::detail
