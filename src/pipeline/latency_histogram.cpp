#include "framebus/pipeline/latency_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace framebus {
namespace {

constexpr double kLowestMs = 0.001;
constexpr double kGrowth = 1.01;
const double kLogGrowth = std::log(kGrowth);

}  // namespace

void LatencyHistogram::add(double ms) noexcept {
  double index = 0.0;
  if (ms > kLowestMs) index = std::log(ms / kLowestMs) / kLogGrowth;
  const auto bucket = static_cast<std::size_t>(std::min(index, static_cast<double>(kBuckets - 1)));
  ++buckets_[bucket];
  ++count_;
}

double LatencyHistogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0.0;
  // The rank of the sample wanted (nearest rank), then the bucket holding it, reported at the
  // bucket's geometric middle.
  const double clamped = std::clamp(p, 0.0, 100.0);
  const auto rank = static_cast<std::uint64_t>(std::ceil(clamped / 100.0 * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= std::max<std::uint64_t>(rank, 1)) return kLowestMs * std::pow(kGrowth, static_cast<double>(i) + 0.5);
  }
  return kLowestMs * std::pow(kGrowth, static_cast<double>(kBuckets) - 0.5);
}

}  // namespace framebus
