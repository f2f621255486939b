#pragma once
/// @file children.hpp
/// The processes a Pipeline starts, as functions: the `framebus` executable's `worker` and
/// `read-frames` subcommands call these; its `decode --status-json` calls run_decoder_child
/// (decoder_process.hpp).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stop_token>
#include <string>

#include "framebus/pipeline/decoder_process.hpp"
#include "framebus/pipeline/pipeline_options.hpp"
#include "framebus/pipeline/worker.hpp"
#include "framebus/units.hpp"

namespace framebus {

/// One inference worker process (or several, as threads).
struct WorkerProcessOptions {
  ModelOptions model;
  /// Each worker's options; worker.worker_id is the first worker's id (thread i is id + i), and
  /// worker.stop is run_worker_process's `stop`.
  WorkerOptions worker;
  int threads = 0;  ///< Inference threads per worker (0: the backend's default).
  std::uint32_t worker_threads = 1;
};

/// Runs the workers until their channel ends or `stop` is requested (StopOnSignals gives one for
/// SIGTERM). Returns the exit status (0, or 1 when a worker could not start or run; the reason is
/// on stderr).
int run_worker_process(const WorkerProcessOptions& options, std::stop_token stop);

/// A reader of the `queue` topology: decodes one source with OpenCV (as the pipelines framebus
/// is compared with do) and writes its BGR frames down a file descriptor.
struct FrameReaderOptions {
  std::string source;
  std::uint32_t stream = 0;  ///< Written with each frame.
  std::uint32_t loop = 1;
  std::uint32_t width = 0;  ///< With height: resize to this.
  std::uint32_t height = 0;
};

/// Reads the source to its end (every pass). Returns the exit status (0, or 1 when the source
/// could not be opened or the pipe was closed).
int run_frame_reader(const FrameReaderOptions& options, int out_fd);

}  // namespace framebus
