#pragma once
// Sums trials up and prints the run: as text for people, or as JSON (--json).

#include <cstdint>
#include <iosfwd>
#include <vector>

#include "trial.hpp"

namespace framebus::torture {

struct RunSummary {
  std::uint64_t first_seed = 0;
  std::uint32_t trials = 0;
  std::array<std::uint64_t, kPhaseCount> kills{};
  std::uint64_t kills_skipped = 0;
  std::uint64_t published = 0;
  std::uint64_t delivered = 0;
  std::uint64_t redelivered = 0;
  std::uint64_t dropped = 0;
  std::array<std::uint64_t, 3> dropped_by_policy{};
  std::uint64_t repairs = 0;
  std::array<std::uint64_t, 6> violations{};  ///< by ViolationKind
  double max_recovery_ms = 0;
  std::array<double, kPhaseCount> max_recovery_by_phase{};
  std::uint64_t recovery_checks = 0;
  std::uint64_t stops = 0;
  std::uint64_t stops_in_lock = 0;
  std::uint64_t stops_skipped = 0;
  std::uint64_t cancels = 0;
  std::uint64_t cancels_waiting = 0;
  double max_cancel_ms = 0;
  std::uint64_t gc_passes = 0;
  std::uint64_t gc_removed_ours = 0;
  std::uint64_t recreations = 0;
  std::uint64_t gave_up = 0;
  std::uint64_t overruns = 0;
  double max_overrun_ms = 0;
  double seconds = 0;
  std::vector<TrialResult> failed;  ///< trials with at least one violation

  void add(const TrialResult& trial);
  [[nodiscard]] std::uint64_t total_kills() const;
  [[nodiscard]] bool ok() const { return failed.empty(); }
};

/// One line per trial, for --verbose.
void print_trial(std::ostream& out, const TrialResult& trial);
void print_text(std::ostream& out, const RunSummary& run);
void print_json(std::ostream& out, const RunSummary& run);

}  // namespace framebus::torture
