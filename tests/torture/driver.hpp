#pragma once
// Runs one trial: starts the participants as real processes, kills them with SIGKILL where the
// plan says, restarts them, measures after each death how long the survivors wait for what the
// victim held (docs/reliability.md, "Recovery after each kill"), and collects what every process
// reported. The checks (checks.hpp) then judge the result.

#include "plan.hpp"
#include "trial.hpp"

namespace framebus::torture {

/// Survivors must get what a dead participant held within this bound, counted from the moment
/// waitpid() reaped the victim; a longer wait is a hang.
inline constexpr double kRecoveryBoundMs = 1000.0;

struct DriverOutput {
  TrialResult result;  ///< counts and measurements; violations found while running (hangs, errors)
  Ledger ledger;
  FinalState final_state;
};

DriverOutput run_trial(const TrialPlan& plan);

}  // namespace framebus::torture
