#pragma once
// Runs one trial: starts the participants as real processes, kills them with SIGKILL where the
// plan says, restarts them, measures how long the survivors wait past each death, and collects
// what every process reported. The checks (checks.hpp) then judge the result.

#include "plan.hpp"
#include "trial.hpp"

namespace framebus::torture {

/// Deaths must be noticed within this bound; a longer wait is a hang.
inline constexpr double kRecoveryBoundMs = 1000.0;

struct DriverOutput {
  TrialResult result;  ///< counts and measurements; violations found while running (hangs, errors)
  Ledger ledger;
  FinalState final_state;
};

DriverOutput run_trial(const TrialPlan& plan);

}  // namespace framebus::torture
