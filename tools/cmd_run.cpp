// framebus run --source A --source B --workers 3 --model m.onnx: the whole analytics pipeline
// from one command (framebus::Pipeline). Writes each stream's results in frame order (JSON
// lines), with a live display and a summary.

#include <signal.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "framebus/pipeline/pipeline.hpp"
#include "run/model_args.hpp"
#include "run_output.hpp"

namespace framebus::cli {
namespace {

// The flags as given; turned into PipelineOptions once parsed.
struct RunArgs {
  PipelineOptions pipeline;
  std::string topology = "shared";
  double batch_timeout_ms = 20.0;
  std::string out = "-";
  std::string report;
  std::string policy = "block";
  std::string slot_size = "8MiB";
  double gap_timeout = 10.0;
  double interval = 1.0;
  bool progress = true;
  std::string config;  // the pipeline file it came from, if any (run/pipeline_file.hpp)
};

Pipeline* g_pipeline = nullptr;
void on_signal(int) {
  if (g_pipeline != nullptr) g_pipeline->stop();
}

Duration seconds(double s) { return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s)); }

int fail(const std::string& message) {
  std::cerr << "framebus run: " << message << '\n';
  return kRunSetupFailed;
}

int run_pipeline(RunArgs a) {
  PipelineOptions& o = a.pipeline;
  auto topology = parse_topology(a.topology);
  if (!topology) return fail(topology.error().message());
  auto policy = parse_policy(a.policy);
  if (!policy) return fail(policy.error().message());
  auto slot_size = parse_size(a.slot_size);
  if (!slot_size) return fail(slot_size.error().message());
  o.topology = *topology;
  o.policy = *policy;
  o.slot_size = *slot_size;
  o.batch_timeout = std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(a.batch_timeout_ms));
  o.gap_timeout = seconds(a.gap_timeout);
  o.progress_interval = seconds(a.interval);
  o.on_message = [](std::string_view text) { std::cerr << "framebus run: " << text << '\n'; };
  // The output is opened once the options and the model are known to be good.
  std::ofstream file;
  std::ostream* out = &std::cout;
  o.on_result = [&out](const SinkEntry& e) { *out << result_line(e) << '\n'; };
  ProgressDisplay display;
  if (a.progress) {
    o.on_progress = [&](const RunSnapshot& stats) {
      display.show(stats);
      out->flush();
    };
  }
  auto pipeline = Pipeline::create(std::move(o));
  if (!pipeline) return fail(pipeline.error().message());
  if (a.out != "-") {
    file.open(a.out, std::ios::trunc);
    if (!file) return fail("cannot write the results file '" + a.out + "'");
    out = &file;
  }
  // Where people read: stderr when the results go to stdout.
  std::ostream& console = a.out == "-" ? std::cerr : std::cout;
  g_pipeline = &*pipeline;
  struct sigaction sa {};
  sa.sa_handler = &on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  const RunReport report = pipeline->run();
  g_pipeline = nullptr;
  out->flush();
  print_summary(console, report.stats);
  console.flush();
  int status = report.exit_status;
  if (!a.report.empty() && !write_report(a.report, report.stats)) {
    std::cerr << "framebus run: cannot write the report '" << a.report << "'\n";
    if (status == kRunOk) status = kRunStreamFailed;
  }
  return status;
}

}  // namespace

void add_run_command(CLI::App& app, int& status) {
  auto a = std::make_shared<RunArgs>();
  PipelineOptions& o = a->pipeline;
  SourceOptions& d = o.decode;
  CLI::App* cmd = app.add_subcommand(
      "run", "Decode sources, classify their frames on several workers, and write ordered results (JSON lines).");
  // Read before parsing (see run/pipeline_file.hpp); declared here for --help and validation.
  cmd->add_option("--config", a->config,
                  "Pipeline file (TOML: one key per option, e.g. workers = 3, source = [\"a.mp4\"])");
  cmd->add_option("--source", o.sources,
                  "Video file, URL (rtsp://, http://, udp://) or image folder; repeat for more streams")
      ->required();
  add_model_options(*cmd, o.model);
  cmd->add_option("--topology", a->topology, "shared, per-stream, threads or queue (the copying baseline)")
      ->capture_default_str();
  cmd->add_option("--workers", o.workers, "Worker processes (threads for --topology threads)")
      ->capture_default_str()
      ->check(CLI::Range(1, 32));
  cmd->add_option("--batch", o.batch, "Largest inference batch")->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--batch-timeout", a->batch_timeout_ms, "Milliseconds a batch waits to fill")->capture_default_str();
  cmd->add_option("--threads", o.threads, "Inference threads per worker (0: cores / workers)")->capture_default_str();
  cmd->add_flag("--copy", o.copy, "Workers classify private copies of the frames instead of the shared slots");
  cmd->add_option("--out", a->out, "Results file, JSON lines ('-': stdout)")->capture_default_str();
  cmd->add_option("--report", a->report, "Write the summary as JSON to this file");
  cmd->add_option("--name", o.name, "Channel name prefix (default: run-<pid>)");
  cmd->add_option("--policy", a->policy, "Frames channel policy: block, drop_oldest or drop_newest")
      ->capture_default_str();
  cmd->add_option("--slots", o.slots, "Frames channel slots (0: from workers and batch)");
  cmd->add_option("--slot-size", a->slot_size, "Frames channel slot size")->capture_default_str();
  cmd->add_option("--loop", d.loop, "Passes over each source (0: until stopped)")->capture_default_str();
  cmd->add_flag_callback(
      "--forever", [&d] { d.loop = SourceOptions::kLoopForever; }, "Loop every source until stopped (Ctrl-C)");
  cmd->add_option("--max-fps", d.max_fps, "Publish at most this many frames per second per stream");
  cmd->add_flag("--realtime", d.realtime, "Pace each source at its own frame rate, like a live camera");
  cmd->add_flag("--reconnect", d.reconnect, "Reopen lost network sources with backoff");
  cmd->add_option("--width", d.width, "Decode to this width (0: the source's)");
  cmd->add_option("--height", d.height, "Decode to this height (0: the source's)");
  cmd->add_option("--decode-threads", d.decode_threads, "Decoder threads per stream")->capture_default_str();
  cmd->add_option("--gap-timeout", a->gap_timeout,
                  "Seconds a missing frame is waited for before it is reported as a gap")
      ->capture_default_str();
  cmd->add_option("--progress-interval", a->interval, "Seconds between progress updates")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("!--no-progress", a->progress, "No live progress display");
  cmd->add_option("--max-restarts", o.max_restarts, "Restarts allowed per worker")->capture_default_str();
  cmd->callback([a, &status] { status = run_pipeline(*a); });
}

}  // namespace framebus::cli
