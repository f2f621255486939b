#include "run_output.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <unistd.h>

#include "format.hpp"

namespace framebus::cli {
namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

double seconds(const RunSnapshot& s) { return std::max(1e-9, std::chrono::duration<double>(s.elapsed).count()); }

}  // namespace

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

std::vector<std::string> progress_lines(const RunSnapshot& s) {
  std::vector<std::string> lines;
  char head[256];
  std::snprintf(head, sizeof head, "%6.1f s  %llu frames done  %.1f fps  queue %u  workers %u/%u", seconds(s),
                static_cast<unsigned long long>(s.frames), s.fps, s.queued, s.workers_running, s.workers_wanted);
  lines.emplace_back(head);
  for (const auto& row : s.streams) {
    char line[512];
    std::snprintf(line, sizeof line, "  [%u] %-12s %6.1f fps %7llu done %7llu decoded %5llu drops  %s", row.stream,
                  row.state.c_str(), row.fps, static_cast<unsigned long long>(row.frames),
                  static_cast<unsigned long long>(row.decoded), static_cast<unsigned long long>(row.drops),
                  row.source.c_str());
    lines.emplace_back(line);
  }
  return lines;
}

void print_summary(std::ostream& out, const RunSnapshot& s) {
  using A = Table::Align;
  Table streams({"stream", "frames", "fps", "p50 ms", "p99 ms", "gaps", "drops", "redelivered", "state", "source"},
                {A::right, A::right, A::right, A::right, A::right, A::right, A::right, A::right, A::left, A::left});
  for (const auto& row : s.streams) {
    streams.add_row({std::to_string(row.stream), std::to_string(row.frames), fixed(row.fps, 1),
                     fixed(row.latency_p50_ms, 1), fixed(row.latency_p99_ms, 1), std::to_string(row.gaps),
                     std::to_string(row.drops), std::to_string(row.redelivered),
                     row.state + (row.message.empty() ? "" : ": " + row.message), row.source});
  }
  Table workers({"worker", "frames", "batches", "busy %", "restarts", "last exit"},
                {A::right, A::right, A::right, A::right, A::right, A::left});
  for (const auto& w : s.workers) {
    workers.add_row({std::to_string(w.worker), std::to_string(w.frames), std::to_string(w.batches),
                     fixed(w.busy_percent, 1), std::to_string(w.process.restarts), w.process.last_exit});
  }
  out << "\nstreams (" << s.topology << ")\n";
  streams.print(out, "  ");
  out << "\nworkers\n";
  workers.print(out, "  ");
  out << "\n" << s.frames << " frames in " << fixed(seconds(s), 2) << " s: " << fixed(s.fps, 1) << " frames/s\n";
  for (const auto& e : s.errors) out << "error: " << e << '\n';
}

ProgressDisplay::ProgressDisplay() : tty_(::isatty(STDERR_FILENO) != 0) {}

void ProgressDisplay::show(const RunSnapshot& stats) {
  const auto lines = progress_lines(stats);
  if (tty_ && drawn_ > 0) std::cerr << "\033[" << drawn_ << "A";
  for (const auto& line : lines) std::cerr << (tty_ ? "\033[K" : "") << line << '\n';
  drawn_ = lines.size();
}

bool write_report(const std::string& path, const RunSnapshot& stats) {
  std::ofstream report(path, std::ios::trunc);
  report << to_json(stats, 2) << '\n';
  return static_cast<bool>(report);
}

void print_summary(std::ostream& out, const RunStats& stats, const ResultSink& sink) {
  print_summary(out, snapshot(stats, sink, 0));
}

std::vector<std::string> progress_lines(const RunStats& stats, const ResultSink& sink, std::int64_t now_ns,
                                        std::uint32_t workers_running, std::uint32_t workers_wanted) {
  return progress_lines(snapshot(stats, sink, now_ns, workers_running, workers_wanted));
}

}  // namespace framebus::cli
