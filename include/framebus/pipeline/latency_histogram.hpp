#pragma once
/// @file latency_histogram.hpp
/// Percentiles of a long series of latencies in fixed memory: a histogram with logarithmic
/// buckets 1% wide from 1 µs to about two days, so a pipeline that runs for weeks keeps a few
/// KiB per stream instead of every sample.

#include <array>
#include <cstdint>

namespace framebus {

class LatencyHistogram {
 public:
  /// Adds one latency in milliseconds (below 1 µs counts as 1 µs; beyond the top, as the top).
  void add(double ms) noexcept;
  /// The p-th percentile (0..100) in milliseconds, within 1% of the exact value; 0 when empty.
  [[nodiscard]] double percentile(double p) const noexcept;
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }

 private:
  static constexpr std::size_t kBuckets = 2600;  // 1.01^2600 x 1 µs is about two days
  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
};

}  // namespace framebus
