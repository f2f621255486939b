#pragma once
// Everything `framebus run` is told, from its flags or a pipeline file.

#include <cstdint>
#include <string>
#include <vector>

#include "run/model_args.hpp"

namespace framebus::cli {

enum class Topology {
  shared,      // one decoder, one channel, M workers in one group
  per_stream,  // one decoder process, one channel and one worker per stream
  threads,     // decoder in a child, workers as threads of one process
  queue,       // the baseline: OpenCV reader processes, a bounded copying queue, one consumer
};

struct RunOptions {
  std::vector<std::string> sources;
  ModelArgs model;
  std::string topology = "shared";
  std::uint32_t workers = 2;
  std::uint32_t batch = 4;
  double batch_timeout_ms = 20.0;
  int threads = 0;  // inference threads per worker; 0: cores / workers
  bool copy = false;
  std::string out = "-";
  std::string report;
  std::string name;  // channel name prefix; default run-<pid>
  std::string policy = "block";
  std::uint32_t slots = 0;  // 0: from workers and batch
  std::string slot_size = "8MiB";
  std::uint32_t loop = 1;
  double max_fps = 0.0;
  bool realtime = false;
  bool reconnect = false;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  int decode_threads = 1;
  double gap_timeout = 10.0;
  double interval = 1.0;
  bool progress = true;
  std::uint32_t max_restarts = 10;
  std::string config;  // the pipeline file it came from, if any
};

}  // namespace framebus::cli
