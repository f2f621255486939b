#pragma once
// What `framebus run` counts while it runs: the decoder's reports, the sink's tallies and the
// workers' records. The progress display and the final summary and report read it.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "framebus/pipeline/result.hpp"
#include "framebus/pipeline/result_sink.hpp"

namespace framebus::cli {

struct DecoderStream {
  std::string source;
  std::string state = "opening";
  std::string message;
  double native_fps = 0.0;
  std::uint64_t published = 0;
  std::uint64_t dropped = 0;  // by the producer-side drop policy
  std::uint64_t decode_errors = 0;
};

struct WorkerTally {
  std::uint64_t frames = 0;
  std::uint64_t batches = 0;
  // The batch the last record came from, as (worker pid, the worker's batch counter): a worker
  // publishes a batch's records one after the other, so a new pair is a new batch. Only the last
  // is kept, so that a run of weeks does not grow with every batch.
  std::pair<std::uint32_t, std::uint64_t> last_batch{0, 0};
  std::int64_t busy_ns = 0;
  std::uint32_t restarts = 0;
  std::uint32_t pid = 0;
  bool running = false;
  std::string last_exit;
};

struct RunStats {
  std::string topology;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
  std::map<std::uint32_t, DecoderStream> decoder;       // by stream id
  std::map<std::uint32_t, std::uint64_t> channel_drops;  // by stream, dropped by the group's queue
  std::uint32_t queued = 0;                              // frames waiting for a worker
  std::map<std::uint32_t, WorkerTally> workers;
  std::vector<std::string> errors;                       // what went wrong, for the summary

  /// Counts a worker's record (every one, duplicates included: that work was done).
  void count(const InferenceResult& r);
};

/// Per-stream and per-worker summary tables, as printed at the end of a run.
void print_summary(std::ostream& out, const RunStats& stats, const ResultSink& sink);
/// The same as JSON (--report).
nlohmann::ordered_json report_json(const RunStats& stats, const ResultSink& sink);
/// One JSON line per emitted frame (--out): stream, frame, pts_us, top, latency_ms, worker, and
/// redelivered / failed when true; a gap is stream, frame and gap (docs/pipeline.md).
std::string result_line(const SinkEntry& entry);
/// The live display: a few lines, redrawn in place on a terminal.
std::vector<std::string> progress_lines(const RunStats& stats, const ResultSink& sink, std::int64_t now_ns,
                                        std::uint32_t workers_running, std::uint32_t workers_wanted);

}  // namespace framebus::cli
