#include "framebus/pipeline/run_stats.hpp"

#include <algorithm>
#include <set>

namespace framebus {
namespace {

double seconds(std::int64_t ns) { return static_cast<double>(ns) / 1e9; }

std::uint64_t total_drops(const RunStats& stats, std::uint32_t stream) {
  std::uint64_t n = 0;
  if (auto it = stats.decoder.find(stream); it != stats.decoder.end()) n += it->second.dropped;
  if (auto it = stats.channel_drops.find(stream); it != stats.channel_drops.end()) n += it->second;
  return n;
}

// Every stream either side knows of: the decoder's and the sink's.
std::set<std::uint32_t> stream_ids(const RunStats& stats, const ResultSink& sink) {
  std::set<std::uint32_t> ids;
  for (const auto& [id, d] : stats.decoder) ids.insert(id);
  for (const auto& [id, t] : sink.streams()) ids.insert(id);
  return ids;
}

}  // namespace

void RunStats::count(const InferenceResult& r) {
  if (r.kind != InferenceResult::Kind::frame) return;
  auto& w = workers[r.worker];
  ++w.frames;
  const std::pair<std::uint32_t, std::uint64_t> batch{r.worker_pid, r.batch};
  if (w.batches == 0 || batch != w.last_batch) {
    ++w.batches;
    w.last_batch = batch;
    w.busy_ns += r.infer_end_ns - r.infer_start_ns;
  }
}

RunSnapshot snapshot(const RunStats& stats, const ResultSink& sink, std::int64_t now_ns, std::uint32_t workers_running,
                     std::uint32_t workers_wanted) {
  RunSnapshot s;
  s.topology = stats.topology;
  const std::int64_t end = stats.end_ns > 0 ? stats.end_ns : now_ns;
  s.elapsed = Duration(end - stats.start_ns);
  const double elapsed = std::max(1e-9, seconds(end - stats.start_ns));
  s.queued = stats.queued;
  s.workers_running = workers_running;
  s.workers_wanted = workers_wanted;
  for (std::uint32_t id : stream_ids(stats, sink)) {
    const auto d = stats.decoder.count(id) ? stats.decoder.at(id) : DecoderStream{};
    const auto t = sink.streams().count(id) ? sink.streams().at(id) : StreamTally{};
    StreamRow row;
    row.stream = id;
    row.source = d.source;
    row.state = d.state;
    row.message = d.message;
    row.frames = t.emitted;
    row.fps = static_cast<double>(t.emitted) / elapsed;
    row.latency_p50_ms = t.latency.percentile(50);
    row.latency_p99_ms = t.latency.percentile(99);
    row.gaps = t.gaps;
    row.drops = total_drops(stats, id);
    row.redelivered = t.redelivered;
    row.duplicates = t.duplicates;
    row.late = t.late;
    row.decoded = d.published;
    row.frame_count = t.frame_count;
    s.frames += t.emitted;
    s.streams.push_back(std::move(row));
  }
  for (const auto& [id, w] : stats.workers) {
    s.workers.push_back(WorkerRow{id, w.frames, w.batches, 100.0 * seconds(w.busy_ns) / elapsed, w.process});
  }
  s.fps = static_cast<double>(s.frames) / elapsed;
  // Between the first and the last result: the rate once every process is up (start-up, model
  // loading and the final drain left out), for comparing with a steady decode + inference rate.
  std::int64_t first = 0;
  std::int64_t last = 0;
  for (const auto& [id, t] : sink.streams()) {
    if (t.emitted == 0) continue;
    if (first == 0 || t.first_ns < first) first = t.first_ns;
    last = std::max(last, t.last_ns);
  }
  s.steady_fps = s.frames > 1 && last > first ? static_cast<double>(s.frames - 1) / seconds(last - first) : 0.0;
  s.errors = stats.errors;
  return s;
}

}  // namespace framebus
