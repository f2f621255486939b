#include "run/run_stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <set>

#include "format.hpp"

namespace framebus::cli {
namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

double seconds(std::int64_t ns) { return static_cast<double>(ns) / 1e9; }

double run_seconds(const RunStats& stats, std::int64_t now_ns) {
  const std::int64_t end = stats.end_ns > 0 ? stats.end_ns : now_ns;
  return std::max(1e-9, seconds(end - stats.start_ns));
}

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

std::string result_line(const SinkEntry& e) {
  nlohmann::ordered_json j;
  j["stream"] = e.stream;
  j["frame"] = e.frame;
  if (e.gap) {
    j["gap"] = true;
    return j.dump();
  }
  j["pts_us"] = e.result.pts_us;
  auto& top = j["top"] = nlohmann::ordered_json::array();
  for (const auto& p : e.result.top) {
    // Four decimals are plenty for a probability and keep the lines short.
    top.push_back({p.class_id, std::round(static_cast<double>(p.score) * 1e4) / 1e4});
  }
  j["latency_ms"] = std::round(static_cast<double>(e.arrived_ns - e.result.published_ns) / 1e4) / 1e2;
  j["worker"] = e.result.worker;
  if (e.result.redelivered) j["redelivered"] = true;
  // A classifier always gives at least one prediction: none means the worker could not classify
  // the frame (its stderr says why).
  if (e.result.top.empty()) j["failed"] = true;
  return j.dump();
}

std::vector<std::string> progress_lines(const RunStats& stats, const ResultSink& sink, std::int64_t now_ns,
                                        std::uint32_t workers_running, std::uint32_t workers_wanted) {
  std::vector<std::string> lines;
  const double elapsed = run_seconds(stats, now_ns);
  std::uint64_t done = 0;
  for (const auto& [id, t] : sink.streams()) done += t.emitted;
  char head[256];
  std::snprintf(head, sizeof head, "%6.1f s  %llu frames done  %.1f fps  queue %u  workers %u/%u", elapsed,
                static_cast<unsigned long long>(done), static_cast<double>(done) / elapsed, stats.queued,
                workers_running, workers_wanted);
  lines.emplace_back(head);
  for (std::uint32_t id : stream_ids(stats, sink)) {
    const auto d = stats.decoder.count(id) ? stats.decoder.at(id) : DecoderStream{};
    const auto t = sink.streams().count(id) ? sink.streams().at(id) : StreamTally{};
    char line[512];
    std::snprintf(line, sizeof line, "  [%u] %-12s %6.1f fps %7llu done %7llu decoded %5llu drops  %s", id,
                  d.state.c_str(), static_cast<double>(t.emitted) / elapsed,
                  static_cast<unsigned long long>(t.emitted), static_cast<unsigned long long>(d.published),
                  static_cast<unsigned long long>(total_drops(stats, id)), d.source.c_str());
    lines.emplace_back(line);
  }
  return lines;
}

void print_summary(std::ostream& out, const RunStats& stats, const ResultSink& sink) {
  const double elapsed = run_seconds(stats, 0);
  Table streams({"stream", "frames", "fps", "p50 ms", "p99 ms", "gaps", "drops", "redelivered", "state", "source"},
                {Table::Align::right, Table::Align::right, Table::Align::right, Table::Align::right,
                 Table::Align::right, Table::Align::right, Table::Align::right, Table::Align::right,
                 Table::Align::left, Table::Align::left});
  std::uint64_t total = 0;
  for (std::uint32_t id : stream_ids(stats, sink)) {
    const auto d = stats.decoder.count(id) ? stats.decoder.at(id) : DecoderStream{};
    const auto t = sink.streams().count(id) ? sink.streams().at(id) : StreamTally{};
    total += t.emitted;
    streams.add_row({std::to_string(id), std::to_string(t.emitted), fixed(static_cast<double>(t.emitted) / elapsed, 1),
                     fixed(t.latency.percentile(50), 1), fixed(t.latency.percentile(99), 1),
                     std::to_string(t.gaps), std::to_string(total_drops(stats, id)), std::to_string(t.redelivered),
                     d.state + (d.message.empty() ? "" : ": " + d.message), d.source});
  }
  Table workers({"worker", "frames", "batches", "busy %", "restarts", "last exit"},
                {Table::Align::right, Table::Align::right, Table::Align::right, Table::Align::right,
                 Table::Align::right, Table::Align::left});
  for (const auto& [id, w] : stats.workers) {
    workers.add_row({std::to_string(id), std::to_string(w.frames), std::to_string(w.batches),
                     fixed(100.0 * seconds(w.busy_ns) / elapsed, 1), std::to_string(w.restarts), w.last_exit});
  }
  out << "\nstreams (" << stats.topology << ")\n";
  streams.print(out, "  ");
  out << "\nworkers\n";
  workers.print(out, "  ");
  out << "\n" << total << " frames in " << fixed(elapsed, 2) << " s: " << fixed(static_cast<double>(total) / elapsed, 1)
      << " frames/s\n";
  for (const auto& e : stats.errors) out << "error: " << e << '\n';
}

nlohmann::ordered_json report_json(const RunStats& stats, const ResultSink& sink) {
  const double elapsed = run_seconds(stats, 0);
  nlohmann::ordered_json j;
  j["topology"] = stats.topology;
  j["seconds"] = elapsed;
  std::uint64_t total = 0;
  auto& streams = j["streams"] = nlohmann::ordered_json::array();
  for (std::uint32_t id : stream_ids(stats, sink)) {
    const auto d = stats.decoder.count(id) ? stats.decoder.at(id) : DecoderStream{};
    const auto t = sink.streams().count(id) ? sink.streams().at(id) : StreamTally{};
    total += t.emitted;
    streams.push_back({{"stream", id},
                       {"source", d.source},
                       {"state", d.state},
                       {"message", d.message},
                       {"frames", t.emitted},
                       {"fps", static_cast<double>(t.emitted) / elapsed},
                       {"latency_p50_ms", t.latency.percentile(50)},
                       {"latency_p99_ms", t.latency.percentile(99)},
                       {"gaps", t.gaps},
                       {"drops", total_drops(stats, id)},
                       {"redelivered", t.redelivered},
                       {"duplicates", t.duplicates},
                       {"late", t.late},
                       {"decoded", d.published},
                       {"frame_count", t.frame_count ? nlohmann::ordered_json(*t.frame_count) : nlohmann::ordered_json()}});
  }
  auto& workers = j["workers"] = nlohmann::ordered_json::array();
  for (const auto& [id, w] : stats.workers) {
    workers.push_back({{"worker", id},
                       {"frames", w.frames},
                       {"batches", w.batches},
                       {"busy_percent", 100.0 * seconds(w.busy_ns) / elapsed},
                       {"restarts", w.restarts},
                       {"last_exit", w.last_exit}});
  }
  j["frames"] = total;
  j["fps"] = static_cast<double>(total) / elapsed;
  // Between the first and the last result: the rate once every process is up (start-up, model
  // loading and the final drain left out), for comparing with a steady decode + inference rate.
  std::int64_t first = 0;
  std::int64_t last = 0;
  for (const auto& [id, t] : sink.streams()) {
    if (t.emitted == 0) continue;
    if (first == 0 || t.first_ns < first) first = t.first_ns;
    last = std::max(last, t.last_ns);
  }
  j["steady_fps"] = total > 1 && last > first ? static_cast<double>(total - 1) / seconds(last - first) : 0.0;
  j["errors"] = stats.errors;
  return j;
}

}  // namespace framebus::cli
