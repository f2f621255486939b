#pragma once
/// @file stop_on_signals.hpp
/// SIGINT and SIGTERM as a std::stop_token, for processes whose waits take one (workers).

#include <signal.h>

#include <atomic>
#include <stop_token>
#include <thread>

namespace framebus {

/// Turns SIGTERM (and SIGINT, unless the process started with it blocked, as the children of a
/// Pipeline do) into a stop request. Construct it before starting other threads: it blocks the
/// signals in the calling thread, so that threads started afterwards inherit the mask, and waits
/// for them in a thread of its own with sigwait(), which then requests the stop. A signal handler
/// could only set a flag for waits to poll; a stop request wakes every wait that holds the token
/// at once (see docs/design.md "Cancelling a wait").
class StopOnSignals {
 public:
  StopOnSignals();
  // Neither copied nor moved (a deleted move deletes the copies too): the waiting thread holds
  // this object's address.
  StopOnSignals(StopOnSignals&&) = delete;
  /// Ends the waiting thread and restores the calling thread's signal mask.
  ~StopOnSignals();

  [[nodiscard]] std::stop_token token() const noexcept { return source_.get_token(); }
  /// The signal that requested the stop (0: none yet).
  [[nodiscard]] int signal() const noexcept { return signal_.load(std::memory_order_acquire); }

 private:
  std::stop_source source_;
  sigset_t watched_{};
  sigset_t previous_mask_{};
  std::atomic<int> signal_{0};
  std::atomic<bool> closing_{false};
  std::thread thread_;
};

}  // namespace framebus
