#pragma once
// What the orchestrator and its peer processes agree on: the peer's job (passed on the command
// line), the header every benchmark message starts with, and the fixed-size result a peer writes
// back through a pipe. Kept free of any transport's headers so every peer file can include it.

#include <cstdint>
#include <string>
#include <string_view>

namespace framebus::bench {

/// The transports compared. One peer pair (or one process for memcpy_ref) per run.
enum class Transport : std::uint8_t {
  framebus_loan,  ///< framebus loan()/publish(): zero copy.
  framebus_send,  ///< framebus send(): one copy into the slot.
  iceoryx,        ///< Eclipse iceoryx 2.0.3 untyped loan/publish, WaitSet on the subscriber.
  ring_copy,      ///< POSIX shm ring + process-shared semaphores, memcpy into the slot.
  ring_nocopy,    ///< Same ring, producer writes the header in place (index hand-off).
  memcpy_ref,     ///< One process, one core: memcpy of the payload (the price of a copy).
};

enum class Mode : std::uint8_t {
  burst,  ///< As fast as the queue allows: throughput, and latency that is mostly queueing.
  paced,  ///< Fixed low rate: the consumer really sleeps and is woken for every message.
};

enum class Role : std::uint8_t { producer, consumer, single };

std::string_view to_string(Transport transport) noexcept;
std::string_view to_string(Mode mode) noexcept;
std::string_view to_string(Role role) noexcept;
bool parse(std::string_view text, Transport& out) noexcept;
bool parse(std::string_view text, Mode& out) noexcept;
bool parse(std::string_view text, Role& out) noexcept;

/// Everything a peer process needs; travels as command-line options of the role mode.
struct PeerArgs {
  Role role = Role::single;
  Transport transport = Transport::memcpy_ref;
  Mode mode = Mode::burst;
  std::uint64_t payload = 0;    ///< Payload bytes per message.
  std::uint32_t depth = 4;      ///< Queue depth (slots / queue capacity).
  double seconds = 1.0;         ///< Measured phase.
  double warmup_seconds = 0.2;  ///< Unmeasured phase before it (first touches, wake-up paths).
  double rate = 200.0;          ///< Messages per second in paced mode.
  std::string name;             ///< Channel / shm object / iceoryx instance name.
  int go_fd = -1;               ///< Start barrier: the consumer writes, the producer reads.
  int result_fd = -1;           ///< Where the PeerResult goes.
  int cpu = -1;                 ///< Pin the process to this CPU (-1: let the scheduler place it).
};

/// Flags of WireHeader::flags (and of framebus MessageMeta::flags above flags::kUserBase).
inline constexpr std::uint32_t kWireMeasured = 1U << 0;  ///< Counted in the statistics.
inline constexpr std::uint32_t kWireEnd = 1U << 1;       ///< Last message: the consumer stops.

/// First bytes of every payload. 24 bytes, so it fits into the 64-byte case.
struct WireHeader {
  std::uint64_t seq = 0;      ///< 0, 1, 2, ... over warm-up and measured phase.
  std::int64_t stamp_ns = 0;  ///< Producer CLOCK_MONOTONIC before it waited for a slot.
  std::uint32_t flags = 0;
  std::uint32_t reserved = 0;
};
static_assert(sizeof(WireHeader) == 24);

/// A peer's outcome: trivially copyable, written in one write() (< PIPE_BUF) to result_fd.
struct PeerResult {
  static constexpr std::uint32_t kMagic = 0x46424252;  // "FBBR"
  std::uint32_t magic = kMagic;
  std::uint32_t ok = 0;
  std::uint64_t messages = 0;  ///< Measured messages received (or copies, memcpy_ref).
  std::uint64_t total = 0;     ///< All messages handled, warm-up included.
  std::int64_t first_ns = 0;   ///< Receipt time of the first measured message.
  std::int64_t last_ns = 0;    ///< Receipt time of the last measured message.
  double latency_p50_ns = 0;
  double latency_p99_ns = 0;
  double latency_max_ns = 0;
  double latency_mean_ns = 0;
  std::uint64_t sequence_errors = 0;  ///< Messages missing, repeated or out of order.
  std::uint64_t payload_errors = 0;   ///< Payload byte that did not match the header.
  // Diagnostics of the peer process over its whole life (getrusage), to explain outliers: a
  // spinning waiter shows CPU time close to wall time, a preempted one involuntary switches.
  double cpu_seconds = 0;
  std::uint64_t voluntary_switches = 0;
  std::uint64_t involuntary_switches = 0;
  std::int32_t last_cpu = -1;  ///< CPU the process ran on when it finished.
  char error[256] = {};

  void set_error(std::string_view text) noexcept;
  /// Measured messages per second, from first to last measured receipt.
  [[nodiscard]] double rate() const noexcept;
};

}  // namespace framebus::bench
