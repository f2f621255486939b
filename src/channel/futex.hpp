#pragma once
// Process-shared futex wait/wake on 32-bit words in shared memory.

#include <atomic>
#include <cstdint>

namespace framebus::detail {

enum class WaitResult { woken, timed_out, interrupted };

/// Sleeps while `*word == expected`, at most `timeout_ns` (negative: no limit).
WaitResult futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::int64_t timeout_ns) noexcept;
/// Wakes up to `count` sleepers on `word`.
void futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept;

}  // namespace framebus::detail
