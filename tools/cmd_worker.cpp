// framebus worker --channel NAME --results NAME --model M.onnx: one inference worker (or, with
// --worker-threads N, N of them as threads of this process). `framebus run` starts these; they
// can also be started by hand beside a `framebus decode`.

#include <memory>

#include "commands.hpp"
#include "framebus/pipeline/children.hpp"
#include "framebus/pipeline/stop_on_signals.hpp"
#include "run/model_args.hpp"
#include "typed_options.hpp"

namespace framebus::cli {
namespace {

struct WorkerArgs {
  WorkerProcessOptions worker;
  double batch_timeout_ms = 20.0;
  double open_wait = 30.0;
};

int run_workers(WorkerArgs a) {
  a.worker.worker.batch_timeout =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(a.batch_timeout_ms));
  a.worker.worker.open_wait = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(a.open_wait));
  const StopOnSignals stop;
  return run_worker_process(a.worker, stop.token());
}

}  // namespace

void add_worker_command(CLI::App& app, int& status) {
  auto a = std::make_shared<WorkerArgs>();
  WorkerProcessOptions& p = a->worker;
  WorkerOptions& w = p.worker;
  CLI::App* cmd =
      app.add_subcommand("worker", "Classify the frames of a channel's group in batches and publish the results.");
  add_model_options(*cmd, p.model);
  cmd->add_option("--channel", w.channel, "Frames channel")->required();
  cmd->add_option("--group", w.group, "Group shared by the workers")->capture_default_str();
  cmd->add_option("--results", w.results, "Results channel")->required();
  cmd->add_option("--batch", w.batch, "Largest batch")->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--batch-timeout", a->batch_timeout_ms, "Milliseconds to wait for a batch to fill")
      ->capture_default_str();
  cmd->add_option("--id", w.worker_id, "Worker number put into every result")->capture_default_str();
  cmd->add_option("--threads", p.threads, "Inference threads (0: the backend's default)")->capture_default_str();
  cmd->add_option("--worker-threads", p.worker_threads, "Run this many workers as threads of this process")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_flag("--copy", w.copy_on_receive, "Classify private copies of the frames instead of the shared slots");
  cmd->add_option("--open-wait", a->open_wait, "Seconds to wait for the frames channel to appear")
      ->capture_default_str()
      ->check(non_negative());
  cmd->callback([a, &status] { status = run_workers(*a); });
}

}  // namespace framebus::cli
