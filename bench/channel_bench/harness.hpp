#pragma once
// Timing and statistics shared by every peer: the clock, the producer's pacing, the consumer's
// latency histogram and sequence check, and pre-faulted buffers (so that no measured message pays
// a first-touch page fault).

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "wire.hpp"

namespace framebus::bench {

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process, so stamps compare across them.
std::int64_t now_ns() noexcept;
/// Sleeps until CLOCK_MONOTONIC reaches `deadline_ns` (absolute, so no drift accumulates).
void sleep_until_ns(std::int64_t deadline_ns) noexcept;

/// Decides when a producer sends its next message and whether that message is measured.
/// Burst: back to back. Paced: one message every 1/rate s. A warm-up phase comes first.
class Pacer {
 public:
  explicit Pacer(const PeerArgs& args) noexcept;
  /// Waits for the next send time (paced mode); false once the measured phase is over.
  bool next() noexcept;
  [[nodiscard]] std::uint64_t seq() const noexcept { return seq_; }
  [[nodiscard]] std::uint32_t flags() const noexcept { return measured_ ? kWireMeasured : 0U; }

 private:
  Mode mode_;
  std::int64_t period_ns_;
  std::int64_t measure_from_ns_;
  std::int64_t end_ns_;
  std::int64_t due_ns_;
  std::uint64_t seq_ = ~std::uint64_t{0};  // next() makes the first message 0
  bool measured_ = false;
};

/// Log-linear histogram of nanosecond values: exact below 128 ns, then 64 buckets per power of
/// two (<= 1.6 % error). Fixed memory, no allocation while measuring, no log() per sample.
class LatencyHistogram {
 public:
  LatencyHistogram();
  void add(std::int64_t ns) noexcept;
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  /// Value at quantile q in [0, 1] (bucket midpoint).
  [[nodiscard]] double quantile(double q) const noexcept;
  [[nodiscard]] double max() const noexcept { return static_cast<double>(max_); }
  [[nodiscard]] double mean() const noexcept;

 private:
  static constexpr std::size_t kLinear = 128;
  static constexpr std::size_t kSubBuckets = 64;
  static constexpr std::size_t kBuckets = kLinear + (64 - 7) * kSubBuckets;
  static std::size_t index_of(std::uint64_t v) noexcept;
  static double midpoint_of(std::size_t index) noexcept;
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  std::int64_t max_ = 0;
  long double sum_ = 0;
};

/// What a consumer records per message; finish() turns it into the PeerResult.
class ConsumerStats {
 public:
  /// `payload_ok`: the payload byte the consumer touched matched the header.
  void on_message(std::uint64_t seq, std::int64_t stamp_ns, std::uint32_t flags, std::int64_t received_ns,
                  bool payload_ok) noexcept;
  [[nodiscard]] PeerResult finish() const noexcept;

 private:
  LatencyHistogram latency_;
  std::uint64_t expected_seq_ = 0;
  std::uint64_t total_ = 0;
  std::uint64_t sequence_errors_ = 0;
  std::uint64_t payload_errors_ = 0;
  std::int64_t first_ns_ = 0;
  std::int64_t last_ns_ = 0;
};

/// Anonymous private memory, mapped and written once at creation so it is resident.
class MappedBuffer {
 public:
  explicit MappedBuffer(std::size_t bytes, unsigned char fill);
  MappedBuffer(MappedBuffer&& other) noexcept;
  MappedBuffer& operator=(MappedBuffer&&) = delete;
  MappedBuffer(const MappedBuffer&) = delete;
  MappedBuffer& operator=(const MappedBuffer&) = delete;
  ~MappedBuffer();
  [[nodiscard]] std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

/// Several distinct source frames used in turn, so a copying producer reads memory that is not
/// hot in cache from the previous message (a decoder's output would not be either).
class SourceFrames {
 public:
  static constexpr std::size_t kCount = 8;
  explicit SourceFrames(std::size_t bytes);
  /// The frame for message `seq`, with a WireHeader written at its start.
  std::byte* frame_for(std::uint64_t seq, const WireHeader& header) noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return bytes_; }

 private:
  std::size_t bytes_;
  std::vector<MappedBuffer> frames_;
};

/// Writes the header at the start of a payload (memcpy: payloads need no particular alignment).
void write_header(std::byte* payload, const WireHeader& header) noexcept;
WireHeader read_header(const std::byte* payload) noexcept;

/// Median of the values (empty: 0). Takes a copy: callers keep their order.
double median(std::vector<double> values);

}  // namespace framebus::bench
