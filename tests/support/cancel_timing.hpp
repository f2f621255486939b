#pragma once
// Measuring how long a blocking call takes to return once its wait is cancelled: the call runs
// in a thread; once that thread sleeps in the kernel (its state in /proc is 'S'), the clock
// starts and the stop is requested; the clock stops when the call has returned.

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace framebus::testing {

/// The scheduler state of thread `tid` of this process ('R', 'S', ...), or 0 if it is gone.
inline char thread_state(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  const auto close = line.rfind(')');  // the command name may hold spaces and parentheses
  return close == std::string::npos || close + 2 >= line.size() ? 0 : line[close + 2];
}

/// Runs `call` in a thread, waits (at most 10 s) until it sleeps, runs `cancel`, and returns the
/// time from `cancel` to the call's return; `check` sees the call's outcome (in the test thread).
/// A call that never sleeps, or never returns within 10 s, gives 10 s.
template <typename Outcome>
std::chrono::nanoseconds time_to_cancel(const std::function<Outcome()>& call, const std::function<void()>& cancel,
                                        const std::function<void(const Outcome&)>& check) {
  std::promise<pid_t> started;
  std::promise<Outcome> returned;
  auto tid_future = started.get_future();
  auto outcome = returned.get_future();
  std::thread runner([&] {
    started.set_value(static_cast<pid_t>(::syscall(SYS_gettid)));
    returned.set_value(call());
  });
  const pid_t tid = tid_future.get();
  // Sleeping twice in a row, a little apart: a thread that only yielded for a moment would not.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int sleeping = 0;
  while (sleeping < 2 && std::chrono::steady_clock::now() < give_up) {
    sleeping = thread_state(tid) == 'S' ? sleeping + 1 : 0;
    if (outcome.wait_for(std::chrono::milliseconds(2)) == std::future_status::ready) break;
  }
  const auto start = std::chrono::steady_clock::now();
  cancel();
  const bool done = outcome.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  const auto took = std::chrono::steady_clock::now() - start;
  if (!done) cancel();  // still stuck: a second chance, so that the join below ends
  runner.join();
  check(outcome.get());
  return done && sleeping >= 2 ? std::chrono::duration_cast<std::chrono::nanoseconds>(took) : std::chrono::seconds(10);
}

/// The median of `n` measurements.
inline std::chrono::nanoseconds median_of(int n, const std::function<std::chrono::nanoseconds()>& measure) {
  std::vector<std::chrono::nanoseconds> all;
  for (int i = 0; i < n; ++i) all.push_back(measure());
  std::sort(all.begin(), all.end());
  return all[all.size() / 2];
}

}  // namespace framebus::testing
