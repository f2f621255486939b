#pragma once
// Waiting for a channel file to appear in (or be replaced in) /dev/shm without polling: inotify
// on the directory and an eventfd that a stop request writes to, in one poll().

#include <cstdint>
#include <functional>
#include <stop_token>

namespace framebus::detail {

/// Waits, at most `timeout_ns`, for an inotify event of `events` (IN_CREATE, ...) under /dev/shm,
/// or for `stop`. `ready` is checked after the watch is in place and before sleeping, so an
/// event between the caller's last look and the sleep is never missed. The caller looks again.
/// One inotify instance per thread is kept for the thread's life: creating one is cheap but
/// closing one waits for an RCU grace period (milliseconds), too slow for a loop of waits.
void wait_for_shm_event(std::uint32_t events, std::int64_t timeout_ns, const std::stop_token& stop,
                        const std::function<bool()>& ready);

}  // namespace framebus::detail
