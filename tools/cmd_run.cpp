// framebus run --source A --source B --workers 3 --model m.onnx: the whole analytics pipeline
// from one command. Decodes every source, classifies the frames on several workers and writes
// each stream's results in frame order (JSON lines), with a live display and a summary.

#include <signal.h>

#include <atomic>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "common/clock.hpp"
#include "framebus/classify/classifier.hpp"
#include "run/run_options.hpp"
#include "run/session.hpp"
#include "run/supervisor.hpp"

namespace framebus::cli {
namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

std::optional<Topology> parse_topology(const std::string& name) {
  if (name == "shared") return Topology::shared;
  if (name == "per-stream") return Topology::per_stream;
  if (name == "threads") return Topology::threads;
  if (name == "queue") return Topology::queue;
  return std::nullopt;
}

int run_pipeline(RunOptions o) {
  const auto topology = parse_topology(o.topology);
  if (!topology) {
    std::cerr << "framebus run: unknown topology '" << o.topology << "' (shared, per-stream, threads or queue)\n";
    return kRunSetupFailed;
  }
  if (o.slots == 0) {
    // Room for every worker's batch in flight and as much again queued behind it.
    const std::uint32_t readers = *topology == Topology::per_stream ? 1 : o.workers;
    o.slots = std::max(16U, 2 * readers * o.batch + 4);
  }
  // The model is checked before any stream starts: a wrong path or a file that is not a model
  // ends the run here, with the reason.
  {
    auto check = Classifier::create(to_classifier_options(o.model, 1, o.batch));
    if (!check) {
      std::cerr << "framebus run: " << check.error().message() << '\n';
      return kRunSetupFailed;
    }
  }
  std::string error;
  auto session = Session::open(o, error);
  if (!session) {
    std::cerr << "framebus run: " << error << '\n';
    return kRunSetupFailed;
  }
  struct sigaction sa{};
  sa.sa_handler = &on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  session->stats().start_ns = detail::monotonic_ns();
  if (*topology == Topology::queue) return run_with_queue(o, *session, g_stop);
  return run_with_channels(o, *topology, *session, g_stop);
}

}  // namespace

void add_run_command(CLI::App& app, int& status) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Decode sources, classify their frames on several workers, and write ordered results (JSON lines).");
  // Read before parsing (see run/pipeline_file.hpp); declared here for --help and validation.
  cmd->add_option("--config", o->config, "Pipeline file (TOML: one key per option, e.g. workers = 3, source = [\"a.mp4\"])");
  cmd->add_option("--source", o->sources, "Video file, URL (rtsp://, http://, udp://) or image folder; repeat for more streams")->required();
  add_model_options(*cmd, o->model);
  cmd->add_option("--topology", o->topology, "shared, per-stream, threads or queue (the copying baseline)")->capture_default_str();
  cmd->add_option("--workers", o->workers, "Worker processes (threads for --topology threads)")->capture_default_str()->check(CLI::Range(1, 32));
  cmd->add_option("--batch", o->batch, "Largest inference batch")->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--batch-timeout", o->batch_timeout_ms, "Milliseconds a batch waits to fill")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Inference threads per worker (0: cores / workers)")->capture_default_str();
  cmd->add_flag("--copy", o->copy, "Workers classify private copies of the frames instead of the shared slots");
  cmd->add_option("--out", o->out, "Results file, JSON lines ('-': stdout)")->capture_default_str();
  cmd->add_option("--report", o->report, "Write the summary as JSON to this file");
  cmd->add_option("--name", o->name, "Channel name prefix (default: run-<pid>)");
  cmd->add_option("--policy", o->policy, "Frames channel policy: block, drop_oldest or drop_newest")->capture_default_str();
  cmd->add_option("--slots", o->slots, "Frames channel slots (0: from workers and batch)");
  cmd->add_option("--slot-size", o->slot_size, "Frames channel slot size")->capture_default_str();
  cmd->add_option("--loop", o->loop, "Passes over each source")->capture_default_str();
  cmd->add_option("--max-fps", o->max_fps, "Publish at most this many frames per second per stream");
  cmd->add_flag("--realtime", o->realtime, "Pace each source at its own frame rate, like a live camera");
  cmd->add_flag("--reconnect", o->reconnect, "Reopen lost network sources with backoff");
  cmd->add_option("--width", o->width, "Decode to this width (0: the source's)");
  cmd->add_option("--height", o->height, "Decode to this height (0: the source's)");
  cmd->add_option("--decode-threads", o->decode_threads, "Decoder threads per stream")->capture_default_str();
  cmd->add_option("--gap-timeout", o->gap_timeout, "Seconds a missing frame is waited for before it is reported as a gap")->capture_default_str();
  cmd->add_option("--progress-interval", o->interval, "Seconds between progress updates")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_flag("!--no-progress", o->progress, "No live progress display");
  cmd->add_option("--max-restarts", o->max_restarts, "Restarts allowed per worker")->capture_default_str();
  cmd->callback([o, &status] { status = run_pipeline(*o); });
}

}  // namespace framebus::cli
