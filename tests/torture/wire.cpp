#include "wire.hpp"

#include <poll.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace framebus::torture {

std::int64_t now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void write_line(int fd, std::string_view line) noexcept {
  char buf[512];
  const std::size_t n = std::min(line.size(), sizeof buf - 1);
  std::memcpy(buf, line.data(), n);
  buf[n] = '\n';
  while (::write(fd, buf, n + 1) < 0 && errno == EINTR) {
  }
}

bool LineReader::fill() {
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n > 0) {
      buffer_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    return false;  // end of file: every writer is gone
  }
}

std::optional<std::string> LineReader::next() {
  const auto nl = buffer_.find('\n');
  if (nl == std::string::npos) return std::nullopt;
  std::string line = buffer_.substr(0, nl);
  buffer_.erase(0, nl + 1);
  return line;
}

namespace {
std::optional<std::string> take_line(std::string& buffer) {
  const auto nl = buffer.find('\n');
  if (nl == std::string::npos) return std::nullopt;
  std::string line = buffer.substr(0, nl);
  buffer.erase(0, nl + 1);
  return line;
}

// Reads once; false at end of file.
bool read_some(int fd, std::string& buffer) {
  char buf[256];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      buffer.append(buf, static_cast<std::size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}
}  // namespace

std::optional<std::string> read_line_blocking(int fd, std::string& buffer) {
  for (;;) {
    if (auto line = take_line(buffer)) return line;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) return std::nullopt;
    if ((pfd.revents & (POLLIN | POLLHUP)) != 0 && !read_some(fd, buffer)) return take_line(buffer);
  }
}

std::optional<std::string> read_line_now(int fd, std::string& buffer) {
  if (auto line = take_line(buffer)) return line;
  pollfd pfd{fd, POLLIN, 0};
  if (::poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN) != 0) read_some(fd, buffer);
  return take_line(buffer);
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (at < line.size()) {
    const std::size_t end = std::min(line.find(' ', at), line.size());
    if (end > at) out.push_back(line.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

Stamp fill_payload(std::span<std::byte> payload, std::uint32_t stream, std::uint64_t seq) {
  // Bytes from a SplitMix64 stream seeded by (stream, seq): cheap, and different in every message.
  std::uint64_t state = (std::uint64_t{stream} << 40) ^ seq ^ 0x5DEECE66DULL;
  std::size_t i = 0;
  while (i < payload.size()) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    const std::size_t n = std::min<std::size_t>(8, payload.size() - i);
    std::memcpy(payload.data() + i, &z, n);
    i += n;
  }
  return Stamp{kStampMagic, stream, seq, payload.size(), checksum(payload), 0};
}

std::uint32_t checksum(std::span<const std::byte> bytes) noexcept {
  return static_cast<std::uint32_t>(::crc32_z(0L, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

}  // namespace framebus::torture
