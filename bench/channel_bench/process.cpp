#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "harness.hpp"

namespace framebus::bench {
namespace {

sigset_t gate_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

// SIGCHLD's default disposition is "ignore"; a real (empty) handler makes sure the kernel queues
// it for sigtimedwait whatever the mask history.
void on_sigchld(int) {}

std::runtime_error sys_error(const std::string& what) { return std::runtime_error(what + ": " + std::strerror(errno)); }

std::int64_t g_last_forced_kill_ns = 0;  // the orchestrator is single-threaded

}  // namespace

std::int64_t last_forced_kill_ns() noexcept { return g_last_forced_kill_ns; }

Interrupted::Interrupted(int signal_number)
    : std::runtime_error(std::string("interrupted by ") + strsignal(signal_number)), signal_(signal_number) {}

SignalGate::SignalGate() {
  struct sigaction action {};
  action.sa_handler = on_sigchld;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &action, nullptr);
  const sigset_t set = gate_signals();
  sigprocmask(SIG_BLOCK, &set, nullptr);
}

SignalGate::~SignalGate() {
  const sigset_t set = gate_signals();
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

void SignalGate::wait(std::int64_t timeout_ns) const {
  const sigset_t set = gate_signals();
  const std::int64_t bounded = timeout_ns < 0 ? 0 : timeout_ns;
  timespec timeout{static_cast<time_t>(bounded / 1'000'000'000LL), static_cast<long>(bounded % 1'000'000'000LL)};
  siginfo_t info{};
  const int sig = sigtimedwait(&set, &info, &timeout);
  if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) throw Interrupted(sig);
}

Fd::Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void Fd::reset() noexcept {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Pipe Pipe::create() {
  int fds[2] = {-1, -1};
  if (pipe2(fds, O_CLOEXEC) != 0) throw sys_error("pipe2");
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

ChildProcess ChildProcess::spawn(const SpawnOptions& options) {
  // Everything the child needs is prepared before fork(): after it, only async-signal-safe calls.
  std::vector<std::string> argv_storage;
  argv_storage.push_back(options.program);
  argv_storage.insert(argv_storage.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) throw sys_error("fork");
  if (pid == 0) {
    // Own process group: a terminal ^C reaches only the orchestrator, which then stops the
    // children in order (iceoryx clients before RouDi).
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, options.parent_death_signal);
    if (getppid() != parent) _exit(126);  // the orchestrator died before prctl
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // the mask survives exec; the peers need a clean one
    signal(SIGCHLD, SIG_DFL);
    for (const int fd : options.inherit_fds) {
      const int flags = fcntl(fd, F_GETFD);
      if (flags >= 0) fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    if (!options.output_path.empty()) {
      const int out = open(options.output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (out >= 0) {
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
      }
    }
    execvp(argv[0], argv.data());
    _exit(127);
  }
  ChildProcess child;
  child.pid_ = pid;
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), reaped_(std::exchange(other.reaped_, false)), status_(other.status_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    terminate();
    pid_ = std::exchange(other.pid_, -1);
    reaped_ = std::exchange(other.reaped_, false);
    status_ = other.status_;
  }
  return *this;
}

ChildProcess::~ChildProcess() { terminate(); }

bool ChildProcess::try_reap() noexcept {
  if (!running()) return true;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = status;
    return true;
  }
  if (r < 0 && errno == ECHILD) {  // someone else reaped it; treat as gone
    reaped_ = true;
    status_ = 0x7F00;
    return true;
  }
  return false;
}

void ChildProcess::kill(int signal_number) const noexcept {
  if (running()) ::kill(pid_, signal_number);
}

bool ChildProcess::wait_until(std::int64_t deadline_ns, const SignalGate& gate) {
  while (!try_reap()) {
    const std::int64_t left = deadline_ns - now_ns();
    if (left <= 0) return false;
    gate.wait(left);  // wakes on any SIGCHLD, then re-checks this child
  }
  return true;
}

void ChildProcess::terminate() noexcept {
  if (try_reap()) return;  // already exited on its own: not a forced kill
  ::kill(pid_, SIGKILL);
  g_last_forced_kill_ns = now_ns();
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  status_ = status;
}

bool ChildProcess::succeeded() const noexcept { return reaped_ && WIFEXITED(status_) && WEXITSTATUS(status_) == 0; }

std::string ChildProcess::describe() const {
  if (pid_ <= 0) return "not started";
  if (!reaped_) return "running";
  if (WIFEXITED(status_)) return "exit " + std::to_string(WEXITSTATUS(status_));
  if (WIFSIGNALED(status_)) {
    return "signal " + std::to_string(WTERMSIG(status_)) + " (" + strsignal(WTERMSIG(status_)) + ")";
  }
  return "status " + std::to_string(status_);
}

std::string self_executable() {
  char buffer[4096];
  const ssize_t n = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (n <= 0) throw sys_error("readlink /proc/self/exe");
  return std::string(buffer, static_cast<std::size_t>(n));
}

std::string find_in_path(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    return access(program.c_str(), X_OK) == 0 ? program : std::string();
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

}  // namespace framebus::bench
