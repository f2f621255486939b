#pragma once
// Monotonic time and deadlines used by every bounded wait.

#include <cstdint>

#include "framebus/channel/options.hpp"

namespace framebus::detail {

/// CLOCK_MONOTONIC in nanoseconds.
std::int64_t monotonic_ns() noexcept;

/// Nanoseconds from `since` to `now`, never negative and never overflowing: `since` is read
/// from shared memory, where a crashed or hostile writer may have left any value.
std::int64_t elapsed_ns(std::int64_t now, std::int64_t since) noexcept;

/// A point in monotonic time after which a wait gives up; `forever` never passes.
class Deadline {
 public:
  explicit Deadline(Duration timeout) noexcept;
  [[nodiscard]] bool expired() const noexcept;
  /// Nanoseconds left, clamped to [0, cap].
  [[nodiscard]] std::int64_t remaining_ns(std::int64_t cap) const noexcept;
  [[nodiscard]] bool is_forever() const noexcept { return at_ns_ < 0; }

 private:
  std::int64_t at_ns_;  // -1 = forever
};

}  // namespace framebus::detail
