#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "peers.hpp"

namespace framebus::bench {

void signal_ready(int go_fd) noexcept {
  if (go_fd < 0) return;
  const char byte = 'g';
  while (write(go_fd, &byte, 1) < 0 && errno == EINTR) {
  }
  close(go_fd);
}

bool wait_ready(int go_fd, int timeout_ms, PeerResult& error) {
  if (go_fd < 0) return true;
  pollfd pfd{go_fd, POLLIN, 0};
  int n = 0;
  while ((n = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  if (n == 0) {
    error.set_error("consumer did not attach within " + std::to_string(timeout_ms) + " ms");
    return false;
  }
  char byte = 0;
  ssize_t got = 0;
  while ((got = read(go_fd, &byte, 1)) < 0 && errno == EINTR) {
  }
  close(go_fd);
  if (got != 1) {
    error.set_error(got == 0 ? "consumer exited before attaching"
                             : std::string("read of start barrier: ") + std::strerror(errno));
    return false;
  }
  return true;
}

}  // namespace framebus::bench
