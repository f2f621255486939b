#include "interrupt.hpp"

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <thread>

namespace framebus::python {

namespace {

// The main thread's call in progress, and the helper that stops it. Per process: a forked child
// (multiprocessing) makes its own on first use, as it inherits neither the parent's thread nor,
// usefully, its eventfd.
std::mutex g_mutex;
std::stop_source* g_current = nullptr;  // guarded by g_mutex
pid_t g_pid = -1;                       // main thread only
int g_eventfd = -1;                     // written by the handler; read by the helper
struct sigaction g_python_handler {};   // Python's handler, restored after each call

void on_sigint(int sig, siginfo_t* info, void* context) {
  const int saved = errno;
  const std::uint64_t one = 1;
  (void)::write(g_eventfd, &one, sizeof one);
  // Python's handler runs as it would have: it sets the flag that raises KeyboardInterrupt.
  if ((g_python_handler.sa_flags & SA_SIGINFO) != 0) {
    g_python_handler.sa_sigaction(sig, info, context);
  } else if (g_python_handler.sa_handler != SIG_DFL && g_python_handler.sa_handler != SIG_IGN) {
    g_python_handler.sa_handler(sig);
  }
  errno = saved;
}

void helper(int fd) {
  for (;;) {
    std::uint64_t count = 0;
    if (::read(fd, &count, sizeof count) != sizeof count) {
      if (errno == EINTR) continue;
      return;
    }
    const std::lock_guard lock(g_mutex);
    if (g_current != nullptr) g_current->request_stop();
  }
}

bool in_main_thread() {
  static const unsigned long kMainIdent =
      pybind11::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  return PyThread_get_thread_ident() == kMainIdent;
}

bool finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

}  // namespace

InterruptScope::InterruptScope() {
  if (finalizing() || !in_main_thread()) return;
  struct sigaction current {};
  if (::sigaction(SIGINT, nullptr, &current) != 0) return;
  // SIGINT ignored, or left to the system: there is no Python handler to run, nothing to raise.
  if ((current.sa_flags & SA_SIGINFO) == 0 && (current.sa_handler == SIG_DFL || current.sa_handler == SIG_IGN)) return;
  if (g_pid != ::getpid()) {
    if (g_eventfd >= 0) ::close(g_eventfd);  // the parent's, inherited through fork
    g_eventfd = ::eventfd(0, EFD_CLOEXEC);
    if (g_eventfd < 0) return;
    g_pid = ::getpid();
    std::thread(helper, g_eventfd).detach();  // lives as long as the process; never takes the GIL
  }
  source_ = std::stop_source();
  {
    const std::lock_guard lock(g_mutex);
    g_current = &source_;
  }
  g_python_handler = current;
  struct sigaction ours = current;
  ours.sa_flags = (current.sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
  ours.sa_sigaction = &on_sigint;
  installed_ = ::sigaction(SIGINT, &ours, nullptr) == 0;
  if (!installed_) {
    const std::lock_guard lock(g_mutex);
    g_current = nullptr;
  }
}

void InterruptScope::end() noexcept {
  if (!installed_) return;
  installed_ = false;
  ::sigaction(SIGINT, &g_python_handler, nullptr);
  const std::lock_guard lock(g_mutex);
  g_current = nullptr;
}

InterruptScope::~InterruptScope() { end(); }

}  // namespace framebus::python
