#include "pipeline/session.hpp"

#include <iostream>
#include <string>

namespace framebus::pipeline_detail {

Session::Session(const PipelineOptions& options)
    : options_(options), sink_(SinkOptions{options.gap_timeout}, [this](const SinkEntry& e) { emit(e); }) {
  stats_.topology = std::string(to_string(options.topology));
  // Stream i is the i-th source in every topology: the display and the summary name it from
  // the start, before the decoder's first report (a short run can end before that comes).
  for (std::uint32_t i = 0; i < options.sources.size(); ++i) stats_.decoder[i].source = options.sources[i];
}

void Session::emit(const SinkEntry& entry) {
  if (options_.on_result) options_.on_result(entry);
  if (options_.collect_results) {
    results_.push_back(entry);
    results_ready_.notify_all();
  }
}

void Session::take(InferenceResult record, std::int64_t now_ns) {
  std::lock_guard lock(mutex_);
  stats_.count(record);
  sink_.add(std::move(record), now_ns);
}

void Session::tick(std::int64_t now_ns, std::uint32_t workers_running, std::uint32_t workers_wanted) {
  std::optional<RunSnapshot> progress;
  {
    std::lock_guard lock(mutex_);
    sink_.tick(now_ns);
    workers_running_ = workers_running;
    workers_wanted_ = workers_wanted;
    if (!options_.on_progress || now_ns < next_progress_ns_) return;
    next_progress_ns_ = now_ns + options_.progress_interval.count();
    progress = snapshot(now_ns);
  }
  options_.on_progress(*progress);
}

void Session::finish(std::int64_t now_ns) {
  std::lock_guard lock(mutex_);
  sink_.finish(now_ns);
  stats_.end_ns = now_ns;
  finished_ = true;
  results_ready_.notify_all();
}

void Session::end_results() {
  std::lock_guard lock(mutex_);
  finished_ = true;
  results_ready_.notify_all();
}

RunSnapshot Session::snapshot(std::int64_t now_ns) const {
  std::lock_guard lock(mutex_);
  // Before the run starts nothing has elapsed.
  return framebus::snapshot(stats_, sink_, stats_.start_ns == 0 ? 0 : now_ns, workers_running_, workers_wanted_);
}

void Session::message(std::string_view text) const {
  if (options_.on_message) {
    options_.on_message(text);
  } else {
    std::cerr << "framebus pipeline: " << text << '\n';
  }
}

std::optional<SinkEntry> Session::next_result(std::optional<Duration> timeout) {
  std::unique_lock lock(mutex_);
  auto ready = [&] { return !results_.empty() || finished_; };
  if (timeout) {
    results_ready_.wait_for(lock, *timeout, ready);
  } else {
    results_ready_.wait(lock, ready);
  }
  if (results_.empty()) return std::nullopt;
  SinkEntry entry = std::move(results_.front());
  results_.pop_front();
  return entry;
}

}  // namespace framebus::pipeline_detail
