#include "framebus/pipeline/stop_on_signals.hpp"

#include <pthread.h>

namespace framebus {

StopOnSignals::StopOnSignals() {
  sigset_t inherited;
  pthread_sigmask(SIG_SETMASK, nullptr, &inherited);
  sigemptyset(&watched_);
  sigaddset(&watched_, SIGTERM);
  // A Pipeline's children start with SIGINT blocked: a terminal's Ctrl-C is for the supervisor.
  if (sigismember(&inherited, SIGINT) == 0) sigaddset(&watched_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &watched_, &previous_mask_);
  thread_ = std::thread([this] {
    for (;;) {
      int sig = 0;
      if (sigwait(&watched_, &sig) != 0) continue;
      if (closing_.load(std::memory_order_acquire)) return;
      int none = 0;
      signal_.compare_exchange_strong(none, sig, std::memory_order_acq_rel);
      source_.request_stop();
    }
  });
}

StopOnSignals::~StopOnSignals() {
  closing_.store(true, std::memory_order_release);
  // Directed at the waiting thread, which has the signal blocked: sigwait() takes it.
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

}  // namespace framebus
