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
#include "run/source_args.hpp"
#include "run_output.hpp"
#include "typed_options.hpp"

namespace framebus::cli {
namespace {

// The flags: the pipeline's own options, and what this command does with its output.
struct RunArgs {
  PipelineOptions pipeline;
  std::string out = "-";
  std::string report;
  bool progress = true;
  std::string config;  // the pipeline file it came from, if any (run/pipeline_file.hpp)
};

Pipeline* g_pipeline = nullptr;
void on_signal(int) {
  if (g_pipeline != nullptr) g_pipeline->stop();
}

int fail(const std::string& message) {
  std::cerr << "framebus run: " << message << '\n';
  return kRunSetupFailed;
}

int run_pipeline(RunArgs a) {
  PipelineOptions& o = a.pipeline;
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
  CLI::App* cmd = app.add_subcommand(
      "run", "Decode sources, classify their frames on several workers, and write ordered results (JSON lines).");
  // Read before parsing (see run/pipeline_file.hpp); declared here for --help and validation.
  cmd->add_option("--config", a->config,
                  "Pipeline file (TOML: one key per option, e.g. workers = 3, source = [\"a.mp4\"])");
  cmd->add_option("--source", o.sources,
                  "Video file, URL (rtsp://, http://, udp://) or image folder; repeat for more streams")
      ->required();
  add_model_options(*cmd, o.model);
  add_parsed_option(*cmd, "--topology", o.topology, parse_topology,
                    "shared, per-stream, threads or queue (the copying baseline)", "shared");
  cmd->add_option("--workers", o.workers, "Worker processes (threads for --topology threads)")
      ->capture_default_str()
      ->check(CLI::Range(1, 32));
  cmd->add_option("--batch", o.batch, "Largest inference batch")->capture_default_str()->check(CLI::Range(1, 256));
  add_duration_option<std::milli>(*cmd, "--batch-timeout", o.batch_timeout, "Milliseconds a batch waits to fill");
  cmd->add_option("--threads", o.threads, "Inference threads per worker (0: cores / workers)")->capture_default_str();
  cmd->add_flag("--copy", o.copy, "Workers classify private copies of the frames instead of the shared slots");
  cmd->add_option("--out", a->out, "Results file, JSON lines ('-': stdout)")->capture_default_str();
  cmd->add_option("--report", a->report, "Write the summary as JSON to this file");
  cmd->add_option("--name", o.name, "Channel name prefix (default: run-<pid>)");
  add_parsed_option(*cmd, "--policy", o.policy, parse_policy,
                    "Frames channel policy: block, drop_oldest or drop_newest", "block");
  cmd->add_option("--slots", o.slots, "Frames channel slots (0: from workers and batch)");
  add_parsed_option(*cmd, "--slot-size", o.slot_size, parse_size, "Frames channel slot size", "8MiB");
  add_source_options(*cmd, o.decode);
  add_duration_option(*cmd, "--gap-timeout", o.gap_timeout,
                      "Seconds a missing frame is waited for before it is reported as a gap");
  add_duration_option(*cmd, "--progress-interval", o.progress_interval, "Seconds between progress updates")
      ->check(positive());
  cmd->add_flag("!--no-progress", a->progress, "No live progress display");
  cmd->add_option("--max-restarts", o.max_restarts, "Restarts allowed per worker")->capture_default_str();
  cmd->callback([a, &status] { status = run_pipeline(*a); });
}

}  // namespace framebus::cli
