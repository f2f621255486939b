#pragma once
/// @file pipeline_options.hpp
/// Everything a Pipeline is told: the sources and how they are decoded, the model, the topology,
/// the workers and batching, the frames channel, and where ordered results and progress go.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "framebus/channel/options.hpp"
#include "framebus/classify/classifier.hpp"
#include "framebus/error.hpp"
#include "framebus/pipeline/result_sink.hpp"
#include "framebus/units.hpp"

namespace framebus {

struct RunSnapshot;

/// How decoding and inference are laid out in processes.
enum class Topology {
  shared,      ///< One decoder, one frames channel, the workers in one group.
  per_stream,  ///< One decoder process, one channel and one worker per stream.
  threads,     ///< The decoder in a child, the workers as threads of one process.
  queue,       ///< The baseline: OpenCV reader processes, a bounded copying queue, one consumer.
};

/// "shared", "per-stream", "threads", "queue".
std::string_view to_string(Topology topology) noexcept;
/// The inverse of to_string; an invalid_argument error naming the choices otherwise.
Result<Topology> parse_topology(std::string_view text);

/// The classification model the workers load.
struct ModelOptions {
  std::string model;               ///< ONNX image-classification model.
  std::string labels;              ///< Label file, one class name per line (optional).
  std::uint32_t top_k = 5;         ///< Predictions kept per frame (1 to 16).
  std::uint32_t input_size = 0;    ///< Model input size in pixels (0: from the model).
  std::string backend = "opencv";  ///< Inference backend.
};

/// The classifier a worker makes from `model`.
ClassifierOptions to_classifier_options(const ModelOptions& model, int threads, std::uint32_t max_batch);

/// How every source is decoded.
struct SourceOptions {
  std::uint32_t loop = 1;  ///< Passes over each source (kLoopForever: until the run is stopped).
  static constexpr std::uint32_t kLoopForever = 0;  ///< The same value as StreamOptions::kLoopForever.
  double max_fps = 0.0;      ///< Publish at most this many frames per second per stream (0: no cap).
  bool realtime = false;     ///< Pace each source at its own frame rate, like a live camera.
  bool reconnect = false;    ///< Reopen lost network sources with backoff.
  std::uint32_t width = 0;   ///< Decode to this width (0: the source's).
  std::uint32_t height = 0;  ///< Decode to this height (0: the source's).
  int decode_threads = 1;    ///< Decoder threads per stream.
};

struct PipelineOptions {
  /// Video files, URLs (rtsp://, http://, udp://) or image folders; stream i is sources[i].
  std::vector<std::string> sources;
  SourceOptions decode;  ///< How every source is decoded, but for those in source_options.
  /// Streams decoded otherwise, by index into `sources` (replacing `decode` for that stream).
  std::map<std::uint32_t, SourceOptions> source_options;
  ModelOptions model;
  Topology topology = Topology::shared;
  std::uint32_t workers = 2;  ///< Worker processes (threads with Topology::threads), 1 to 32.
  std::uint32_t batch = 4;    ///< Largest inference batch, 1 to 256.
  Duration batch_timeout = std::chrono::milliseconds(20);  ///< How long a batch waits to fill.
  int threads = 0;                                         ///< Inference threads per worker (0: cores / workers).
  bool copy = false;                                ///< Workers classify private copies instead of the shared slots.
  std::string name;                                 ///< Channel name prefix (empty: run-<pid>).
  Policy policy = Policy::block;                    ///< The frames channel's policy.
  std::uint32_t slots = 0;                          ///< Frames channel slots (0: from workers and batch).
  std::uint64_t slot_size = 8ULL << 20;             ///< Frames channel slot size in bytes.
  Duration gap_timeout = std::chrono::seconds(10);  ///< How long a missing frame is waited for.
  Duration progress_interval = std::chrono::seconds(1);  ///< Between on_progress calls.
  std::uint32_t max_restarts = 10;                       ///< Restarts allowed per worker.
  /// The `framebus` executable whose subcommands are the decoder, worker and reader children.
  /// Empty: the running executable when it is `framebus`, else $FRAMEBUS_EXECUTABLE, else
  /// `framebus` next to the running executable or on PATH.
  std::string executable;
  /// Keep every ordered result for Pipeline::next_result() (a reader must then take them).
  bool collect_results = false;
  /// Each ordered result (or gap) as it is emitted, on the thread running the pipeline.
  std::function<void(const SinkEntry&)> on_result;
  /// The statistics once per progress_interval, on the thread running the pipeline.
  std::function<void(const RunSnapshot&)> on_progress;
  /// What the run has to say to a person (a restarted worker, a dead letter). Default: stderr.
  std::function<void(std::string_view)> on_message;
};

/// How stream `index` is decoded: its source_options, else `decode`.
const SourceOptions& source_options(const PipelineOptions& options, std::uint32_t index);

}  // namespace framebus
