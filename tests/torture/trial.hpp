#pragma once
// What a trial observed (filled by the driver) and what it concluded (filled by the checks).

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "framebus/channel/admin.hpp"
#include "plan.hpp"

namespace framebus::torture {

#ifndef FRAMEBUS_TORTURE_DEADLINE_SLACK_MS
#define FRAMEBUS_TORTURE_DEADLINE_SLACK_MS 100
#endif
/// How far past its deadline a survivor's call may return before it counts as a hang: scheduling
/// on a loaded machine (the library itself cuts every wait at its deadline). The sanitizer builds
/// run every instruction several times slower and set a larger slack (tests/torture/CMakeLists.txt).
inline constexpr double kDeadlineSlackMs = FRAMEBUS_TORTURE_DEADLINE_SLACK_MS;

/// A data message's identity: its producer's stream and its sequence number.
inline std::uint64_t message_key(std::uint32_t stream, std::uint64_t seq) {
  return (std::uint64_t{stream} << 40) | seq;
}

/// Whether group `g` may lose a message that went back to its queue: drop_oldest drops queued
/// messages, and any drop group has its oldest unheld message evicted to make room for a block
/// group's (docs/design.md, back-pressure).
inline bool may_evict(const TrialPlan& plan, std::uint32_t g) {
  const Policy policy = plan.groups[g].policy;
  if (policy == Policy::drop_oldest) return true;
  if (policy == Policy::block) return false;
  for (const GroupPlan& other : plan.groups) {
    if (other.policy == Policy::block) return true;
  }
  return false;
}

struct Receipts {
  std::uint32_t plain = 0;          ///< received without the redelivered flag
  std::uint32_t flagged = 0;        ///< received flagged redelivered
  std::uint32_t last_receiver = 0;  ///< incarnation that received it last
  std::int64_t last_ns = 0;         ///< when that was (now_ns())
  struct Redelivery {
    std::int64_t ns;         ///< when it was received flagged (now_ns())
    std::uint32_t receiver;  ///< by which consumer incarnation
  };
  std::vector<Redelivery> redeliveries;  ///< each flagged receipt, in the order the driver read them

  /// Counts one receipt by consumer incarnation `receiver` at `ns`.
  void add(bool is_flagged, std::int64_t ns, std::uint32_t receiver) {
    (is_flagged ? flagged : plain) += 1;
    if (is_flagged) redeliveries.push_back({ns, receiver});
    if (ns >= last_ns) {
      last_receiver = receiver;
      last_ns = ns;
    }
  }
};

/// A consumer process the driver killed, and what it held then. Consumers report every receipt
/// ("R") before they can be paused and every release ("L") right after it, so for a consumer
/// killed at a pause `held` is exactly what the channel gives back to its group, flagged.
struct ConsumerDeath {
  std::uint32_t group = 0;
  std::int64_t signalled_ns = 0;  ///< SIGKILL sent: nothing it held can reach another consumer before
  /// Killed right after being let go into Consumer::open: it ran unpaused, so it may have taken one
  /// message (or marker) it had not reported yet, or released one without reporting it.
  bool in_open = false;
  std::set<std::uint64_t> held;  ///< data messages reported received and not released
};

/// Everything the participants reported, per message and per group.
struct Ledger {
  std::set<std::uint64_t> confirmed;  ///< publish() returned (discarded ones excluded)
  std::set<std::uint64_t> discarded;  ///< publish() returned for a loan the policies had dropped
  std::set<std::uint64_t> uncertain;  ///< the producer died between "W" and "P": maybe published
  std::set<std::uint64_t> unsent;     ///< loaned, never published: killed paused with the loan or asleep in loan()
  std::set<std::uint64_t> abandoned;  ///< sent into a channel that was reclaimed after all its participants died
  std::set<std::uint32_t> eos_confirmed;
  std::set<std::uint32_t> eos_uncertain;
  std::vector<std::map<std::uint64_t, Receipts>> data;     ///< per group
  std::vector<std::map<std::uint32_t, Receipts>> eos;      ///< per group
  std::map<std::uint32_t, ConsumerDeath> consumer_deaths;  ///< by incarnation
  std::uint64_t receipts = 0;
  std::uint64_t flagged_receipts = 0;
  std::vector<std::string> bad_checksums;
  std::vector<std::string> torn;
  std::vector<std::string> errors;  ///< participants' own errors and unexpected exits
};

/// The channel as the driver saw it at the end, all participants idle.
struct FinalState {
  bool complete = false;  ///< the trial ran to its end (not aborted by a hang)
  bool have_info = false;
  ChannelInfo info;             ///< inspect_channel at the idle point
  std::uint64_t published = 0;  ///< header counters, read from the driver's mapping
  std::uint64_t discarded = 0;
  std::uint32_t repairs = 0;
  std::vector<std::string> shm_left;  ///< entries of this channel still in /dev/shm after the end
};

enum class ViolationKind { hang, loss, duplicate, corruption, leak, error };
std::string_view to_string(ViolationKind kind) noexcept;

struct Violation {
  ViolationKind kind;
  std::string what;
};

struct TrialResult {
  std::uint64_t seed = 0;
  std::string plan;
  std::array<std::uint32_t, kPhaseCount> kills{};
  std::uint32_t kills_skipped = 0;                          ///< the victim finished before reaching its phase
  std::uint64_t published = 0;                              ///< data messages whose publish() returned
  std::uint64_t delivered = 0;                              ///< receipts, all groups
  std::uint64_t redelivered = 0;                            ///< receipts flagged redelivered
  std::uint64_t dropped = 0;                                ///< the groups' drop counters, summed
  std::array<std::uint64_t, 3> dropped_by_policy{};         ///< the same, by the group's Policy
  std::uint32_t repairs = 0;                                ///< lock take-overs from dead owners
  double max_recovery_ms = 0;                               ///< longest wait past a death (see driver.cpp)
  std::array<double, kPhaseCount> max_recovery_by_phase{};  ///< the same, by the phase of the kill
  std::uint32_t recovery_checks = 0;  ///< waits measured (each survivor criterion after each kill)
  std::uint32_t stops = 0;            ///< participants stopped (SIGSTOP) and continued
  std::uint32_t stops_in_lock = 0;    ///< of which while holding the channel lock
  std::uint32_t stops_skipped = 0;    ///< planned stops whose victim was done (or never took the lock)
  std::uint32_t cancels = 0;          ///< receive() failed with closed after cancel() from another thread
  std::uint32_t cancels_waiting = 0;  ///< of which the receive() was already waiting when cancelled
  double max_cancel_ms = 0;           ///< longest time from cancel() to that failure
  std::uint64_t gc_passes = 0;        ///< collect_garbage() calls of the gc loop
  std::uint32_t gc_removed_ours = 0;  ///< of which removed this trial's (dead) channel
  std::uint32_t recreations = 0;      ///< first runs killed, their channel re-created by the trial
  std::uint64_t gave_up = 0;          ///< calls that failed at their deadline (timeout), then retried
  std::uint32_t overruns = 0;         ///< calls that returned later than deadline + slack
  double max_overrun_ms = 0;          ///< the latest a call returned past its deadline (not itself stopped)
  double seconds = 0;
  std::vector<Violation> violations;

  [[nodiscard]] std::uint32_t count(ViolationKind kind) const {
    std::uint32_t n = 0;
    for (const Violation& v : violations) n += v.kind == kind ? 1 : 0;
    return n;
  }
};

}  // namespace framebus::torture
