#include "ffmpeg_run.hpp"

#include "process.hpp"

namespace framebus::bench {

RunResult run_ffmpeg(const std::vector<std::string>& inputs, int threads, std::uint64_t total_frames,
                     std::chrono::seconds timeout) {
  std::vector<std::vector<std::string>> commands;
  for (const auto& input : inputs) {
    // -threads before -i applies to the decoder, the same knob as StreamOptions::threads.
    commands.push_back({"ffmpeg", "-v", "error", "-nostdin", "-threads", std::to_string(threads), "-i", input,
                        "-pix_fmt", "bgr24", "-f", "null", "-"});
  }
  RunResult result;
  const auto start = std::chrono::steady_clock::now();
  const auto outcome = run_all(commands, timeout);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.ok = outcome.ok;
  result.error = outcome.error;
  result.frames = outcome.ok ? total_frames : 0;
  return result;
}

}  // namespace framebus::bench
