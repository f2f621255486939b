#pragma once
// The parts of a run that every topology shares: the sink that orders results, the JSON-lines
// output, the counters, the progress display and the final summary and report.

#include <cstdio>
#include <fstream>
#include <memory>
#include <ostream>
#include <string>

#include "framebus/pipeline/result_sink.hpp"
#include "run/run_options.hpp"
#include "run/run_stats.hpp"

namespace framebus::cli {

class Session {
 public:
  /// Opens the output (--out, "-" is stdout). Fails with a message when it cannot.
  static std::unique_ptr<Session> open(const RunOptions& options, std::string& error);

  /// A worker's record: counted, then ordered by the sink (which writes what it emits).
  void take(InferenceResult record, std::int64_t now_ns);
  /// Gap timeouts; and the progress display, once per interval.
  void tick(std::int64_t now_ns, std::uint32_t workers_running, std::uint32_t workers_wanted);
  /// Declares what is still missing, then prints the summary and writes the report.
  /// Returns false when the report could not be written.
  bool finish(std::int64_t now_ns);

  RunStats& stats() noexcept { return stats_; }
  const ResultSink& sink() const noexcept { return sink_; }
  /// Where people read: stderr when the results go to stdout.
  std::ostream& console() noexcept;

 private:
  Session(const RunOptions& options, std::unique_ptr<std::ofstream> file);
  void write(const SinkEntry& entry);

  const RunOptions& options_;
  std::unique_ptr<std::ofstream> file_;
  std::ostream* out_;
  RunStats stats_;
  ResultSink sink_;
  std::int64_t next_progress_ns_ = 0;
  std::size_t drawn_ = 0;
  bool tty_ = false;
};

}  // namespace framebus::cli
