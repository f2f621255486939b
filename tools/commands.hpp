#pragma once
// The subcommands of the `framebus` tool. Each lives in its own cmd_<name>.cpp.

#include <CLI/CLI.hpp>

namespace framebus::cli {

/// Exit statuses of every subcommand. CLI11 uses its own (>= 100) for usage errors.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;

// Each function adds one subcommand to `app`. When the subcommand runs, its callback stores the
// exit status in `status` (which must outlive app.parse()).
void add_ls_command(CLI::App& app, int& status);
void add_rm_command(CLI::App& app, int& status);
void add_gc_command(CLI::App& app, int& status);
#ifdef FRAMEBUS_HAS_DECODE
void add_decode_command(CLI::App& app, int& status);
#endif
#ifdef FRAMEBUS_HAS_PIPELINE
void add_worker_command(CLI::App& app, int& status);
void add_run_command(CLI::App& app, int& status);
void add_read_frames_command(CLI::App& app, int& status);
#endif

}  // namespace framebus::cli
