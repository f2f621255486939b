#pragma once
// Real child processes for multi-process tests: fork, a pipe to say "ready", kill -9, and waits
// that are always bounded (a hang fails the test instead of blocking the suite).

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace framebus::testing {

using namespace std::chrono_literals;

/// A unique channel name for one test: tests never share channels, even when run in parallel.
std::string unique_name(std::string_view tag);

/// A one-way line channel between processes, created before fork.
class Pipe {
 public:
  Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe();
  void send(std::string_view line) const;
  /// The next line, or nullopt when the writer is gone or `timeout` passes.
  std::optional<std::string> receive(std::chrono::milliseconds timeout = 20s);
  /// Closes the end this process does not use (call after fork: a reader sees end of file only
  /// once every writer, the parent included, has closed its end).
  void close_write();
  void close_read();

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::string buffer_;
};

/// A forked child that runs `body` and exits with its return value (never returning into the test).
class Child {
 public:
  explicit Child(const std::function<int()>& body);
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Exit code; 128 + signal if killed; -1 if it did not end within `timeout` (it is then killed).
  int wait(std::chrono::milliseconds timeout = 30s);
  /// Waits until the child has exited but leaves it unreaped (a zombie), like a careless parent.
  bool wait_until_zombie(std::chrono::milliseconds timeout = 30s);
  /// SIGKILL and reap: the process is gone (not a zombie) when this returns.
  void kill9();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

/// Starts the program `path` with `args`, its stdout and stderr written to the file `log`.
std::unique_ptr<Child> start_program(const std::string& path, const std::vector<std::string>& args,
                                     const std::string& log);

/// The state letter of a process in /proc/PID/stat ('R', 'S', 'T', 'Z', ...; '?' if gone).
char proc_state(pid_t pid);
/// Waits (at most `timeout`) until process `pid` is in state `state`: e.g. 'S', asleep in the
/// wait it announced, or 'T', stopped.
bool wait_for_proc_state(pid_t pid, char state, std::chrono::milliseconds timeout = 10s);

/// The whole content of a text file ("" when it cannot be read).
std::string read_text(const std::string& path);

}  // namespace framebus::testing
