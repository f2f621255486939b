#pragma once
// Runs the rows: one peer pair (or the memcpy process) per run, systems interleaved within each
// repetition (A B C ... A B C ...), so that slow drifts of the machine hit every row alike.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cases.hpp"
#include "process.hpp"
#include "wire.hpp"

namespace framebus::bench {

struct BenchConfig {
  int reps = 5;
  double seconds = 1.0;         ///< Measured burst phase per run.
  double warmup_seconds = 0.2;  ///< Unmeasured phase before every run.
  double paced_rate = 200.0;
  double paced_seconds = 2.0;
  std::uint32_t depth = 4;
  std::vector<std::string> only;
  std::string json_path;
  std::string roudi_program = "iox-roudi";
  bool pin = false;  ///< Consumer on CPU 0, producer (or the memcpy process) on CPU 1.
  bool quiet = false;
};

/// One run of one row in one mode.
struct RunRecord {
  std::string case_id;
  Mode mode = Mode::burst;
  int rep = 0;
  bool ok = false;
  std::string error;
  PeerResult consumer;  ///< The measuring side (the memcpy process for memcpy-6m).
  PeerResult producer;
  double wall_seconds = 0;  ///< Whole run, process start-up and tear-down included.
};

struct BenchResults {
  BenchConfig config;
  std::vector<CaseSpec> cases;
  std::vector<RunRecord> runs;
  std::map<std::string, std::string> skipped;  ///< case id -> why it did not run.
  double total_seconds = 0;
};

/// Runs every selected row `config.reps` times, burst then paced within each repetition.
/// `skipped` rows (e.g. iceoryx without RouDi) are left out but kept in the results.
BenchResults run_all(const BenchConfig& config, const std::vector<CaseSpec>& cases,
                     const std::map<std::string, std::string>& skipped, const SignalGate& gate);

}  // namespace framebus::bench
