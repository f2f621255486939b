#pragma once
/// @file run_stats.hpp
/// What a pipeline run counts (the decoder's reports, the workers' records, the sink's tallies),
/// and the typed snapshot of it that displays, reports and bindings read.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "framebus/pipeline/result.hpp"
#include "framebus/pipeline/result_sink.hpp"
#include "framebus/units.hpp"

namespace framebus {

/// One stream as the decoder reports it.
struct DecoderStream {
  std::string source;
  std::string state = "opening";  ///< The decoder's state name: opening, running, eof, error, ...
  std::string message;
  double native_fps = 0.0;
  std::uint64_t published = 0;
  std::uint64_t dropped = 0;  ///< By the producer-side drop policy.
  std::uint64_t decode_errors = 0;
};

/// A worker's process as the supervisor sees it.
struct WorkerProcess {
  std::uint32_t pid = 0;
  std::uint32_t restarts = 0;  ///< Counted on the first worker of a process.
  bool running = false;
  std::string last_exit;  ///< How the last process ended ("killed by SIGKILL", "in-process", ...).
};

/// One worker's work as its records show it.
struct WorkerTally {
  std::uint64_t frames = 0;
  std::uint64_t batches = 0;
  // The batch the last record came from, as (worker pid, the worker's batch counter): a worker
  // publishes a batch's records one after the other, so a new pair is a new batch. Only the last
  // is kept, so that a run of weeks does not grow with every batch.
  std::pair<std::uint32_t, std::uint64_t> last_batch{0, 0};
  std::int64_t busy_ns = 0;
  WorkerProcess process;
};

/// The counters of a run, kept by the thread that runs it.
struct RunStats {
  std::string topology;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
  std::map<std::uint32_t, DecoderStream> decoder;        ///< By stream id.
  std::map<std::uint32_t, std::uint64_t> channel_drops;  ///< By stream, dropped by the group's queue.
  std::uint32_t queued = 0;                              ///< Frames waiting for a worker.
  std::map<std::uint32_t, WorkerTally> workers;
  std::vector<std::string> errors;  ///< What went wrong.

  /// Counts a worker's record (every one, duplicates included: that work was done).
  void count(const InferenceResult& r);
};

/// One row of the per-stream table.
struct StreamRow {
  std::uint32_t stream = 0;
  std::string source;
  std::string state;
  std::string message;
  std::uint64_t frames = 0;  ///< Emitted in order (results and failed frames; not gaps).
  double fps = 0.0;
  double latency_p50_ms = 0.0;
  double latency_p99_ms = 0.0;
  std::uint64_t gaps = 0;
  std::uint64_t drops = 0;  ///< The decoder's and the workers' queue's together.
  std::uint64_t redelivered = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t late = 0;
  std::uint64_t decoded = 0;
  std::optional<std::uint64_t> frame_count;  ///< Once the stream's end is known.
};

/// One row of the per-worker table.
struct WorkerRow {
  std::uint32_t worker = 0;
  std::uint64_t frames = 0;
  std::uint64_t batches = 0;
  double busy_percent = 0.0;
  WorkerProcess process;
};

/// The statistics of a run at one moment.
struct RunSnapshot {
  std::string topology;
  Duration elapsed{};        ///< From the start to now, or to the end once finished.
  std::uint64_t frames = 0;  ///< Emitted, all streams.
  double fps = 0.0;
  /// Between the first and the last result: the rate once every process is up.
  double steady_fps = 0.0;
  std::uint32_t queued = 0;
  std::uint32_t workers_running = 0;
  std::uint32_t workers_wanted = 0;
  std::vector<StreamRow> streams;  ///< By stream id.
  std::vector<WorkerRow> workers;  ///< By worker id.
  std::vector<std::string> errors;
};

/// The snapshot of `stats` and `sink` at `now_ns` (ignored once stats.end_ns is set).
RunSnapshot snapshot(const RunStats& stats, const ResultSink& sink, std::int64_t now_ns,
                     std::uint32_t workers_running = 0, std::uint32_t workers_wanted = 0);

/// The snapshot as JSON (`indent` < 0: one line): `framebus run --report` writes it and Python's
/// Pipeline.stats() reads it, so the two can never differ. docs/pipeline.md lists the keys.
std::string to_json(const RunSnapshot& snapshot, int indent = -1);

}  // namespace framebus
