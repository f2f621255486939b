#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace framebus::bench {
namespace {

std::atomic<bool> g_stop{false};

void on_stop_signal(int /*signal*/) { g_stop.store(true); }

std::string describe(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    text += arg;
  }
  return text;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + ::strsignal(WTERMSIG(status));
  return "unknown wait status";
}

struct Child {
  pid_t pid = -1;
  std::string command;
  bool done = false;
};

pid_t spawn(const std::vector<std::string>& argv, std::string& error) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  // ffmpeg reads stdin for its interactive keys; a benchmark child must never block on a tty.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    error = "cannot start '" + describe(argv) + "': " + std::strerror(rc);
    return -1;
  }
  return pid;
}

void kill_and_reap(std::vector<Child>& children) {
  for (auto& child : children) {
    if (child.done) continue;
    ::kill(child.pid, SIGKILL);
    int status = 0;
    while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
    }
    child.done = true;
  }
}

}  // namespace

bool stop_requested() noexcept { return g_stop.load(); }

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = &on_stop_signal;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

SpawnOutcome run_all(const std::vector<std::vector<std::string>>& commands, std::chrono::seconds timeout) {
  SpawnOutcome outcome;
  std::vector<Child> children;
  for (const auto& argv : commands) {
    std::string error;
    const pid_t pid = spawn(argv, error);
    if (pid < 0) {
      kill_and_reap(children);
      outcome.error = error;
      return outcome;
    }
    children.push_back(Child{pid, describe(argv), false});
  }
  // Polling with WNOHANG keeps the deadline simple; a 1 ms step is far below the run times
  // measured here (seconds), so it does not bias the ffmpeg figures.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t remaining = children.size();
  while (remaining > 0) {
    for (auto& child : children) {
      if (child.done) continue;
      int status = 0;
      const pid_t got = ::waitpid(child.pid, &status, WNOHANG);
      if (got == 0) continue;
      child.done = true;
      --remaining;
      if (got < 0) {
        if (outcome.error.empty()) outcome.error = "waitpid failed for '" + child.command + "'";
      } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (outcome.error.empty()) outcome.error = "'" + child.command + "' failed: " + describe_status(status);
      }
    }
    if (remaining == 0) break;
    if (stop_requested()) {
      kill_and_reap(children);
      outcome.error = "interrupted";
      return outcome;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill_and_reap(children);
      outcome.error = "timed out after " + std::to_string(timeout.count()) + " s waiting for '" +
                      children.front().command + "' (and its siblings)";
      return outcome;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  outcome.ok = outcome.error.empty();
  return outcome;
}

}  // namespace framebus::bench
