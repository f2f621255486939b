#pragma once
// How participants and the driver talk: one line per record over a pipe, and the stamp every
// message carries so that a consumer can prove what it received.
//
// Participant -> driver (its status pipe; one write() per line, shorter than PIPE_BUF, so a kill
// never leaves half a record and everything written before the kill stays readable):
//   O                        opened the channel
//   A PHASE                  paused at PHASE, waiting for a token
//   W SEQ                    producer: about to loan message SEQ
//   P SEQ DISCARDED NS       producer: publish() returned for SEQ (DISCARDED 1: policies dropped it)
//   V EOS                    producer: about to call end_stream(EOS)
//   Q EOS NS                 producer: end_stream(EOS) returned
//   F NS                     producer: closed, about to exit
//   R STREAM SEQ REDELIVERED OK NS   consumer: received a message, checksum OK (1) or not (0)
//   E EOS REDELIVERED NS     consumer: received an end-of-stream marker
//   L STREAM SEQ             consumer: released a message it had received
//   T STREAM SEQ             consumer: a held message changed under it (torn)
//   X REASON                 consumer: end of channel; waits for a token
//   Z TEXT                   an error; the participant exits with status 3
// NS is when it happened (now_ns(): CLOCK_MONOTONIC, one clock for every process of the host), so
// that the driver can tell what a survivor did after a death, however late it reads the pipe.
// Driver -> participant (its control pipe): "arm PHASE AFTER", "go", "quit".

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace framebus::torture {

/// CLOCK_MONOTONIC in nanoseconds: comparable between the processes of one host.
std::int64_t now_ns() noexcept;

/// Writes one line with a single write() (retried on EINTR only).
void write_line(int fd, std::string_view line) noexcept;

/// Splits what arrives on a pipe into lines.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  /// Reads what is available now (the fd is non-blocking); false once the writer is gone.
  bool fill();
  /// The next complete line, if any.
  std::optional<std::string> next();
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  int fd_;
  std::string buffer_;
};

/// Blocks until a line arrives on `fd` (a control pipe); nullopt when the writer is gone.
std::optional<std::string> read_line_blocking(int fd, std::string& buffer);
/// A line if one is available now, without blocking.
std::optional<std::string> read_line_now(int fd, std::string& buffer);

/// Splits a record on spaces.
std::vector<std::string_view> fields(std::string_view line);

/// Carried in every message's user metadata: who sent it and the checksum of its payload.
struct Stamp {
  std::uint32_t magic;
  std::uint32_t stream;
  std::uint64_t seq;
  std::uint64_t size;
  std::uint32_t crc;
  std::uint32_t reserved;
};
inline constexpr std::uint32_t kStampMagic = 0x54525452;  // "RTRT"

/// Fills a payload with bytes determined by (stream, seq) and returns its stamp.
Stamp fill_payload(std::span<std::byte> payload, std::uint32_t stream, std::uint64_t seq);
/// CRC-32 (zlib) of the bytes.
std::uint32_t checksum(std::span<const std::byte> bytes) noexcept;

}  // namespace framebus::torture
