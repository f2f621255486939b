#pragma once
// The wire format of the `queue` baseline: a reader process writes each frame, copied, down a
// pipe, as a multiprocessing queue pickles it; the consumer copies it out again.

#include <cstdint>

namespace framebus::pipeline_detail {

inline constexpr std::uint32_t kFramePipeMagic = 0x50465246;  // "FRFP"

struct FramePipeHeader {
  std::uint32_t magic = kFramePipeMagic;
  std::uint32_t stream = 0;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint32_t end_of_stream = 0;  // 1: no frame follows; `frame` is the stream's frame count
  std::uint32_t reserved = 0;
  std::uint64_t frame = 0;
  std::int64_t pts_us = 0;
  std::int64_t published_ns = 0;
  std::uint64_t bytes = 0;  // BGR24, width * height * 3
};

}  // namespace framebus::pipeline_detail
