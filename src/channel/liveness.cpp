#include "channel/liveness.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace framebus::detail {

namespace {

std::atomic<std::uint64_t> g_fork_generation{0};
std::atomic<std::uint64_t> g_self_identity{0};

void on_fork_child() noexcept {
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
  g_self_identity.store(0, std::memory_order_relaxed);
}

void install_fork_handler() {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(nullptr, nullptr, &on_fork_child); });
}

struct ProcStat {
  bool exists = false;
  char state = '?';
  std::uint64_t start_time = 0;
};

// Reads the state (field 3) and start time (field 22) of /proc/PID/stat. The command name (field
// 2) may contain spaces and parentheses, so parsing starts after its last ')'.
ProcStat read_proc_stat(pid_t pid) noexcept {
  ProcStat out;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return out;
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return out;
  out.exists = true;
  p += 2;  // ") S ..."
  out.state = *p;
  // Fields after the state: ppid(4) pgrp(5) session(6) tty(7) tpgid(8) flags(9) minflt(10)
  // cminflt(11) majflt(12) cmajflt(13) utime(14) stime(15) cutime(16) cstime(17) priority(18)
  // nice(19) num_threads(20) itrealvalue(21) starttime(22).
  int field = 3;
  while (*p != '\0' && field < 22) {
    if (*p == ' ') ++field;
    ++p;
  }
  std::uint64_t value = 0;
  while (*p >= '0' && *p <= '9') value = value * 10 + static_cast<std::uint64_t>(*p++ - '0');
  out.start_time = value;
  return out;
}

std::uint64_t make_identity(pid_t pid, std::uint64_t start_time) noexcept {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(pid)) << 32) | (start_time & 0xFFFFFFFFULL);
}

}  // namespace

std::uint64_t self_identity() noexcept {
  install_fork_handler();
  std::uint64_t id = g_self_identity.load(std::memory_order_relaxed);
  if (id == 0) {
    const pid_t pid = ::getpid();
    id = make_identity(pid, read_proc_stat(pid).start_time);
    g_self_identity.store(id, std::memory_order_relaxed);
  }
  return id;
}

std::uint64_t fork_generation() noexcept {
  install_fork_handler();
  return g_fork_generation.load(std::memory_order_relaxed);
}

bool identity_alive(std::uint64_t identity) noexcept {
  if (identity == 0) return false;
  const pid_t pid = identity_pid(identity);
  if (pid <= 0) return false;
  const ProcStat st = read_proc_stat(pid);
  if (!st.exists) return false;
  if (st.state == 'Z' || st.state == 'X' || st.state == 'x') return false;
  return make_identity(pid, st.start_time) == identity;
}

}  // namespace framebus::detail
