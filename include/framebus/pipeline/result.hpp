#pragma once
/// @file result.hpp
/// What an inference worker reports for one frame, and its encoding on a results channel.
///
/// Workers publish one record per classified frame (and one per end-of-stream marker they take)
/// into a results channel; a ResultSink puts them back in frame order. The encoding is a fixed
/// little-endian layout with a magic and a version, checked on decoding: a results channel is
/// shared memory that another process wrote.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "framebus/classify/prediction.hpp"
#include "framebus/error.hpp"

namespace framebus {

/// The largest top-k a record carries.
inline constexpr std::size_t kMaxTopK = 16;

/// One worker's report on one frame (or on the end of a stream).
struct InferenceResult {
  enum class Kind : std::uint32_t {
    frame = 0,          ///< A classified frame.
    end_of_stream = 1,  ///< The stream's end marker: `frame` holds the stream's frame count.
  };
  Kind kind = Kind::frame;
  std::uint32_t stream = 0;
  std::uint64_t frame = 0;
  std::int64_t pts_us = 0;
  /// CLOCK_MONOTONIC nanoseconds: when the decoder published the frame, when the worker took it,
  /// and when the inference of its batch began and ended.
  std::int64_t published_ns = 0;
  std::int64_t received_ns = 0;
  std::int64_t infer_start_ns = 0;
  std::int64_t infer_end_ns = 0;
  std::uint32_t worker = 0;      ///< The worker's number (stable across its restarts).
  std::uint32_t batch_size = 0;  ///< Frames in the batch this frame was classified in.
  std::uint64_t batch = 0;       ///< The worker's batch counter (unique per worker process).
  std::uint32_t worker_pid = 0;  ///< Which incarnation of the worker produced the record.
  bool redelivered = false;      ///< The frame came back after a worker died holding it.
  std::vector<Prediction> top;   ///< Best first, at most kMaxTopK.
};

/// Bytes of an encoded record (fixed, whatever the top-k).
std::size_t encoded_result_size() noexcept;

/// Writes `result` into `out` (at least encoded_result_size() bytes). invalid_argument when
/// `out` is too small or the record has more than kMaxTopK predictions.
Result<std::size_t> encode_result(const InferenceResult& result, std::span<std::byte> out);

/// Reads a record written by encode_result. corrupt when the bytes are not one (size, magic,
/// version, kind or top-k count out of range).
Result<InferenceResult> decode_result(std::span<const std::byte> bytes);

}  // namespace framebus
