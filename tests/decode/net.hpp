#pragma once
// Local network servers for the network-source tests: free ports, a TCP server that never
// answers, and checks of what listens where (read from /proc, so checking uses up no client).

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "support/child_process.hpp"

namespace framebus::testing {

/// A listening TCP socket on 127.0.0.1 with a free port; it never accepts.
class SilentServer {
 public:
  SilentServer();
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  ~SilentServer();
  [[nodiscard]] int port() const noexcept { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

/// A port that was free a moment ago: bound to port 0 on 127.0.0.1, read back, released.
int free_tcp_port();
int free_udp_port();

/// True when a TCP socket listens on `port` (/proc/net/tcp).
bool tcp_listening(int port);
/// True when a UDP socket is bound to `port` (/proc/net/udp).
bool udp_bound(int port);

/// Polls `ready` every 10 ms until it holds or `limit` passes; its last answer.
bool poll_until(const std::function<bool()>& ready, std::chrono::milliseconds limit = std::chrono::seconds(20));

/// The test RTSP server (tests/decode/rtsp_server.py) serving `file` at
/// rtsp://127.0.0.1:PORT/stream; returns once it listens (the test fails if it does not).
std::unique_ptr<Child> serve_rtsp(const std::string& file, int port);
std::string rtsp_url(int port);

}  // namespace framebus::testing
