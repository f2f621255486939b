#pragma once
// The driver of one trial (driver.hpp), shared by its parts: driver.cpp runs the phases of a trial
// and watches the recovery after each kill, driver_procs.cpp starts, kills and listens to the
// participant processes, faults.cpp adds the faults that are not deaths (stops, cancels, gc loops,
// re-creation of the channel's name).

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "channel/layout.hpp"
#include "channel/liveness.hpp"
#include "channel/segment.hpp"
#include "driver.hpp"
#include "participant.hpp"
#include "wire.hpp"

namespace framebus::torture::drive {

using detail::DeadLetterCtl;
using detail::GroupCtl;
using detail::kDeadLetterEntries;

inline constexpr int kOpenTimeoutMs = 10'000;
inline constexpr int kPhaseTimeoutMs = 20'000;
inline constexpr int kFinishTimeoutMs = 60'000;
// How long the driver watches for a recovery before calling it a hang (the bound is 1 s; the
// rest lets it report how long the hang was).
inline constexpr int kRecoveryWatchMs = 5'000;

inline constexpr std::int64_t kNsPerMs = 1'000'000;

// The state letter of /proc/PID/stat ('S' sleeping, 'T' stopped, ...).
inline char proc_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  return close == std::string::npos || close + 2 >= text.size() ? '?' : text[close + 2];
}

// Shared-memory words the driver only watches: read atomically, never written.
template <typename T>
T watch(const T& word) {
  return __atomic_load_n(&word, __ATOMIC_ACQUIRE);
}

inline std::uint64_t parse_u64(std::string_view text) { return std::stoull(std::string(text)); }
inline std::int64_t parse_i64(std::string_view text) { return std::stoll(std::string(text)); }

// One participant across its incarnations (each restart is a new process).
struct Proc {
  std::uint32_t index = 0;
  bool producer = false;
  pid_t pid = -1;
  std::uint32_t incarnation = 0;  // unique per process, across the trial
  std::uint32_t spawns = 0;
  int control_fd = -1;
  std::optional<LineReader> status;
  bool alive = false;  // running (not yet reaped)
  bool opened = false;
  bool finished = false;                   // producer closed ("F")
  bool at_end = false;                     // consumer waits at end of channel
  std::uint32_t go_generation = 0;         // consumer: producer_opens_ when it was last let go (or started)
  std::optional<std::string> pending_arm;  // the kill it was armed for and has not paused at yet
  std::vector<std::pair<std::int64_t, std::int64_t>> stopped_spans;  // SIGSTOP .. SIGCONT (INT64_MAX: still)
  bool expect_hold = false;  // a stop inside the lock is planned: it was told to take the lock
  bool lock_held = false;    // it holds the lock for that stop ("H")
  bool cancelled = false;    // this incarnation cancelled its receive ("C") and is leaving
  bool cancel_done = false;  // some incarnation did: later ones do not cancel
  bool respawn = false;      // left after its cancel: start it again
  bool paused = false;
  bool stopped = false;  // SIGSTOP by the driver
  Phase paused_phase = Phase::loan;
  std::uint64_t next_seq = 0;
  std::optional<std::uint64_t> pending_w;
  std::optional<std::uint32_t> pending_v;
  std::set<std::uint64_t> holding;  // consumer: messages reported received ("R") and not released ("L")
  // Producer, all incarnations: when it published, ended its stream or closed, in order; and when
  // it closed ("F": it had nothing left to send and every group had taken its messages).
  std::vector<std::int64_t> progress_ns;
  std::optional<std::int64_t> closed_ns;
};

// A kill as the driver did it.
struct Kill {
  std::int64_t signalled_ns = 0;  // SIGKILL sent
  std::int64_t dead_ns = 0;       // waitpid() returned: the 1 s bound counts from here
  bool held_lock = false;         // the channel lock word named the victim after its death
};

// One receipt, for the recovery watches: which producer's message, who took it, when.
struct Receipt {
  std::uint32_t producer;  // participant index of the producer (its stream), or UINT32_MAX
  std::uint32_t receiver;  // consumer incarnation
  std::int64_t ns;
};

// What had been logged just before a kill: records read by then were written before it.
struct Before {
  std::uint32_t repairs = 0;
  std::uint64_t redelivered = 0;      // the victim's group (consumers)
  std::uint64_t dead_letters = 0;     // the same
  std::vector<std::size_t> receipts;  // per group: length of its receipt log
};

