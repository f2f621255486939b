// posix_spawn rather than fork: the supervisor may have threads (OpenCV's pool, from checking
// the model), and a forked copy of a multithreaded process may only call async-signal-safe code.

#include "pipeline/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <string_view>

extern char** environ;

namespace framebus::pipeline_detail {
namespace {

std::string self_exe() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/proc/self/exe";
  return std::string(buf, static_cast<std::size_t>(n));
}

bool executable(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

Result<std::string> find_executable(const std::string& configured) {
  namespace fs = std::filesystem;
  if (!configured.empty()) {
    if (executable(configured)) return configured;
    return make_error(ErrorCode::not_found, "executable '" + configured + "' is not an executable file");
  }
  const fs::path self = self_exe();
  if (self.filename() == "framebus") return self.string();
  if (const char* env = std::getenv("FRAMEBUS_EXECUTABLE"); env != nullptr && *env != '\0') {
    if (executable(env)) return std::string(env);
    return make_error(ErrorCode::not_found,
                      "FRAMEBUS_EXECUTABLE is '" + std::string(env) + "', which is not an executable file");
  }
  // An embedding program (Python, a service) installed beside the tool.
  if (const fs::path beside = self.parent_path() / "framebus"; executable(beside)) return beside.string();
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string_view rest(path);
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const std::string dir(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      if (!dir.empty() && executable(fs::path(dir) / "framebus")) return (fs::path(dir) / "framebus").string();
    }
  }
  return make_error(ErrorCode::not_found,
                    "cannot find the framebus executable, which runs the pipeline's decoder and workers: "
                    "set FRAMEBUS_EXECUTABLE (or the executable option) to its path, or put it on PATH");
}

std::optional<ChildProcess> spawn_child(const std::string& exe, const std::vector<std::string>& args,
                                        bool capture_stdout) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  int fds[2] = {-1, -1};
  if (capture_stdout && ::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (capture_stdout) posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Ctrl-C at a terminal signals the whole foreground process group, children included. The
  // supervisor alone acts on it (decoder first, then the workers drain): a child starts with
  // SIGINT blocked, so a terminal's SIGINT stays pending in it and is never delivered. The
  // supervisor stops its children with SIGTERM and SIGKILL.
  sigset_t interrupt_only;
  sigemptyset(&interrupt_only);
  sigaddset(&interrupt_only, SIGINT);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &interrupt_only);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, exe.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (capture_stdout) ::close(fds[1]);
  if (rc != 0) {
    if (capture_stdout) ::close(fds[0]);
    errno = rc;
    return std::nullopt;
  }
  ChildProcess child;
  child.pid = pid;
  if (capture_stdout) {
    ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    child.out_fd = fds[0];
  }
  return child;
}

std::string ExitInfo::describe() const {
  if (signaled) return std::string("killed by signal ") + std::to_string(code) + " (" + ::strsignal(code) + ")";
  return "exit status " + std::to_string(code);
}

std::optional<ExitInfo> poll_exit(pid_t pid) {
  int status = 0;
  const pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r != pid) return std::nullopt;
  ExitInfo info;
  if (WIFSIGNALED(status)) {
    info.signaled = true;
    info.code = WTERMSIG(status);
  } else {
    info.code = WEXITSTATUS(status);
  }
  return info;
}

}  // namespace framebus::pipeline_detail
