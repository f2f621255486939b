#pragma once
/// @file pipeline.hpp
/// The whole analytics pipeline as an object: decodes every source, classifies the frames on
/// several workers and gives each stream's results in frame order. It runs the supervisor in the
/// calling thread and the decoder, the workers (or the queue topology's readers) as children:
/// the `framebus` executable's subcommands (PipelineOptions::executable).
///
///   auto pipeline = framebus::Pipeline::create(options);   // checks the options and the model
///   std::thread t([&] { report = pipeline->run(); });       // blocks until the run is over
///   while (auto entry = pipeline->next_result()) ...        // with collect_results
///   pipeline->stop();                                       // from any thread or a signal handler

#include <atomic>
#include <memory>
#include <optional>

#include "framebus/error.hpp"
#include "framebus/pipeline/pipeline_options.hpp"
#include "framebus/pipeline/result_sink.hpp"
#include "framebus/pipeline/run_stats.hpp"

namespace framebus {

/// Exit statuses of a run (those of `framebus run`).
inline constexpr int kRunOk = 0;
inline constexpr int kRunStreamFailed = 1;   ///< The run completed, but a stream ended in error.
inline constexpr int kRunSetupFailed = 2;    ///< Nothing started (bad model, options, output).
inline constexpr int kRunInterrupted = 130;  ///< stop() ended it.

struct RunReport {
  int exit_status = kRunOk;
  RunSnapshot stats;  ///< The final statistics.
};

class Pipeline {
 public:
  /// Checks the options (an invalid_argument error names the option), finds the executable and
  /// loads the model once, so that a wrong model ends here with the reason.
  static Result<Pipeline> create(PipelineOptions options);

  Pipeline(Pipeline&&) noexcept;
  Pipeline& operator=(Pipeline&&) noexcept;
  ~Pipeline();

  /// Runs to the end of every stream, or until stop(). Once per Pipeline.
  RunReport run();
  /// Asks the run to stop: the decoder first, then the workers drain. Any thread; only an
  /// atomic store, so a signal handler may call it.
  void stop() noexcept;
  /// The statistics now (the final ones once run() has returned). Any thread, but not from
  /// on_result, which is called with the statistics locked.
  [[nodiscard]] RunSnapshot stats() const;
  /// With collect_results: the next ordered result or gap, waiting for it; nullopt once the run
  /// is over and every result was taken, or when `timeout` passes first.
  std::optional<SinkEntry> next_result(std::optional<Duration> timeout = std::nullopt);
  [[nodiscard]] const PipelineOptions& options() const noexcept;

  struct Impl;

 private:
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace framebus
