#pragma once
// `framebus run` over channels (topologies shared, per-stream and threads): starts the decode
// process and the workers, restarts a worker that crashes, feeds the sink, and cleans up.

#include <atomic>

#include "run/run_options.hpp"
#include "run/session.hpp"

namespace framebus::cli {

/// Exit statuses of `framebus run`.
inline constexpr int kRunOk = 0;
inline constexpr int kRunStreamFailed = 1;  // the run completed, but a stream ended in error
inline constexpr int kRunSetupFailed = 2;   // nothing started (bad model, options, output)
inline constexpr int kRunInterrupted = 130;

int run_with_channels(const RunOptions& options, Topology topology, Session& session, const std::atomic<bool>& stop);
/// The baseline: reader processes, a bounded copying queue, one inference consumer.
int run_with_queue(const RunOptions& options, Session& session, const std::atomic<bool>& stop);

}  // namespace framebus::cli
