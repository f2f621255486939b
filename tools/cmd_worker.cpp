// framebus worker --channel NAME --results NAME --model M.onnx: one inference worker (or, with
// --worker-threads N, N of them as threads of this process). `framebus run` starts these; they
// can also be started by hand beside a `framebus decode`.

#include <signal.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "framebus/pipeline/worker.hpp"
#include "run/model_args.hpp"

namespace framebus::cli {
namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

struct WorkerArgs {
  ModelArgs model;
  std::string channel;
  std::string group = "workers";
  std::string results;
  std::uint32_t batch = 4;
  double batch_timeout_ms = 20.0;
  std::uint32_t id = 0;
  int threads = 0;
  std::uint32_t worker_threads = 1;
  bool copy = false;
  double open_wait = 30.0;
};

int run_one(const WorkerArgs& a, std::uint32_t id) {
  auto classifier = Classifier::create(to_classifier_options(a.model, a.threads, a.batch));
  if (!classifier) {
    std::cerr << "framebus worker " << id << ": " << classifier.error().message() << '\n';
    return kExitFailure;
  }
  WorkerOptions o;
  o.channel = a.channel;
  o.group = a.group;
  o.results = a.results;
  o.batch = a.batch;
  o.batch_timeout = std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(a.batch_timeout_ms));
  o.worker_id = id;
  o.copy_on_receive = a.copy;
  o.open_wait = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(a.open_wait));
  o.stop_requested = [] { return g_stop.load(); };
  auto stats = run_worker(*classifier, o);
  if (!stats) {
    std::cerr << "framebus worker " << id << ": " << stats.error().message() << '\n';
    return kExitFailure;
  }
  if (stats->last_error) {
    std::cerr << "framebus worker " << id << ": " << stats->errors << " frames failed to classify: "
              << stats->last_error->message() << '\n';
  }
  return kExitOk;
}

int run_workers(const WorkerArgs& a) {
  struct sigaction sa{};
  sa.sa_handler = &on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  if (a.worker_threads <= 1) return run_one(a, a.id);
  std::vector<int> status(a.worker_threads, kExitOk);
  std::vector<std::thread> threads;
  for (std::uint32_t i = 0; i < a.worker_threads; ++i) {
    threads.emplace_back([&, i] { status[i] = run_one(a, a.id + i); });
  }
  for (auto& t : threads) t.join();
  for (int s : status) {
    if (s != kExitOk) return s;
  }
  return kExitOk;
}

}  // namespace

void add_worker_command(CLI::App& app, int& status) {
  auto a = std::make_shared<WorkerArgs>();
  CLI::App* cmd = app.add_subcommand("worker", "Classify the frames of a channel's group in batches and publish the results.");
  add_model_options(*cmd, a->model);
  cmd->add_option("--channel", a->channel, "Frames channel")->required();
  cmd->add_option("--group", a->group, "Group shared by the workers")->capture_default_str();
  cmd->add_option("--results", a->results, "Results channel")->required();
  cmd->add_option("--batch", a->batch, "Largest batch")->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--batch-timeout", a->batch_timeout_ms, "Milliseconds to wait for a batch to fill")->capture_default_str();
  cmd->add_option("--id", a->id, "Worker number put into every result")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Inference threads (0: the backend's default)")->capture_default_str();
  cmd->add_option("--worker-threads", a->worker_threads, "Run this many workers as threads of this process")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_flag("--copy", a->copy, "Classify private copies of the frames instead of the shared slots");
  cmd->add_option("--open-wait", a->open_wait, "Seconds to wait for the frames channel to appear")->capture_default_str();
  cmd->callback([a, &status] { status = run_workers(*a); });
}

}  // namespace framebus::cli
