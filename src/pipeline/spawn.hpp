#pragma once
// Child processes of a pipeline: the `framebus` executable, started with a subcommand.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "framebus/error.hpp"

namespace framebus::pipeline_detail {

/// The `framebus` executable to start children from: `configured` when set, else the running
/// executable when it is `framebus`, else $FRAMEBUS_EXECUTABLE, else `framebus` next to the
/// running executable or on PATH. A not_found error names FRAMEBUS_EXECUTABLE otherwise.
Result<std::string> find_executable(const std::string& configured);

/// A started child. `out_fd` reads its stdout when it was captured (else -1).
struct ChildProcess {
  pid_t pid = -1;
  int out_fd = -1;
};

/// Starts `exe args...`. With capture_stdout, the child's stdout is a pipe whose non-blocking
/// read end is out_fd. The child gets the default signal dispositions, and a mask that blocks
/// SIGINT only: a terminal's Ctrl-C, sent to the whole process group, is for the supervisor,
/// which stops its children in order.
std::optional<ChildProcess> spawn_child(const std::string& exe, const std::vector<std::string>& args,
                                        bool capture_stdout);

/// How a child ended: exit status, or the signal that killed it.
struct ExitInfo {
  bool signaled = false;
  int code = 0;  ///< The exit status, or the signal number.
  [[nodiscard]] bool ok() const noexcept { return !signaled && code == 0; }
  [[nodiscard]] std::string describe() const;
};

/// waitpid(pid, WNOHANG): the exit, once the child has ended.
std::optional<ExitInfo> poll_exit(pid_t pid);

}  // namespace framebus::pipeline_detail