// One thing that survivors of a death wait for, and when they got it (see docs/reliability.md,
// "Recovery after each kill"). `met` returns the time it happened, once it has: the time a
// survivor wrote in its record, or for shared state the time the driver saw it.
struct Watch {
  std::string what;
  Phase phase;
  std::int64_t dead_ns;
  std::function<std::optional<std::int64_t>()> met;
  std::optional<std::int64_t> at;
};
class Trial {
 public:
  explicit Trial(const TrialPlan& plan) : plan_(plan) {
    name_ = "torture-" + std::to_string(::getpid()) + "-" + std::to_string(plan.seed);
    out_.result.seed = plan.seed;
    out_.result.plan = describe(plan);
    out_.ledger.data.resize(plan.groups.size());
    out_.ledger.eos.resize(plan.groups.size());
    receipt_log_.resize(plan.groups.size());
    // Built in place: no Proc is ever moved (its status reader is set only once it is spawned).
    procs_ = std::vector<Proc>(plan.participants.size());
    for (std::uint32_t i = 0; i < procs_.size(); ++i) {
      procs_[i].index = i;
      procs_[i].producer = plan.participants[i].producer;
    }
  }

  DriverOutput run();

 private:
  // ----------------------------------------------------------------------------------------
  // Phases of the trial

  bool start();

  bool kill_all_planned();

  bool execute(const KillPlan& k);

  // What the survivors of `v` wait for, whatever the phase: the lock if it died holding it; every
  // other producer still sending makes progress; every group keeps receiving from those producers.
  void watch_survivors(const Proc& v, Phase phase, const Kill& kill, const Before& before, const std::string& who);

  // A consumer killed at a pause (hold, lock) holding samples: its group gets every one of them
  // back (the group's redelivered counter rises by as many) and, unless the group drops oldest
  // (which may drop them there), a consumer receives each of them again, flagged. Not watched after
  // a kill in open, where what it held is known only give or take one (the final checks cover it).
  void watch_held_samples(std::uint32_t group, Phase phase, const Kill& kill, const Before& before,
                          std::uint32_t incarnation, const std::string& who) {
    const std::set<std::uint64_t> held = out_.ledger.consumer_deaths[incarnation].held;
    if (held.empty()) return;
    // Each comes back, or is given up as a dead letter (the group's max_deliveries reached).
    add_watch(who + ": its group did not get back the " + std::to_string(held.size()) + " samples it held", phase,
              kill.dead_ns,
              [this, group,
               target = before.redelivered + before.dead_letters + held.size()]() -> std::optional<std::int64_t> {
                const GroupCtl& g = seg_.group(group);
                if (watch(g.redelivered) + watch(g.dead_letters) >= target) return now_ns();
                return std::nullopt;
              });
    if (may_evict(plan_, group)) return;
    add_watch(who + ": nobody received the samples it held again", phase, kill.dead_ns,
              [this, group, held, kill, incarnation]() -> std::optional<std::int64_t> {
                std::int64_t last = kill.dead_ns;
                for (const std::uint64_t key : held) {
                  if (dead_letter(group, key)) continue;
                  const auto found = out_.ledger.data[group].find(key);
                  if (found == out_.ledger.data[group].end()) return std::nullopt;
                  const auto& again = found->second.redeliveries;
                  const auto it = std::find_if(again.begin(), again.end(), [&](const Receipts::Redelivery& r) {
                    return r.ns >= kill.signalled_ns && r.receiver != incarnation;
                  });
                  if (it == again.end()) return std::nullopt;
                  last = std::max(last, it->ns);
                }
                return last;
              });
  }

  // When producer `i` did something after the kill: published, ended its stream or closed. A
  // producer that had closed before has nothing to wait for.
  std::optional<std::int64_t> progress_after(std::uint32_t i, const Kill& kill) const;

  // The victim asked to pause before its next loan: stop every consumer of a block group, let the
  // victim run until it sleeps in loan() on the full channel, and kill it there.
  Kill kill_blocked(Proc& v);

  // Starts the victim again; first lets it into open and kills it there if the plan says so (the
  // survivors are watched after that death too).
  void restart(Proc& v, bool kill_in_open);

  void finish();

  void cleanup();

  // ----------------------------------------------------------------------------------------
  // Processes

  void spawn(Proc& p, bool pause_before_open);

  // SIGKILL, reap, and read what it wrote before dying. `unpublished`: the victim is known to be
  // paused before publish() (or asleep in loan()), so the message it was sending never entered.
  Kill kill_now(Proc& p, Phase phase, bool count = true, bool unpublished = false);

  // Lets a paused participant go into the call it announced and kills it at once: the kill lands
  // before, inside or just after that call.
  Kill release_and_kill(Proc& p, Phase phase);

  void drain(Proc& p);

  // Lets a consumer waiting at the end of the channel receive again.
  void let_go(Proc& c);

  void send(Proc& p, const std::string& line) {
    if (p.control_fd >= 0) write_line(p.control_fd, line);
  }

