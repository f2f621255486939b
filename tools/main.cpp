// framebus: lists, removes and garbage-collects the framebus channels of this host.
//
//   framebus list [NAME...] [--json]        channels, participants, queues and counters (alias ls)
//   framebus inspect NAME... [--json]       the named channels
//   framebus remove NAME... [--json]        unlink channels (alias rm)
//   framebus collect-garbage [--json]       unlink channels whose participants are all dead (alias gc)
//   framebus decode SOURCE... --channel NAME   decode files, URLs and image folders into a channel
//   framebus worker --channel NAME --results NAME --model M   classify a channel's frames
//   framebus run --source S... --model M       the whole pipeline: decode, classify, ordered results
//   framebus --version

#include <string>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "typed_options.hpp"
#ifdef FRAMEBUS_HAS_PIPELINE
#include <algorithm>
#include <iostream>
#include <vector>

#include "run/pipeline_file.hpp"
#endif
#include "framebus/version.hpp"

namespace {

std::string version_string() {
  return "framebus " + std::to_string(framebus::kVersionMajor) + "." + std::to_string(framebus::kVersionMinor) + "." +
         std::to_string(framebus::kVersionPatch) + " (shared-memory layout " +
         std::to_string(framebus::kLayoutVersion) + ")";
}

// --help and --version exit 0; any other parse error (unknown flag, missing or out-of-range
// value) exits with the one status every command uses for a bad command line.
int bad_command_line(const CLI::App& app, const CLI::ParseError& e) {
  const int printed = app.exit(e);
  return printed == 0 ? 0 : framebus::cli::kExitBadValue;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"framebus: zero-copy frame channels (/dev/shm/framebus.NAME), decoding and classification pipelines."};
  app.name("framebus");
  app.set_version_flag("--version", version_string());
  app.require_subcommand(1);

  int status = framebus::cli::kExitOk;
  framebus::cli::add_list_command(app, status);
  framebus::cli::add_inspect_command(app, status);
  framebus::cli::add_remove_command(app, status);
  framebus::cli::add_collect_garbage_command(app, status);
#ifdef FRAMEBUS_HAS_DECODE
  framebus::cli::add_decode_command(app, status);
#endif
#ifdef FRAMEBUS_HAS_PIPELINE
  framebus::cli::add_run_command(app, status);
  framebus::cli::add_worker_command(app, status);
  framebus::cli::add_read_frames_command(app, status);
#endif

#ifdef FRAMEBUS_HAS_PIPELINE
  // `run --config FILE` stands for the options in the file.
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string error;
  args = framebus::cli::expand_pipeline_file(args, error);
  if (!error.empty()) {
    std::cerr << "framebus run: " << error << '\n';
    return 2;
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return bad_command_line(app, e);
  }
#else
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return bad_command_line(app, e);
  }
#endif
  return status;
}
