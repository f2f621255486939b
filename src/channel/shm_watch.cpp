#include "channel/shm_watch.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "common/names.hpp"

namespace framebus::detail {

namespace {

// The calling thread's inotify instance and stop eventfd; recreated in a forked child, which
// would otherwise share its parent's (and steal its events).
class ThreadWatch {
 public:
  ThreadWatch() = default;
  ThreadWatch(const ThreadWatch&) = delete;
  ThreadWatch& operator=(const ThreadWatch&) = delete;
  ~ThreadWatch() { reset(); }

  // False when the kernel refuses an instance (inotify limits): the caller then sleeps by time.
  bool ready(std::uint32_t events) {
    if (pid_ != ::getpid()) {
      reset();
      pid_ = ::getpid();
      inotify_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
      stop_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    if (inotify_ < 0 || stop_ < 0) return false;
    if ((events & ~events_) != 0) {
      // Remembered only once the kernel took the watch: a refused one is asked for again.
      if (::inotify_add_watch(inotify_, std::string(kShmDir).c_str(), events_ | events) < 0) return false;
      events_ |= events;
    }
    return true;
  }

  // Forgets what happened before this wait.
  void drain() const noexcept {
    char buf[4096];
    while (::read(inotify_, buf, sizeof buf) > 0) {
    }
    std::uint64_t count = 0;
    (void)::read(stop_, &count, sizeof count);
  }

  [[nodiscard]] int inotify() const noexcept { return inotify_; }
  [[nodiscard]] int stop_fd() const noexcept { return stop_; }

 private:
  void reset() noexcept {
    // Only this process's own descriptors: a forked child's copies are closed too, which does
    // not touch the parent's.
    if (inotify_ >= 0) ::close(inotify_);
    if (stop_ >= 0) ::close(stop_);
    inotify_ = stop_ = -1;
    events_ = 0;
  }

  pid_t pid_ = -1;
  int inotify_ = -1;
  int stop_ = -1;
  std::uint32_t events_ = 0;
};

// A stop request writes to the eventfd the wait polls (write(2) on an eventfd never blocks here).
struct WriteEventfd {
  int fd;
  void operator()() const noexcept {
    const std::uint64_t one = 1;
    (void)::write(fd, &one, sizeof one);
  }
};

}  // namespace

void wait_for_shm_event(std::uint32_t events, std::int64_t timeout_ns, const std::stop_token& stop,
                        const std::function<bool()>& ready) {
  thread_local ThreadWatch watch;
  if (!watch.ready(events)) {
    // No inotify (its limits are reached): look again in short steps; the only polling left,
    // and only in this failure.
    if (!stop.stop_requested() && !ready())
      ::poll(nullptr, 0, static_cast<int>(std::min<std::int64_t>(timeout_ns / 1'000'000 + 1, 10)));
    return;
  }
  watch.drain();
  const std::stop_callback on_stop(stop, WriteEventfd{watch.stop_fd()});
  if (stop.stop_requested() || ready()) return;
  pollfd fds[2] = {{watch.inotify(), POLLIN, 0}, {watch.stop_fd(), POLLIN, 0}};
  const std::int64_t ms = timeout_ns < 0 ? -1 : std::min<std::int64_t>(timeout_ns / 1'000'000 + 1, INT_MAX);
  ::poll(fds, 2, static_cast<int>(ms));
}

}  // namespace framebus::detail
