#pragma once
// Process identity and death detection, from the kernel's own records (/proc), never from a
// heartbeat: a process is the pair (pid, start time), so a reused pid is a different process, and a
// zombie that its parent has not reaped is already dead.

#include <sys/types.h>
#include <cstdint>

namespace framebus::detail {

/// This process's identity word (pid << 32 | start time low bits). Correct after fork.
std::uint64_t self_identity() noexcept;
/// Counts forks of this process image; a handle opened before a fork refuses to work in the child.
std::uint64_t fork_generation() noexcept;
/// True while the process named by `identity` runs (not exited, not a zombie, not a reused pid).
bool identity_alive(std::uint64_t identity) noexcept;
inline pid_t identity_pid(std::uint64_t identity) noexcept { return static_cast<pid_t>(identity >> 32); }

}  // namespace framebus::detail
