#include "common/clock.hpp"

#include <time.h>

#include <algorithm>

namespace framebus::detail {

std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t elapsed_ns(std::int64_t now, std::int64_t since) noexcept {
  std::int64_t out = 0;
  if (since >= now || __builtin_sub_overflow(now, since, &out)) return since >= now ? 0 : INT64_MAX;
  return out;
}

Deadline::Deadline(Duration timeout) noexcept {
  if (timeout == forever || timeout.count() > (std::int64_t{1} << 62)) {
    at_ns_ = -1;
  } else {
    at_ns_ = monotonic_ns() + std::max<std::int64_t>(0, timeout.count());
  }
}

bool Deadline::expired() const noexcept { return at_ns_ >= 0 && monotonic_ns() >= at_ns_; }

std::int64_t Deadline::remaining_ns(std::int64_t cap) const noexcept {
  if (at_ns_ < 0) return cap;
  return std::clamp<std::int64_t>(at_ns_ - monotonic_ns(), 0, cap);
}

}  // namespace framebus::detail
