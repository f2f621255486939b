#pragma once
// System (b): ffmpeg's own decode and BGR24 conversion, one ffmpeg process per input, all
// running at once, the output thrown away by the null muxer.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "run_result.hpp"

namespace framebus::bench {

/// Runs `ffmpeg -threads T -i INPUT -pix_fmt bgr24 -f null -` for every input concurrently and
/// times from the first spawn to the last exit. `total_frames` is what the inputs hold
/// (the generator made them, so the count is known without parsing ffmpeg's output).
RunResult run_ffmpeg(const std::vector<std::string>& inputs, int threads, std::uint64_t total_frames,
                     std::chrono::seconds timeout);

}  // namespace framebus::bench
