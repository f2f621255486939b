#include "decode/net.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace framebus::testing {

namespace {

// Binds a socket of `type` to 127.0.0.1:0 and returns it with the port the kernel chose.
int bind_loopback(int type, int& port) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "cannot bind a socket on 127.0.0.1";
  }
  port = ntohs(addr.sin_port);
  return fd;
}

// True when /proc/net/<table> has a socket on local `port` in state `state` ("" for any).
bool proc_has_port(const char* table, int port, const std::string& state) {
  std::ifstream in(std::string("/proc/net/") + table);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, st;
    fields >> slot >> local >> remote >> st;
    const auto colon = local.find(':');
    if (colon == std::string::npos || std::stoi(local.substr(colon + 1), nullptr, 16) != port) continue;
    if (state.empty() || st == state) return true;
  }
  return false;
}

}  // namespace

SilentServer::SilentServer() {
  fd_ = bind_loopback(SOCK_STREAM, port_);
  if (::listen(fd_, 8) != 0) ADD_FAILURE() << "cannot listen on 127.0.0.1";
}

SilentServer::~SilentServer() { ::close(fd_); }

int free_tcp_port() { return SilentServer().port(); }

int free_udp_port() {
  int port = 0;
  ::close(bind_loopback(SOCK_DGRAM, port));
  return port;
}

bool tcp_listening(int port) { return proc_has_port("tcp", port, "0A"); }
bool udp_bound(int port) { return proc_has_port("udp", port, ""); }

bool poll_until(const std::function<bool()>& ready, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() >= deadline) return ready();
    // Polling a condition with a bound, not sleeping for synchronisation.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::string rtsp_url(int port) { return "rtsp://127.0.0.1:" + std::to_string(port) + "/stream"; }

std::unique_ptr<Child> serve_rtsp(const std::string& file, int port) {
  const std::string script = FRAMEBUS_TEST_RTSP_SERVER;
  const std::string port_text = std::to_string(port);
  auto child = std::make_unique<Child>([&] {
    ::execl("/usr/bin/python3", "python3", script.c_str(), file.c_str(), "--port", port_text.c_str(),
            static_cast<char*>(nullptr));
    return 127;
  });
  EXPECT_TRUE(poll_until([&] { return tcp_listening(port); })) << "the RTSP server did not come up on port " << port;
  return child;
}

}  // namespace framebus::testing
