#pragma once
// Process plumbing of the orchestrator: child processes that are always reaped (RAII), pipes,
// and synchronous signal handling. SIGCHLD, SIGINT, SIGTERM and SIGHUP stay blocked in the
// orchestrator and are taken with sigtimedwait() at its wait points, so no asynchronous handler
// ever races with fork, exec or clean-up; an interrupt becomes an exception that unwinds through
// the guards (children killed and reaped, RouDi stopped, shared memory unlinked).

#include <sys/types.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace framebus::bench {

/// Thrown from SignalGate::wait when the user interrupted the run.
class Interrupted : public std::runtime_error {
 public:
  explicit Interrupted(int signal_number);
  [[nodiscard]] int signal_number() const noexcept { return signal_; }

 private:
  int signal_;
};

class SignalGate {
 public:
  SignalGate();
  ~SignalGate();
  SignalGate(const SignalGate&) = delete;
  SignalGate& operator=(const SignalGate&) = delete;
  /// Sleeps until a child changed state, `timeout_ns` passed, or an interrupt (thrown).
  void wait(std::int64_t timeout_ns) const;
  /// Throws if an interrupt is already pending.
  void check() const { wait(0); }
};

/// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept;
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

/// A close-on-exec pipe; a child that should inherit an end names it in SpawnOptions.
struct Pipe {
  Fd read_end;
  Fd write_end;
  static Pipe create();
};

struct SpawnOptions {
  std::string program;            ///< Looked up in PATH when it has no '/'.
  std::vector<std::string> args;  ///< argv[1..].
  std::vector<int> inherit_fds;   ///< Descriptors kept open across exec.
  std::string output_path;        ///< Non-empty: stdout and stderr go to this file.
  int parent_death_signal = 9;    ///< Sent to the child if the orchestrator dies (SIGKILL).
};

/// A child process in its own process group. The destructor kills and reaps a child still
/// running, so no path out of the orchestrator leaves one behind.
class ChildProcess {
 public:
  static ChildProcess spawn(const SpawnOptions& options);
  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] bool running() const noexcept { return pid_ > 0 && !reaped_; }
  /// Reaps the child if it has exited; true when it is gone.
  bool try_reap() noexcept;
  void kill(int signal_number) const noexcept;
  /// Waits until the child is reaped or CLOCK_MONOTONIC passes `deadline_ns`.
  bool wait_until(std::int64_t deadline_ns, const SignalGate& gate);
  /// Kills (SIGKILL) and reaps; safe to call at any time.
  void terminate() noexcept;
  /// True when it exited with status 0.
  [[nodiscard]] bool succeeded() const noexcept;
  /// "exit 0", "exit 3", "signal 9 (Killed)", "running".
  [[nodiscard]] std::string describe() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

/// CLOCK_MONOTONIC time of the last SIGKILL this process sent to a child (0: never). RouDi must
/// not be stopped before it has noticed such a child's death (see Roudi::stop).
std::int64_t last_forced_kill_ns() noexcept;

/// Path of the running executable (re-executed for the peer roles).
std::string self_executable();
/// Finds `program` in PATH; empty when absent.
std::string find_in_path(const std::string& program);

}  // namespace framebus::bench
