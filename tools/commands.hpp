#pragma once
// The subcommands of the `framebus` tool. Each lives in its own cmd_<name>.cpp.

#include <CLI/CLI.hpp>

namespace framebus::cli {

/// Exit statuses of every subcommand. CLI11 uses its own (>= 100) for usage errors.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;

// Each function adds one subcommand to `app`. When the subcommand runs, its callback stores the
// exit status in `status` (which must outlive app.parse()).
// Channel administration: `list` (alias `ls`), `inspect`, `remove` (alias `rm`), `collect-garbage`
// (alias `gc`): the names of the library's admin calls.
void add_list_command(CLI::App& app, int& status);
void add_inspect_command(CLI::App& app, int& status);
void add_remove_command(CLI::App& app, int& status);
void add_collect_garbage_command(CLI::App& app, int& status);
#ifdef FRAMEBUS_HAS_DECODE
void add_decode_command(CLI::App& app, int& status);
#endif
#ifdef FRAMEBUS_HAS_PIPELINE
void add_worker_command(CLI::App& app, int& status);
void add_run_command(CLI::App& app, int& status);
void add_read_frames_command(CLI::App& app, int& status);
#endif

}  // namespace framebus::cli
