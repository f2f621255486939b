#include "trial_driver.hpp"

namespace framebus::torture {

namespace drive {

DriverOutput Trial::run() {
  const std::int64_t t0 = now_ns();
  if (plan_.gc_loop) start_gc();
  if ((!plan_.recreate || first_run()) && start() && kill_all_planned()) finish();
  stop_gc();
  check_reclaimed();
  cleanup();
  out_.result.seconds = static_cast<double>(now_ns() - t0) / 1e9;
  return std::move(out_);
}

bool Trial::start() {
  Proc& creator = procs_[0];
  spawn(creator, plan_.kill_creator_in_open);
  if (plan_.kill_creator_in_open) {
    if (!wait_for([&] { return creator.paused || !creator.alive; }, kOpenTimeoutMs) || !creator.paused) {
      return hang("participant #0 never reached open");
    }
    (void)release_and_kill(creator, Phase::open);  // nobody else has joined: no survivor waits
    // The kill may land after the channel was created and messages sent: nobody else had
    // joined, so the restarted creator reclaims that channel (every participant is dead) and
    // those messages go with it, by design. They must never be received.
    Ledger& l = out_.ledger;
    for (auto* set : {&l.confirmed, &l.uncertain, &l.discarded}) {
      l.abandoned.insert(set->begin(), set->end());
      set->clear();
    }
    spawn(creator, false);
  }
  if (!wait_for([&] { return creator.opened || !creator.alive; }, kOpenTimeoutMs) || !creator.opened) {
    return hang("participant #0 did not create the channel");
  }
  for (std::size_t i = 1; i < procs_.size(); ++i) spawn(procs_[i], false);
  if (!wait_for([&] { return all_opened(); }, kOpenTimeoutMs)) return hang("not every participant opened the channel");
  auto seg = detail::Segment::open_any_owner(name_, detail::Segment::DataAccess::read_only);
  if (!seg) return error("cannot watch the channel: " + seg.error().message());
  seg_ = std::move(*seg);
  remember_name();
  return true;
}

bool Trial::kill_all_planned() {
  for (std::uint32_t k = 0; k < plan_.kills.size(); ++k) {
    if (!run_stops(k) || !execute(plan_.kills[k])) return false;
  }
  return run_stops(static_cast<std::uint32_t>(plan_.kills.size()));
}

bool Trial::execute(const KillPlan& k) {
  Proc& v = procs_[k.victim];
  if (v.finished || !v.alive) {
    out_.result.kills_skipped += 1;
    return true;
  }
  // Everyone restarted so far is in the channel again: the survivors of this death are the
  // participants themselves, not processes still starting.
  if (!wait_for([&] { return all_alive_opened(); }, kOpenTimeoutMs))
    return hang("a restarted participant never opened the channel");
  check_name();
  v.pending_arm = "arm " + std::string(to_string(k.phase)) + " " + std::to_string(k.after);
  send(v, *v.pending_arm);
  const bool reached =
      wait_for([&] { return v.paused || v.finished || !v.alive || (!v.producer && v.at_end && producers_done()); },
               kPhaseTimeoutMs);
  if (!reached)
    return hang("participant #" + std::to_string(v.index) + " never reached " + std::string(to_string(k.phase)));
  if (!v.paused) {
    out_.result.kills_skipped += 1;
    return true;
  }
  const Phase phase = v.paused_phase;
  const bool last_producer = v.producer && !other_producer_running(v);
  const std::uint32_t group = v.producer ? 0 : plan_.participants[v.index].group;
  const Before before = snapshot(group);
  const std::uint32_t incarnation = v.incarnation;

  Kill kill;
  switch (phase) {
    case Phase::publish:
    case Phase::end_stream:
    case Phase::open:
      kill = release_and_kill(v, phase);
      break;
    case Phase::blocked:
      kill = kill_blocked(v);
      break;
    case Phase::loan:
      kill = kill_now(v, phase, true, true);
      break;
    case Phase::hold:
    case Phase::lock:
      kill = kill_now(v, phase);
      break;
  }
  const std::string who = (v.producer ? "producer #" : "consumer #") + std::to_string(v.index) + " killed in " +
                          std::string(to_string(phase));
  watch_survivors(v, phase, kill, before, who);
  if (!v.producer) watch_held_samples(group, phase, kill, before, incarnation, who);
  if (last_producer) {
    // Every consumer learns that the channel has ended (once drained); the victim comes back after.
    add_watch(who + " (the last producer): consumers did not see the end of the channel", phase, kill.dead_ns,
              [this]() -> std::optional<std::int64_t> {
                if (consumers_at_end()) return now_ns();
                return std::nullopt;
              });
    if (!settle()) return false;
  }
  restart(v, k.kill_restart_in_open);
  return settle();
}

// What the survivors of `v` wait for, whatever the phase: the lock if it died holding it; every
// other producer still sending makes progress; every group keeps receiving from those producers.
void Trial::watch_survivors(const Proc& v, Phase phase, const Kill& kill, const Before& before,
                            const std::string& who) {
  if (kill.held_lock || phase == Phase::lock) {
    add_watch(who + " holding the channel lock: nobody took it over", phase, kill.dead_ns,
              [this, repairs = before.repairs]() -> std::optional<std::int64_t> {
                if (seg_.header().repairs.load() > repairs) return now_ns();
                return std::nullopt;
              });
  }
  std::vector<std::uint32_t> others;
  for (const Proc& p : procs_) {
    if (&p != &v && p.producer && p.alive && !p.finished) others.push_back(p.index);
  }
  for (const std::uint32_t i : others) {
    add_watch(who + ": producer #" + std::to_string(i) + " published, ended its stream or closed no more", phase,
              kill.dead_ns, [this, i, kill]() { return progress_after(i, kill); });
  }
  if (others.empty()) return;
  const std::uint32_t victim = v.incarnation;
  for (std::uint32_t g = 0; g < plan_.groups.size(); ++g) {
    add_watch(who + ": group " + plan_.groups[g].name + " received nothing more from the other producers", phase,
              kill.dead_ns,
              [this, g, others, victim, kill, next = before.receipts[g],
               first = std::optional<std::int64_t>()]() mutable -> std::optional<std::int64_t> {
                const std::vector<Receipt>& log = receipt_log_[g];
                for (; next < log.size(); ++next) {
                  const Receipt& r = log[next];
                  if (r.ns < kill.signalled_ns || r.receiver == victim) continue;
                  if (std::find(others.begin(), others.end(), r.producer) == others.end()) continue;
                  if (!first || r.ns < *first) first = r.ns;
                }
                if (first) return first;
                // Those producers all closed. close() does not wait for a group with a live member:
                // what they sent may still be queued for this one, which then takes it (or its
                // restarted consumer does).
                std::int64_t closed = kill.dead_ns;
                for (const std::uint32_t i : others) {
                  if (!procs_[i].closed_ns) return std::nullopt;
                  closed = std::max(closed, *procs_[i].closed_ns);
                }
                if (watch(seg_.group(g).queue_count) != 0) return std::nullopt;
                return std::max(closed, now_ns());
              });
  }
}

// When producer `i` did something after the kill: published, ended its stream or closed. A
// producer that had closed before has nothing to wait for.
std::optional<std::int64_t> Trial::progress_after(std::uint32_t i, const Kill& kill) const {
  const Proc& p = procs_[i];
  const auto it = std::lower_bound(p.progress_ns.begin(), p.progress_ns.end(), kill.signalled_ns);
  if (it != p.progress_ns.end()) return *it;
  if (p.closed_ns) return kill.dead_ns;
  return std::nullopt;
}

// The victim asked to pause before its next loan: stop every consumer of a block group, let the
// victim run until it sleeps in loan() on the full channel, and kill it there.
Kill Trial::kill_blocked(Proc& v) {
  std::uint32_t block_group = 0;
  while (block_group < plan_.groups.size() && plan_.groups[block_group].policy != Policy::block) ++block_group;
  for (Proc& p : procs_) {
    if (!p.producer && p.alive && plan_.participants[p.index].group == block_group) {
      p.stopped_spans.push_back({now_ns(), INT64_MAX});
      ::kill(p.pid, SIGSTOP);
      p.stopped = true;
    }
  }
  (void)wait_for([&] { return all_stopped_really(); }, 2000);
  send(v, "go");
  v.paused = false;
  const detail::Header& h = seg_.header();
  const bool verified = wait_for(
      [&] {
        return v.alive && (v.pending_w || v.pending_v) && watch(h.free_count) == 0 && h.space_waiters.load() > 0 &&
               proc_state(v.pid) == 'S';
      },
      3000);
  // Asleep in loan() with no free slot: the message it announced was certainly not published.
  const Kill kill = kill_now(v, Phase::blocked, verified, verified);
  if (!verified) out_.result.kills_skipped += 1;
  for (Proc& p : procs_) {
    if (p.stopped) cont(p);
  }
  return kill;
}

// Starts the victim again; first lets it into open and kills it there if the plan says so (the
// survivors are watched after that death too).
void Trial::restart(Proc& v, bool kill_in_open) {
  if (kill_in_open) {
    spawn(v, true);
    if (wait_for([&] { return v.paused || !v.alive; }, kOpenTimeoutMs) && v.paused) {
      const Before before = snapshot(v.producer ? 0 : plan_.participants[v.index].group);
      const Kill kill = release_and_kill(v, Phase::open);
      watch_survivors(v, Phase::open, kill, before,
                      (v.producer ? "producer #" : "consumer #") + std::to_string(v.index) + " killed in open");
    }
    if (v.alive) kill_now(v, Phase::open, false);
  }
  spawn(v, false);
}

void Trial::finish() {
  if (!wait_for([&] { return producers_done() && consumers_at_end(); }, kFinishTimeoutMs)) {
    std::string who;
    for (const Proc& p : procs_) {
      if (p.producer ? !p.finished : !p.at_end) who += " #" + std::to_string(p.index);
    }
    hang("the trial did not finish; still busy:" + who);
    return;
  }
  // Everyone is idle now: producers gone, consumers waiting at the end holding nothing.
  FinalState& fs = out_.final_state;
  check_name();
  auto info = inspect_channel(name_);
  if (info) {
    fs.have_info = true;
    fs.info = std::move(*info);
  } else {
    error("cannot inspect the channel at the end: " + info.error().message());
  }
  for (Proc& p : procs_) {
    if (p.alive) send(p, "quit");
  }
  if (!wait_for([&] { return nobody_alive(); }, kOpenTimeoutMs)) hang("consumers did not exit after quit");
  const detail::Header& h = seg_.header();
  fs.published = watch(h.published);
  fs.discarded = watch(h.discarded);
  fs.repairs = h.repairs.load();
  fs.shm_left = shm_entries();
  fs.complete = !aborted_;
  finished_ = true;
}

void Trial::cleanup() {
  for (Proc& p : procs_) {
    if (p.alive) {
      if (p.stopped) ::kill(p.pid, SIGCONT);
      kill_now(p, Phase::loan, false);
    }
    if (p.control_fd >= 0) ::close(p.control_fd);
    p.control_fd = -1;
  }
  out_.result.repairs = seg_.valid() ? seg_.header().repairs.load() : 0;
  seg_ = detail::Segment();
  // An aborted trial must not litter /dev/shm either (a finished one is checked instead).
  if (!finished_) {
    for (const std::string& file : shm_entries()) ::unlink(("/dev/shm/" + file).c_str());
  }
}

// Waits until every watch is met (or watched long enough to say how long the hang was), records
// each latency from the death, and a hang for each one met later than the bound or never.
// False when one was never met: the trial cannot go on meaningfully.
bool Trial::settle() {
  std::int64_t until = 0;
  for (const Watch& w : watches_) until = std::max(until, w.dead_ns + kRecoveryWatchMs * kNsPerMs);
  const auto all_met = [&] {
    return std::all_of(watches_.begin(), watches_.end(), [](const Watch& w) { return w.at.has_value(); });
  };
  (void)wait_for([&] { return all_met() || now_ns() >= until; }, kRecoveryWatchMs + 1000);
  bool ok = true;
  TrialResult& r = out_.result;
  for (const Watch& w : watches_) {
    const double ms = static_cast<double>(std::max<std::int64_t>(0, w.at.value_or(now_ns()) - w.dead_ns)) / 1e6;
    double& by_phase = r.max_recovery_by_phase[static_cast<std::size_t>(w.phase)];
    r.max_recovery_ms = std::max(r.max_recovery_ms, ms);
    by_phase = std::max(by_phase, ms);
    r.recovery_checks += 1;
    if (!w.at || ms > kRecoveryBoundMs) {
      r.violations.push_back({ViolationKind::hang, w.what + (w.at ? " within 1 s (took " : " (waited ") +
                                                       std::to_string(static_cast<int>(ms)) + " ms)"});
    }
    ok = ok && w.at.has_value();
  }
  watches_.clear();
  return ok;
}

Before Trial::snapshot(std::uint32_t group) const {
  Before b;
  b.repairs = seg_.header().repairs.load();
  b.redelivered = watch(seg_.group(group).redelivered);
  b.dead_letters = watch(seg_.group(group).dead_letters);
  for (const std::vector<Receipt>& log : receipt_log_) b.receipts.push_back(log.size());
  return b;
}

// Whether group `g` lists `key` among its recent dead letters (read from the shared ring).
bool Trial::dead_letter(std::uint32_t g, std::uint64_t key) const {
  const GroupCtl& group = seg_.group(g);
  const std::uint64_t n = watch(group.dead_letters);
  for (std::uint64_t k = n - std::min<std::uint64_t>(n, kDeadLetterEntries); k < n; ++k) {
    const DeadLetterCtl& d = group.dead[k % kDeadLetterEntries];
    if (message_key(watch(d.stream), watch(d.frame)) == key) return true;
  }
  return false;
}

// A first run killed on the name: the trial's creator replaced its channel, and counts what that
// run left (every message it sent was still pending) as reclaimed, unless the gc loop removed the
// channel first. A creator killed in open makes a second replacement: not checked then.
void Trial::check_reclaimed() {
  const FinalState& fs = out_.final_state;
  if (first_run_messages_ == 0 || !fs.have_info || plan_.kill_creator_in_open) return;
  if (fs.info.reclaimed == first_run_messages_) return;
  if (fs.info.reclaimed == 0 && out_.result.gc_removed_ours > 0) return;
  out_.result.violations.push_back({ViolationKind::loss, "the re-created channel counts " +
                                                             std::to_string(fs.info.reclaimed) +
                                                             " reclaimed messages; the killed first run left " +
                                                             std::to_string(first_run_messages_)});
}

}  // namespace drive

DriverOutput run_trial(const TrialPlan& plan) {
  DriverOutput out = drive::Trial(plan).run();
  return out;
}

}  // namespace framebus::torture
