#pragma once
// Child processes for decode_bench: the ffmpeg CLI, started with posix_spawnp and waited for with
// a deadline, so that a stuck ffmpeg fails the run with a message instead of hanging it.

#include <chrono>
#include <string>
#include <vector>

namespace framebus::bench {

/// How a group of child processes ended.
struct SpawnOutcome {
  bool ok = false;
  std::string error;  ///< Empty when ok: which command failed or timed out, and how.
};

/// Starts every command at once (argv[0] is looked up in PATH; stdin is /dev/null) and waits
/// until all have exited or `timeout` has passed. On timeout, or when the stop flag is raised,
/// the survivors are killed and reaped, so no child outlives the call.
SpawnOutcome run_all(const std::vector<std::vector<std::string>>& commands, std::chrono::seconds timeout);

/// Raised by SIGINT/SIGTERM (see install_stop_handlers): every wait loop gives up at once.
bool stop_requested() noexcept;
void install_stop_handlers();

}  // namespace framebus::bench
