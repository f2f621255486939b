#pragma once
// The parts of a run that every topology shares: the sink that orders results, the counters,
// the progress calls, and the hand-over of results and statistics to other threads.

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>

#include "framebus/pipeline/pipeline_options.hpp"
#include "framebus/pipeline/result_sink.hpp"
#include "framebus/pipeline/run_stats.hpp"

namespace framebus::pipeline_detail {

class Session {
 public:
  explicit Session(const PipelineOptions& options);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// The counters, locked while the handle lives (stats() of another thread reads them).
  class Locked {
   public:
    Locked(std::recursive_mutex& m, RunStats& s) : lock_(m), stats_(&s) {}
    RunStats* operator->() const noexcept { return stats_; }
    RunStats& operator*() const noexcept { return *stats_; }

   private:
    std::unique_lock<std::recursive_mutex> lock_;
    RunStats* stats_;
  };
  Locked stats() { return Locked(mutex_, stats_); }

  /// A worker's record: counted, then ordered by the sink (which hands on what it emits).
  void take(InferenceResult record, std::int64_t now_ns);
  /// Gap timeouts; and the progress call, once per interval.
  void tick(std::int64_t now_ns, std::uint32_t workers_running, std::uint32_t workers_wanted);
  /// Declares what is still missing and ends the results.
  void finish(std::int64_t now_ns);
  /// Ends the results without declaring anything (a run that could not start).
  void end_results();
  /// The statistics now.
  RunSnapshot snapshot(std::int64_t now_ns) const;
  /// For the person watching (PipelineOptions::on_message).
  void message(std::string_view text) const;
  /// The next collected result (see Pipeline::next_result).
  std::optional<SinkEntry> next_result(std::optional<Duration> timeout);

 private:
  void emit(const SinkEntry& entry);

  const PipelineOptions& options_;
  mutable std::recursive_mutex mutex_;
  std::condition_variable_any results_ready_;
  RunStats stats_;
  ResultSink sink_;
  std::deque<SinkEntry> results_;
  bool finished_ = false;
  std::uint32_t workers_running_ = 0;
  std::uint32_t workers_wanted_ = 0;
  std::int64_t next_progress_ns_ = 0;
};

}  // namespace framebus::pipeline_detail
