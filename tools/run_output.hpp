#pragma once
// What `framebus run` shows and writes from a run's statistics: the live display, the JSON line
// of each ordered result, and the final summary and report.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framebus/pipeline/result_sink.hpp"
#include "framebus/pipeline/run_stats.hpp"

namespace framebus::cli {

/// The live display on stderr: redrawn in place on a terminal, a block per interval in a log.
class ProgressDisplay {
 public:
  ProgressDisplay();
  void show(const RunSnapshot& stats);

 private:
  bool tty_;
  std::size_t drawn_ = 0;
};

/// Writes the snapshot's JSON (to_json, run_stats.hpp) to `path`; false when it cannot.
bool write_report(const std::string& path, const RunSnapshot& stats);

/// Per-stream and per-worker summary tables, as printed at the end of a run.
void print_summary(std::ostream& out, const RunSnapshot& stats);
/// The live display: a few lines, redrawn in place on a terminal.
std::vector<std::string> progress_lines(const RunSnapshot& stats);
/// One JSON line per emitted frame (--out): stream, frame, pts_us, top, latency_ms, worker, and
/// redelivered / failed when true; a gap is stream, frame and gap (docs/pipeline.md).
std::string result_line(const SinkEntry& entry);

// The same from the counters and the sink (at `now_ns` until the run has ended).
void print_summary(std::ostream& out, const RunStats& stats, const ResultSink& sink);
std::vector<std::string> progress_lines(const RunStats& stats, const ResultSink& sink, std::int64_t now_ns,
                                        std::uint32_t workers_running, std::uint32_t workers_wanted);

}  // namespace framebus::cli
