#pragma once
// Medians, ratios, the printed table and the JSON file of decode_bench.

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "run_result.hpp"

namespace framebus::bench {

/// One system on one workload, over the repetitions.
struct Series {
  std::string system;
  std::vector<RunResult> runs;
};

/// Two systems on the same workload, compared as framebus ÷ reference.
struct Comparison {
  std::string id;           ///< Short key for JSON ("video", "images").
  std::string description;  ///< What was decoded.
  Series framebus;
  Series reference;
  std::optional<double> goal;  ///< Minimum ratio, when the comparison has one.
};

struct Settings {
  int threads = 1;
  int reps = 3;
  std::uint32_t frames = 0;
};

/// Median frames/s of the successful runs (nullopt when none succeeded).
std::optional<double> median_fps(const Series& series);
/// framebus ÷ reference of the medians.
std::optional<double> median_ratio(const Comparison& comparison);

void print_report(std::FILE* out, const Settings& settings, const std::vector<Comparison>& comparisons);
/// Every run, the medians and the ratios; false when the file cannot be written.
bool write_json(const std::string& path, const Settings& settings, const std::vector<Comparison>& comparisons);

/// True when every goal is met (and measured).
bool goals_met(const std::vector<Comparison>& comparisons);

}  // namespace framebus::bench
