#include "channel/futex.hpp"

#include <cerrno>
#include <climits>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace framebus::detail {

namespace {
long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t value, const timespec* timeout) noexcept {
  // Shared (not FUTEX_PRIVATE) because the word is mapped by several processes.
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, value, timeout, nullptr, 0);
}
}  // namespace

WaitResult futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::int64_t timeout_ns) noexcept {
  timespec ts{};
  const timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
    tsp = &ts;
  }
  if (futex(word, FUTEX_WAIT, expected, tsp) == 0) return WaitResult::woken;
  switch (errno) {
    case ETIMEDOUT:
      return WaitResult::timed_out;
    case EINTR:
      return WaitResult::interrupted;
    default:
      return WaitResult::woken;  // EAGAIN: the value had already changed
  }
}

void futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
  futex(word, FUTEX_WAKE, static_cast<std::uint32_t>(count), nullptr);
}

}  // namespace framebus::detail
