// The channel lock and the sleeps built on it. A participant may die inside the lock (the next
// waiter takes it over and repairs), or be stopped inside it (SIGSTOP, a debugger): then nobody
// can take it, but every call that has a deadline still returns by it, with an error that names
// the process holding the lock and for how long.
//
// Cancelling a wait: every wait takes a std::stop_token, and the handle has a stop_source of its
// own (cancel()). A stop_callback registered for the length of a sleep bumps the futex word the
// sleeper waits on and wakes it, so the sleeper returns at once: the one mechanism for a call's
// token, a handle's cancel(), Python's close() from another thread and Ctrl-C.

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <climits>
#include <optional>
#include <stop_token>
#include <string>

#include "channel/channel_internal.hpp"
#include "channel/liveness.hpp"
#include "framebus/channel/consumer.hpp"
#include "framebus/channel/options.hpp"
#include "framebus/message.hpp"

namespace framebus::detail {

namespace {

// A short spin before sleeping: in a busy pipeline the next message usually arrives within
// microseconds, and a futex sleep plus wake-up costs tens of microseconds. The spin yields the
// CPU between checks, so when the peer shares this CPU (2-core machines do that often) it runs at
// once instead of waiting for our time slice to end.
constexpr std::int64_t kSpinNs = 20'000;

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

// Wakes every sleeper on `word` now and makes it look changed to one about to sleep on it.
void bump_and_wake(std::atomic<std::uint32_t>& word) noexcept {
  word.fetch_add(1, std::memory_order_release);
  futex_wake(word, INT_MAX);
}

std::int64_t coarse_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Result<Channel::Locked> Channel::lock(const Deadline& deadline, const std::stop_token& stop) {
  if (auto ok = lock_impl(deadline, true, stop); !ok) return tl::unexpected(ok.error());
  return Locked(*this);
}

Channel::Locked Channel::lock_always() noexcept {
  // Without a deadline or a stop, only a live holder that never lets go keeps us waiting.
  (void)lock_impl(Deadline(forever), false, {});
  return Locked(*this);
}

Result<void> Channel::check_stop(const std::stop_token& stop, const char* doing) const {
  if (cancelled())
    return make_error(ErrorCode::closed,
                      std::string("the handle was cancelled while ") + doing + " channel '" + name() + "'");
  if (stop.stop_requested())
    return make_error(ErrorCode::interrupted, std::string("cancelled while ") + doing + " channel '" + name() + "'");
  return {};
}

Result<void> Channel::lock_impl(const Deadline& deadline, bool interruptible, const std::stop_token& stop) {
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
  // The lock word holds the owner's id and cannot be bumped: a stop only wakes its sleepers. One
  // that is about to sleep when the stop comes sleeps at most one slice (the lock is held for
  // microseconds unless its holder is stopped, and then the slice is the liveness check anyway).
  auto wake_lock = [&h]() noexcept { futex_wake(h.lock, INT_MAX); };
  std::optional<std::stop_callback<decltype(wake_lock)>> on_cancel;
  std::optional<std::stop_callback<decltype(wake_lock)>> on_stop;
  if (interruptible) {
    on_cancel.emplace(cancel_.get_token(), wake_lock);
    on_stop.emplace(stop, wake_lock);
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
      if (auto ok = check_stop(stop, "taking the lock of"); !ok) return ok;
      if (deadline.expired()) return tl::unexpected(lock_timeout_error(v, "taking the lock of"));
    }
    if ((v & kLockContended) == 0) {
      if (!h.lock.compare_exchange_weak(v, v | kLockContended, std::memory_order_relaxed)) continue;
      v |= kLockContended;
    }
    const std::int64_t slice =
        interruptible ? std::max<std::int64_t>(deadline.remaining_ns(kLivenessCheckNs), 1) : kLivenessCheckNs;
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

void Channel::unlock(const Wakes& wakes) noexcept {
  Header& h = seg_.header();
  const std::uint32_t prev = h.lock.exchange(0, std::memory_order_release);
  if ((prev & kLockContended) != 0) futex_wake(h.lock, 1);
  wakes.run(seg_);
}

void Channel::cancel() noexcept { cancel_.request_stop(); }

bool Channel::cancelled() const noexcept { return cancel_.stop_requested(); }

Result<void> Channel::sleep_unlocked(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& sleepers,
                                     const Deadline& deadline, Locked& locked, const char* doing,
                                     const std::stop_token& stop) {
  const std::uint32_t seen = word.load(std::memory_order_relaxed);
  sleepers.fetch_add(1, std::memory_order_relaxed);
  locked.unlock();
  WaitResult r = WaitResult::woken;
  {
    // Registered before the check below: a stop from now on bumps `word`, so the sleep either
    // does not start or ends at once. Other sleepers on the word wake too, find nothing new and
    // sleep again: harmless, and cancelling is rare. Both callbacks are gone (and done running)
    // when the block ends.
    auto wake = [&word]() noexcept { bump_and_wake(word); };
    const std::stop_callback on_cancel(cancel_.get_token(), wake);
    const std::stop_callback on_stop(stop, wake);
    if (!cancelled() && !stop.stop_requested()) r = wait_for_change(word, seen, deadline);
  }
  sleepers.fetch_sub(1, std::memory_order_relaxed);
  if (auto ok = check_stop(stop, doing); !ok) return ok;
  if (r == WaitResult::timed_out) reap_now(deadline);
  return {};
}

}  // namespace framebus::detail
