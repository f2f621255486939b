#pragma once
// System (a): framebus::MultiDecoder decoding every source into one channel, drained by a
// Consumer on another thread of the same process.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "run_result.hpp"

namespace framebus::bench {

/// Decodes `sources` (one stream each, `threads` decoder threads per stream, BGR24) and counts
/// what the consumer receives until it has seen every stream's end-of-stream marker. The clock
/// runs from the first add_stream to the last marker. `expected_frames` is checked, so a run
/// that lost frames fails instead of reporting a rate. The channel is removed before returning.
RunResult run_framebus(const std::vector<std::string>& sources, int threads, std::uint64_t expected_frames,
                       std::chrono::seconds timeout);

}  // namespace framebus::bench