  // Reads every status pipe for up to `timeout_ms` and handles the records.
  void pump(int timeout_ms);

  // The status pipe closed without a kill from us: the process exited by itself.
  void exited(Proc& p);

  void handle(Proc& p, const std::string& line);

  // ----------------------------------------------------------------------------------------
  // Conditions

  // Pumps the status pipes until pred() holds or the timeout passes. Every pending recovery watch
  // is looked at on each turn, so the time it is seen met is never late by another wait.
  template <typename Pred>
  bool wait_for(Pred pred, int timeout_ms) {
    const std::int64_t deadline = now_ns() + std::int64_t{timeout_ms} * kNsPerMs;
    for (;;) {
      observe();
      if (pred()) return true;
      if (now_ns() >= deadline) return false;
      pump(1);
      respawn_cancelled();
    }
  }

  // ----------------------------------------------------------------------------------------
  // Recovery watches

  template <typename Met>
  void add_watch(std::string what, Phase phase, std::int64_t dead_ns, Met met) {
    watches_.push_back(
        {std::move(what), phase, dead_ns, std::function<std::optional<std::int64_t>()>(std::move(met)), {}});
  }

  void observe() {
    for (Watch& w : watches_) {
      if (!w.at) w.at = w.met();
    }
  }

  // Waits until every watch is met (or watched long enough to say how long the hang was), records
  // each latency from the death, and a hang for each one met later than the bound or never.
  // False when one was never met: the trial cannot go on meaningfully.
  bool settle();

  Before snapshot(std::uint32_t group) const;

  // ----------------------------------------------------------------------------------------
  // Faults that are not deaths (faults.cpp)

  // The stops planned before kill `before_kill` (kills.size(): after the last one).
  bool run_stops(std::uint32_t before_kill);
  void stop(Proc& p);
  void cont(Proc& p);
  void deadline_record(Proc& p, const std::vector<std::string_view>& f);
  void cancel_record(Proc& p, const std::vector<std::string_view>& f);
  void respawn_cancelled();
  void start_gc();
  void stop_gc();
  void check_name();
  void remember_name();
  bool first_run();
  void check_reclaimed();

  bool dead_letter(std::uint32_t g, std::uint64_t key) const;

  // Whether the lock word names the participant entry of process `pid` (checked after its death).
  bool lock_owned_by(pid_t pid) const;

  // The participant index of the producer of a stream (data streams are 1-based indices).
  std::uint32_t producer_of(std::uint32_t stream) const;

  bool all_alive_opened() const {
    for (const Proc& p : procs_) {
      if (p.alive && !p.opened) return false;
    }
    return true;
  }
  bool all_opened() const {
    for (const Proc& p : procs_) {
      if (!p.opened) return false;
    }
    return true;
  }
  bool all_stopped_really() const {
    for (const Proc& p : procs_) {
      if (p.stopped && p.alive && proc_state(p.pid) != 'T') return false;
    }
    return true;
  }
  bool producers_done() const {
    for (const Proc& p : procs_) {
      if (p.producer && !p.finished) return false;
    }
    return true;
  }
  bool producer_running() const {
    for (const Proc& p : procs_) {
      if (p.producer && p.alive && !p.finished) return true;
    }
    return false;
  }
  bool other_producer_running(const Proc& v) const {
    for (const Proc& p : procs_) {
      if (&p != &v && p.producer && p.alive && !p.finished) return true;
    }
    return false;
  }
  bool consumers_at_end() const {
    for (const Proc& p : procs_) {
      if (!p.producer && !(p.alive && p.at_end)) return false;
    }
    return true;
  }
  bool nobody_alive() const {
    for (const Proc& p : procs_) {
      if (p.alive) return false;
    }
    return true;
  }

  // This channel's entries in /dev/shm: the channel itself and unfinished creations.
  std::vector<std::string> shm_entries() const;

  bool hang(const std::string& what);
  bool error(const std::string& what);

  const TrialPlan& plan_;
  std::string name_;
  std::vector<Proc> procs_;
  std::uint32_t incarnations_ = 0;
  std::vector<std::vector<Receipt>> receipt_log_;  // per group, in the order the driver read them
  std::vector<Watch> watches_;
  detail::Segment seg_;
  DriverOutput out_;
  std::uint32_t producer_opens_ = 0;  // producer incarnations that reported "O"
  pid_t gc_pid_ = -1;                 // the helper collecting garbage in a loop
  int gc_status_ = -1;
  int gc_control_ = -1;
  ino_t ino_ = 0;  // the channel's file, once the participants share it
  bool name_lost_ = false;
  std::uint32_t first_run_messages_ = 0;
  bool finished_ = false;
  bool aborted_ = false;
};

}  // namespace framebus::torture::drive
