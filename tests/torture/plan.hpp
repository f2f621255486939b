#pragma once
// What one torture trial does, derived from its seed alone: the channel, the participants, and
// the kills (victim, phase, when). Replaying a seed replays this plan exactly; only the timing of
// the processes differs between runs.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "framebus/channel/options.hpp"

namespace framebus::torture {

/// Where a participant is when the driver kills it.
enum class Phase : std::uint8_t {
  open,        ///< in Producer::create / Consumer::open (released into the call, killed at once)
  loan,        ///< producer holding an unpublished loan (paused there)
  publish,     ///< producer released into publish() and killed at once
  blocked,     ///< producer asleep in loan() on a full channel (a block group is stopped)
  end_stream,  ///< producer released into end_stream() and killed at once
  hold,        ///< consumer holding received samples (paused there)
  lock,        ///< participant holding the channel lock (paused there)
};
inline constexpr int kPhaseCount = 7;
std::string_view to_string(Phase phase) noexcept;
bool parse_phase(std::string_view text, Phase& out) noexcept;

struct GroupPlan {
  std::string name;
  Policy policy = Policy::block;
  std::uint32_t consumers = 1;
};

struct ParticipantPlan {
  bool producer = false;
  std::uint32_t stream = 0;    ///< producers: stream id of its messages (1-based)
  std::uint32_t group = 0;     ///< consumers: index into TrialPlan::groups
  std::uint64_t messages = 0;  ///< producers: how many messages to send
  std::uint32_t pace_us = 0;   ///< producers: pause between messages (the frame interval)
  std::uint32_t max_size = 0;  ///< producers: largest payload
  std::uint32_t max_held = 1;  ///< consumers: samples kept at once
  std::uint32_t work_us = 0;   ///< consumers: time spent on each message
  /// Consumers: the first incarnation cancels its own receive() from a second thread after this
  /// many messages (0: never), then closes and exits; the driver starts it again.
  std::uint32_t cancel_after = 0;
  std::uint32_t cancel_delay_us = 0;  ///< how long the second thread waits before cancel()
};

struct KillPlan {
  std::uint32_t victim = 0;  ///< index into TrialPlan::participants
  Phase phase = Phase::loan;
  std::uint32_t after = 1;            ///< messages the victim handles (once armed) before the phase
  bool kill_restart_in_open = false;  ///< the restarted victim is killed again while opening
};

/// A SIGSTOP of a participant for `ms`, then SIGCONT: not a death, so nothing may be redelivered.
struct StopPlan {
  std::uint32_t victim = 0;       ///< index into TrialPlan::participants
  std::uint32_t before_kill = 0;  ///< done before TrialPlan::kills[before_kill] (kills.size(): after the last)
  std::uint32_t ms = 100;         ///< how long it stays stopped
  bool in_lock = false;           ///< stopped while holding the channel lock
  std::uint32_t after = 1;        ///< in_lock: messages it handles before taking the lock
};

struct TrialPlan {
  std::uint64_t seed = 0;
  std::uint32_t slots = 8;
  std::uint64_t slot_size = 4096;
  std::vector<GroupPlan> groups;
  std::vector<ParticipantPlan> participants;  ///< producers first
  bool kill_creator_in_open = false;          ///< participant 0 is killed while creating
  std::vector<KillPlan> kills;
  std::vector<StopPlan> stops;
  /// A helper process calls collect_garbage() in a loop for the whole trial.
  bool gc_loop = false;
  /// A first run on the channel's name is killed (every participant, SIGKILL) before the trial:
  /// the trial's creator reclaims the name, and nothing of the first run may reach it.
  bool recreate = false;
};

/// The plan of the trial with this seed.
TrialPlan make_plan(std::uint64_t seed);

/// One line describing a plan (printed with a failing seed).
std::string describe(const TrialPlan& plan);

}  // namespace framebus::torture
