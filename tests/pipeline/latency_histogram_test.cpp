// LatencyHistogram: percentiles within 1% in fixed memory.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "framebus/pipeline/latency_histogram.hpp"

namespace framebus {
namespace {

TEST(LatencyHistogram, an_empty_histogram_reports_zero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0U);
  EXPECT_EQ(h.percentile(50), 0.0);
}

TEST(LatencyHistogram, percentiles_are_within_one_percent_of_the_exact_ones) {
  std::mt19937 rng(7);
  std::lognormal_distribution<double> latency(3.0, 1.0);  // a long tail, as latencies have
  std::vector<double> samples(20000);
  LatencyHistogram h;
  for (auto& s : samples) {
    s = latency(rng);
    h.add(s);
  }
  std::sort(samples.begin(), samples.end());
  for (double p : {1.0, 50.0, 90.0, 99.0, 100.0}) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(samples.size())));
    const double exact = samples[std::max<std::size_t>(rank, 1) - 1];
    EXPECT_NEAR(h.percentile(p), exact, exact * 0.01) << "p" << p;
  }
  EXPECT_EQ(h.count(), samples.size());
}

TEST(LatencyHistogram, values_outside_the_range_are_clamped_not_lost) {
  LatencyHistogram h;
  h.add(0.0);
  h.add(-3.0);
  h.add(1e12);
  EXPECT_EQ(h.count(), 3U);
  EXPECT_NEAR(h.percentile(0), 0.001, 0.0001);
  EXPECT_GT(h.percentile(100), 1e7) << "the top bucket holds the huge value";
}

}  // namespace
}  // namespace framebus
