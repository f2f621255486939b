// framebus: lists, removes and garbage-collects the framebus channels of this host.
//
//   framebus ls [NAME...] [--json]   channels, participants, queues and counters
//   framebus rm NAME... [--json]     unlink channels
//   framebus gc [--json]             unlink channels whose participants are all dead
//   framebus decode SOURCE... --channel NAME   decode files, URLs and image folders into a channel
//   framebus worker --channel NAME --results NAME --model M   classify a channel's frames
//   framebus run --source S... --model M       the whole pipeline: decode, classify, ordered results
//   framebus --version

#include <string>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "framebus/version.hpp"

namespace {

std::string version_string() {
  return "framebus " + std::to_string(framebus::kVersionMajor) + "." +
         std::to_string(framebus::kVersionMinor) + "." + std::to_string(framebus::kVersionPatch) +
         " (shared-memory layout " + std::to_string(framebus::kLayoutVersion) + ")";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"framebus: zero-copy frame channels (/dev/shm/framebus.NAME), decoding and classification pipelines."};
  app.name("framebus");
  app.set_version_flag("--version", version_string());
  app.require_subcommand(1);

  int status = framebus::cli::kExitOk;
  framebus::cli::add_ls_command(app, status);
  framebus::cli::add_rm_command(app, status);
  framebus::cli::add_gc_command(app, status);
#ifdef FRAMEBUS_HAS_DECODE
  framebus::cli::add_decode_command(app, status);
#endif
#ifdef FRAMEBUS_HAS_PIPELINE
  framebus::cli::add_run_command(app, status);
  framebus::cli::add_worker_command(app, status);
  framebus::cli::add_read_frames_command(app, status);
#endif

  CLI11_PARSE(app, argc, argv);
  return status;
}
