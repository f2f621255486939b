#pragma once
/// @file result_sink.hpp
/// Puts the results of several workers back in frame order, per stream, exactly once.
///
/// Workers finish out of order (several of them, batches of different sizes), a worker killed
/// mid-batch has its frames redelivered to another one (so a frame may be classified twice),
/// and a drop policy may discard frames that then never get a result. The sink emits, for each
/// stream, frame 0, 1, 2, ... in order: each frame once, either with its result or as a gap.
/// A missing frame is waited for at most `gap_timeout` (counted from the moment a later frame,
/// or the stream's end marker, showed that it is missing); finish() declares the rest.
///
/// Thread-compatible: one thread feeds a sink.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "framebus/channel/options.hpp"
#include "framebus/pipeline/latency_histogram.hpp"
#include "framebus/pipeline/result.hpp"

namespace framebus {

struct SinkOptions {
  /// How long a missing frame is waited for once a later frame of its stream has arrived.
  /// Raise it when batches take long (a frame is missing while its batch is being classified).
  Duration gap_timeout = std::chrono::seconds(10);
};

/// One frame, emitted in order: its result, or a gap (the frame never got one).
struct SinkEntry {
  std::uint32_t stream = 0;
  std::uint64_t frame = 0;
  bool gap = false;
  InferenceResult result;       ///< Valid when !gap.
  std::int64_t arrived_ns = 0;  ///< When the sink received the result (CLOCK_MONOTONIC), or declared the gap.
};

/// What the sink saw of one stream.
struct StreamTally {
  std::uint64_t emitted = 0;                 ///< Frames emitted with a result.
  std::uint64_t gaps = 0;                    ///< Frames emitted as gaps.
  std::uint64_t duplicates = 0;              ///< Further results for a frame already held or emitted (dropped).
  std::uint64_t late = 0;                    ///< Results that came after their frame was declared a gap (dropped).
  std::uint64_t redelivered = 0;             ///< Emitted results whose frame was redelivered after a death.
  std::optional<std::uint64_t> frame_count;  ///< From the end marker, once it arrived.
  std::uint64_t next = 0;                    ///< The next frame to emit.
  std::int64_t first_ns = 0;                 ///< Arrival of the first and the latest emitted result.
  std::int64_t last_ns = 0;
  LatencyHistogram latency;  ///< Publish-to-sink latency of the emitted results.
  [[nodiscard]] bool finished() const noexcept { return frame_count && next >= *frame_count; }
};

class ResultSink {
 public:
  using Emit = std::function<void(const SinkEntry&)>;

  ResultSink(SinkOptions options, Emit emit);

  /// Takes one record from a worker (a classified frame or an end marker); emits whatever it
  /// makes contiguous. `now_ns` is the arrival time (CLOCK_MONOTONIC).
  void add(InferenceResult result, std::int64_t now_ns);
  /// Declares the frames waited for longer than gap_timeout to be gaps, and emits what follows.
  void tick(std::int64_t now_ns);
  /// Declares every frame still missing to be a gap: up to the frame count where the end marker
  /// came, up to the highest frame seen otherwise. For the end of a run.
  void finish(std::int64_t now_ns);

  /// True when every stream seen has sent its end marker and has been emitted entirely.
  [[nodiscard]] bool all_finished() const noexcept;
  [[nodiscard]] const std::map<std::uint32_t, StreamTally>& streams() const noexcept { return tallies_; }

 private:
  struct Pending {
    InferenceResult result;
    std::int64_t arrived_ns = 0;
  };
  struct StreamState {
    std::map<std::uint64_t, Pending> pending;                   // results ahead of `next`, by frame
    std::vector<std::pair<std::uint64_t, std::uint64_t>> gaps;  // [first, last] ranges declared, increasing
    std::int64_t end_arrived_ns = -1;                           // when the end marker came
  };

  void emit_ready(std::uint32_t stream);
  void declare_gaps(std::uint32_t stream, std::uint64_t end, std::int64_t now_ns);
  [[nodiscard]] bool was_gap(const StreamState& state, std::uint64_t frame) const noexcept;
  /// Since when the next frame of the stream is known to be missing; -1 when it is not.
  [[nodiscard]] std::int64_t missing_since(const StreamTally& tally, const StreamState& state) const noexcept;

  SinkOptions options_;
  Emit emit_;
  std::map<std::uint32_t, StreamTally> tallies_;
  std::map<std::uint32_t, StreamState> states_;
};

}  // namespace framebus
