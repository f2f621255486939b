// The JSON form of RunSnapshot: one encoder for `framebus run --report` and Python's
// Pipeline.stats().

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "framebus/pipeline/run_stats.hpp"

namespace framebus {
namespace {

using Json = nlohmann::ordered_json;

Json stream_json(const StreamRow& row) {
  return {{"stream", row.stream},
          {"source", row.source},
          {"state", row.state},
          {"message", row.message},
          {"frames", row.frames},
          {"fps", row.fps},
          {"latency_p50_ms", row.latency_p50_ms},
          {"latency_p99_ms", row.latency_p99_ms},
          {"gaps", row.gaps},
          {"drops", row.drops},
          {"redelivered", row.redelivered},
          {"duplicates", row.duplicates},
          {"late", row.late},
          {"decoded", row.decoded},
          {"frame_count", row.frame_count ? Json(*row.frame_count) : Json()}};
}

Json worker_json(const WorkerRow& w) {
  return {{"worker", w.worker},
          {"frames", w.frames},
          {"batches", w.batches},
          {"busy_percent", w.busy_percent},
          {"restarts", w.process.restarts},
          {"pid", w.process.pid},
          {"running", w.process.running},
          {"last_exit", w.process.last_exit}};
}

}  // namespace

std::string to_json(const RunSnapshot& s, int indent) {
  Json j;
  j["topology"] = s.topology;
  j["seconds"] = std::chrono::duration<double>(s.elapsed).count();
  auto& streams = j["streams"] = Json::array();
  for (const auto& row : s.streams) streams.push_back(stream_json(row));
  auto& workers = j["workers"] = Json::array();
  for (const auto& w : s.workers) workers.push_back(worker_json(w));
  j["frames"] = s.frames;
  j["fps"] = s.fps;
  j["steady_fps"] = s.steady_fps;
  j["queued"] = s.queued;
  j["workers_running"] = s.workers_running;
  j["workers_wanted"] = s.workers_wanted;
  j["errors"] = s.errors;
  return j.dump(indent);
}

}  // namespace framebus
