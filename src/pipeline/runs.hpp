#pragma once
// The topologies of a Pipeline run. Each returns the run's exit status (pipeline.hpp).

#include <atomic>
#include <string>

#include "framebus/pipeline/pipeline_options.hpp"
#include "pipeline/session.hpp"

namespace framebus::pipeline_detail {

/// What the topologies are given besides the options.
struct RunContext {
  const PipelineOptions& options;
  std::string executable;  // the `framebus` executable the children are started from
  Session& session;
  const std::atomic<bool>& stop;
};

/// Over channels (shared, per-stream and threads): starts the decoder and the workers, restarts
/// a worker that crashes, feeds the sink, and cleans up.
int run_with_channels(const RunContext& run);
/// The baseline: reader processes, a bounded copying queue, one inference consumer.
int run_with_queue(const RunContext& run);

/// The value of `framebus decode --stream-options` for a stream decoded otherwise than the rest.
std::string stream_options_arg(std::uint32_t index, const SourceOptions& options);

/// The command-line arguments of a child that loads `model`.
std::vector<std::string> model_args(const ModelOptions& model);

}  // namespace framebus::pipeline_detail
