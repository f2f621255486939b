#pragma once
/// @file worker.hpp
/// An inference worker: takes batches of frames from a channel's group, classifies them, and
/// publishes one InferenceResult per frame into a results channel.
///
/// Many workers (processes or threads) share one group, so each frame goes to one of them; a
/// worker that dies holding frames has them redelivered to the others. Results are published
/// before the frames are released, so a frame is never lost: at worst it is classified twice,
/// and the ResultSink keeps the first result.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "framebus/channel/consumer.hpp"
#include "framebus/channel/options.hpp"
#include "framebus/classify/classifier.hpp"
#include "framebus/error.hpp"
#include "framebus/pipeline/batch.hpp"

namespace framebus {

/// The slot geometry of a results channel: every worker and the sink must agree on it.
ProducerOptions results_channel_options();

struct WorkerOptions {
  std::string channel;            ///< The frames channel.
  std::string group = "workers";  ///< The group the workers share.
  std::string results;            ///< The results channel (joined with results_channel_options()).
  std::uint32_t batch = 4;        ///< Largest batch.
  Duration batch_timeout = std::chrono::milliseconds(20);  ///< Wait for a batch to fill.
  std::uint32_t worker_id = 0;                             ///< Put into every result.
  /// Classify private copies of the frames instead of the slots themselves (the slots are still
  /// held until the results are published, so that a killed worker loses nothing).
  bool copy_on_receive = false;
  /// How long to wait for the frames channel to appear.
  Duration open_wait = std::chrono::seconds(30);
  /// A stop ends the worker after its current batch; a wait for the channel or for frames ends
  /// at once (see docs/design.md "Cancelling a wait").
  std::stop_token stop;
};

struct WorkerStats {
  std::uint64_t frames = 0;
  std::uint64_t batches = 0;
  std::uint64_t end_markers = 0;
  std::uint64_t redelivered = 0;
  /// Frames whose classification failed (not an image, a broken picture): each is published with
  /// no predictions, and the rest of its batch is classified without it.
  std::uint64_t errors = 0;
  std::int64_t busy_ns = 0;         ///< Time spent classifying.
  std::int64_t wall_ns = 0;         ///< Time from start to end.
  EndReason end = EndReason::none;  ///< Why the frames channel ended (none when stopped).
  std::optional<Error> last_error;  ///< The latest classification failure.
};

/// Runs a worker until the frames channel ends or options.stop is requested.
Result<WorkerStats> run_worker(Classifier& classifier, const WorkerOptions& options);

}  // namespace framebus
