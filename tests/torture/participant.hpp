#pragma once
// The two roles a torture participant plays, each in its own forked process: a producer that
// sends numbered, checksummed messages, and a consumer that checks and reports every message it
// receives. Both report to the driver over their status pipe (see wire.hpp) and stop where the
// driver armed them to, so that a kill lands in the chosen phase.

#include <cstdint>
#include <string>

#include "plan.hpp"

namespace framebus::torture {

struct ParticipantSpec {
  std::string channel;
  const TrialPlan* plan = nullptr;
  std::uint32_t index = 0;         ///< into plan->participants
  std::uint64_t first_seq = 0;     ///< producers: the first message this incarnation sends
  std::uint32_t eos_stream = 0;    ///< producers: stream id of this incarnation's end-of-stream marker
  bool pause_before_open = false;  ///< announce "A open" and wait for a token before opening
  std::uint64_t rng_seed = 0;      ///< payload sizes
  std::uint32_t cancel_after =
      0;  ///< consumers: cancel receive() from a second thread after this many messages (0: never)
  std::uint32_t cancel_delay_us = 0;
  int status_fd = -1;
  int control_fd = -1;
};

/// Deadlines of the participants' calls: a consumer's receive() and a producer's block_timeout.
inline constexpr std::int64_t kReceiveTimeoutMs = 100;
inline constexpr std::int64_t kBlockTimeoutMs = 250;
/// A call that returns later than its deadline by more than this is reported ("D").
inline constexpr std::int64_t kReportOverrunMs = 20;

/// Runs the participant in the calling (freshly forked) process and exits it; never returns.
[[noreturn]] void run_participant(const ParticipantSpec& spec);

}  // namespace framebus::torture
