#pragma once
// The outcome of one measured run of one system, shared by the framebus and ffmpeg runners.

#include <cstdint>
#include <string>

namespace framebus::bench {

struct RunResult {
  bool ok = false;
  std::string error;         ///< Why the run failed; empty when ok.
  std::uint64_t frames = 0;  ///< Frames decoded and converted to BGR24, over all streams.
  double seconds = 0.0;      ///< Wall time of the run.

  [[nodiscard]] double fps() const noexcept { return seconds > 0.0 ? static_cast<double>(frames) / seconds : 0.0; }
};

}  // namespace framebus::bench
