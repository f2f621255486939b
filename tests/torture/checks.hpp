#pragma once
// Judges a finished trial: every published message reached every group exactly once (or again,
// flagged, and only after a consumer of the group that had taken it died) unless a drop policy
// dropped it and the group's counters say exactly so; every payload arrived intact; no slot and
// no /dev/shm entry was left behind.

#include "driver.hpp"

namespace framebus::torture {

/// Adds the violations found to out.result.violations and fills the result's totals.
void check_trial(const TrialPlan& plan, DriverOutput& out);

}  // namespace framebus::torture
