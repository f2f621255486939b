#include "driver.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
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
#include "participant.hpp"
#include "wire.hpp"

namespace framebus::torture {

namespace {

constexpr int kOpenTimeoutMs = 10'000;
constexpr int kPhaseTimeoutMs = 20'000;
constexpr int kFinishTimeoutMs = 60'000;
// How long the driver watches for a recovery before calling it a hang (the bound is 1 s; the
// rest lets it report how long the hang was).
constexpr int kRecoveryWatchMs = 5'000;

constexpr std::int64_t kNsPerMs = 1'000'000;

// The state letter of /proc/PID/stat ('S' sleeping, 'T' stopped, ...).
char proc_state(pid_t pid) {
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

std::uint64_t parse_u64(std::string_view text) { return std::stoull(std::string(text)); }
std::int64_t parse_i64(std::string_view text) { return std::stoll(std::string(text)); }

// One participant across its incarnations (each restart is a new process).
struct Proc {
  std::uint32_t index = 0;
  bool producer = false;
  pid_t pid = -1;
  std::uint32_t incarnation = 0;  // unique per process, across the trial
  std::uint32_t spawns = 0;
  int control_fd = -1;
  std::optional<LineReader> status;
  bool alive = false;     // running (not yet reaped)
  bool opened = false;
  bool finished = false;  // producer closed ("F")
  bool at_end = false;    // consumer waits at end of channel
  bool paused = false;
  bool stopped = false;   // SIGSTOP by the driver
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
  std::uint32_t producer;    // participant index of the producer (its stream), or UINT32_MAX
  std::uint32_t receiver;    // consumer incarnation
  std::int64_t ns;
};

// What had been logged just before a kill: records read by then were written before it.
struct Before {
  std::uint32_t repairs = 0;
  std::uint64_t redelivered = 0;       // the victim's group (consumers)
  std::vector<std::size_t> receipts;   // per group: length of its receipt log
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
    for (std::uint32_t i = 0; i < plan.participants.size(); ++i) {
      Proc p;
      p.index = i;
      p.producer = plan.participants[i].producer;
      procs_.push_back(std::move(p));
    }
  }

  DriverOutput run() {
    const std::int64_t t0 = now_ns();
    if (start() && kill_all_planned()) finish();
    cleanup();
    out_.result.seconds = static_cast<double>(now_ns() - t0) / 1e9;
    return std::move(out_);
  }

 private:
  // ----------------------------------------------------------------------------------------
  // Phases of the trial

  bool start() {
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
    return true;
  }

  bool kill_all_planned() {
    for (const KillPlan& k : plan_.kills) {
      if (!execute(k)) return false;
    }
    return true;
  }

  bool execute(const KillPlan& k) {
    Proc& v = procs_[k.victim];
    if (v.finished || !v.alive) {
      out_.result.kills_skipped += 1;
      return true;
    }
    // Everyone restarted so far is in the channel again: the survivors of this death are the
    // participants themselves, not processes still starting.
    if (!wait_for([&] { return all_alive_opened(); }, kOpenTimeoutMs)) return hang("a restarted participant never opened the channel");
    send(v, "arm " + std::string(to_string(k.phase)) + " " + std::to_string(k.after));
    const bool reached = wait_for(
        [&] { return v.paused || v.finished || !v.alive || (!v.producer && v.at_end && producers_done()); },
        kPhaseTimeoutMs);
    if (!reached) return hang("participant #" + std::to_string(v.index) + " never reached " + std::string(to_string(k.phase)));
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
      case Phase::open: kill = release_and_kill(v, phase); break;
      case Phase::blocked: kill = kill_blocked(v); break;
      case Phase::loan: kill = kill_now(v, phase, true, true); break;
      case Phase::hold:
      case Phase::lock: kill = kill_now(v, phase); break;
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
  void watch_survivors(const Proc& v, Phase phase, const Kill& kill, const Before& before, const std::string& who) {
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
                  // Producers that closed had nothing left for anyone: every group took all of it.
                  std::int64_t closed = kill.dead_ns;
                  for (const std::uint32_t i : others) {
                    if (!procs_[i].closed_ns) return std::nullopt;
                    closed = std::max(closed, *procs_[i].closed_ns);
                  }
                  return closed;
                });
    }
  }

  // A consumer killed at a pause (hold, lock) holding samples: its group gets every one of them
  // back (the group's redelivered counter rises by as many) and, unless the group drops oldest
  // (which may drop them there), a consumer receives each of them again, flagged. Not watched after
  // a kill in open, where what it held is known only give or take one (the final checks cover it).
  void watch_held_samples(std::uint32_t group, Phase phase, const Kill& kill, const Before& before,
                          std::uint32_t incarnation, const std::string& who) {
    const std::set<std::uint64_t> held = out_.ledger.consumer_deaths[incarnation].held;
    if (held.empty()) return;
    add_watch(who + ": its group did not get back the " + std::to_string(held.size()) + " samples it held", phase,
              kill.dead_ns, [this, group, target = before.redelivered + held.size()]() -> std::optional<std::int64_t> {
                if (watch(seg_.group(group).redelivered) >= target) return now_ns();
                return std::nullopt;
              });
    if (plan_.groups[group].policy == Policy::drop_oldest) return;
    add_watch(who + ": nobody received the samples it held again", phase, kill.dead_ns,
              [this, group, held, kill, incarnation]() -> std::optional<std::int64_t> {
                std::int64_t last = kill.dead_ns;
                for (const std::uint64_t key : held) {
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
  std::optional<std::int64_t> progress_after(std::uint32_t i, const Kill& kill) const {
    const Proc& p = procs_[i];
    const auto it = std::lower_bound(p.progress_ns.begin(), p.progress_ns.end(), kill.signalled_ns);
    if (it != p.progress_ns.end()) return *it;
    if (p.closed_ns) return kill.dead_ns;
    return std::nullopt;
  }

  // The victim asked to pause before its next loan: stop every consumer of a block group, let the
  // victim run until it sleeps in loan() on the full channel, and kill it there.
  Kill kill_blocked(Proc& v) {
    std::uint32_t block_group = 0;
    while (block_group < plan_.groups.size() && plan_.groups[block_group].policy != Policy::block) ++block_group;
    for (Proc& p : procs_) {
      if (!p.producer && p.alive && plan_.participants[p.index].group == block_group) {
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
      if (p.stopped) {
        ::kill(p.pid, SIGCONT);
        p.stopped = false;
      }
    }
    return kill;
  }

  // Starts the victim again; first lets it into open and kills it there if the plan says so (the
  // survivors are watched after that death too).
  void restart(Proc& v, bool kill_in_open) {
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

  void finish() {
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

  void cleanup() {
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

  // ----------------------------------------------------------------------------------------
  // Processes

  void spawn(Proc& p, bool pause_before_open) {
    int st[2];
    int ct[2];
    if (::pipe2(st, O_CLOEXEC) != 0 || ::pipe2(ct, O_CLOEXEC) != 0) {
      error(std::string("pipe2: ") + std::strerror(errno));
      return;
    }
    ParticipantSpec spec;
    spec.channel = name_;
    spec.plan = &plan_;
    spec.index = p.index;
    spec.first_seq = p.next_seq;
    spec.eos_stream = 1000 * plan_.participants[p.index].stream + p.spawns;
    spec.pause_before_open = pause_before_open;
    spec.rng_seed = plan_.seed * 1000003 + p.index * 101 + p.spawns;
    spec.status_fd = st[1];
    spec.control_fd = ct[0];
    const pid_t driver = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the driver
      if (::getppid() != driver) ::_exit(1);
      for (const Proc& other : procs_) {
        if (other.control_fd >= 0) ::close(other.control_fd);
        if (other.status) ::close(other.status->fd());
      }
      ::close(st[0]);
      ::close(ct[1]);
      run_participant(spec);
    }
    ::close(st[1]);
    ::close(ct[0]);
    if (pid < 0) {
      ::close(st[0]);
      ::close(ct[1]);
      error(std::string("fork: ") + std::strerror(errno));
      return;
    }
    ::fcntl(st[0], F_SETFL, O_NONBLOCK);
    p.pid = pid;
    p.incarnation = ++incarnations_;
    p.spawns += 1;
    p.control_fd = ct[1];
    p.status.emplace(st[0]);
    p.alive = true;
    p.opened = p.finished = p.at_end = p.paused = p.stopped = false;
    p.holding.clear();
  }

  // SIGKILL, reap, and read what it wrote before dying. `unpublished`: the victim is known to be
  // paused before publish() (or asleep in loan()), so the message it was sending never entered.
  Kill kill_now(Proc& p, Phase phase, bool count = true, bool unpublished = false) {
    Kill kill;
    kill.signalled_ns = now_ns();
    ::kill(p.pid, SIGKILL);
    int status = 0;
    while (::waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
    }
    kill.dead_ns = now_ns();
    kill.held_lock = lock_owned_by(p.pid);
    drain(p);
    if (!p.producer) {
      ConsumerDeath& death = out_.ledger.consumer_deaths[p.incarnation];
      death.group = plan_.participants[p.index].group;
      death.signalled_ns = kill.signalled_ns;
      death.in_open = phase == Phase::open;
      death.held = std::move(p.holding);
      p.holding.clear();
    }
    if (p.pending_w) {
      (unpublished ? out_.ledger.unsent : out_.ledger.uncertain)
          .insert(message_key(plan_.participants[p.index].stream, *p.pending_w));
    }
    if (p.pending_v) out_.ledger.eos_uncertain.insert(*p.pending_v);
    p.pending_w.reset();
    p.pending_v.reset();
    p.alive = p.opened = p.paused = p.at_end = p.stopped = false;
    if (p.control_fd >= 0) ::close(p.control_fd);
    p.control_fd = -1;
    if (count) out_.result.kills[static_cast<std::size_t>(phase)] += 1;
    return kill;
  }

  // Lets a paused participant go into the call it announced and kills it at once: the kill lands
  // before, inside or just after that call.
  Kill release_and_kill(Proc& p, Phase phase) {
    send(p, "go");
    return kill_now(p, phase);
  }

  void drain(Proc& p) {
    if (!p.status) return;
    while (p.status->fill()) {
      // fill() returns true while the pipe is open but empty: the writer is dead (reaped), so
      // that cannot last; poll briefly in case the kernel still holds data.
      pollfd pfd{p.status->fd(), POLLIN, 0};
      if (::poll(&pfd, 1, 100) <= 0) break;
    }
    while (auto line = p.status->next()) handle(p, *line);
    ::close(p.status->fd());
    p.status.reset();
  }

  void send(Proc& p, const std::string& line) {
    if (p.control_fd >= 0) write_line(p.control_fd, line);
  }

  // Reads every status pipe for up to `timeout_ms` and handles the records.
  void pump(int timeout_ms) {
    std::vector<pollfd> fds;
    std::vector<Proc*> who;
    for (Proc& p : procs_) {
      if (!p.status) continue;
      fds.push_back({p.status->fd(), POLLIN, 0});
      who.push_back(&p);
    }
    if (fds.empty()) return;
    if (::poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Proc& p = *who[i];
      const bool open = p.status->fill();
      while (auto line = p.status->next()) handle(p, *line);
      if (!open) exited(p);
    }
  }

  // The status pipe closed without a kill from us: the process exited by itself.
  void exited(Proc& p) {
    int status = 0;
    while (::waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::close(p.status->fd());
    p.status.reset();
    p.alive = false;
    if (p.control_fd >= 0) ::close(p.control_fd);
    p.control_fd = -1;
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!clean) {
      error("participant #" + std::to_string(p.index) + " (pid " + std::to_string(p.pid) + ") " +
            (WIFSIGNALED(status) ? "died of signal " + std::to_string(WTERMSIG(status))
                                 : "exited with status " + std::to_string(WEXITSTATUS(status))));
    }
  }

  void handle(Proc& p, const std::string& line) {
    const auto f = fields(line);
    if (f.empty()) return;
    const ParticipantPlan& me = plan_.participants[p.index];
    Ledger& l = out_.ledger;
    try {
      switch (f[0][0]) {
        case 'O':
          p.opened = true;
          if (p.producer) {
            for (Proc& c : procs_) {
              if (!c.producer && c.at_end && c.alive) {
                c.at_end = false;
                send(c, "go");
              }
            }
          }
          break;
        case 'A': {
          Phase phase{};
          if (f.size() >= 2 && parse_phase(f[1], phase)) {
            p.paused = true;
            p.paused_phase = phase;
          }
          break;
        }
        case 'W':
          p.pending_w = parse_u64(f.at(1));
          p.next_seq = *p.pending_w + 1;
          break;
        case 'P': {
          const std::uint64_t key = message_key(me.stream, parse_u64(f.at(1)));
          (f.at(2) == "1" ? l.discarded : l.confirmed).insert(key);
          p.pending_w.reset();
          p.progress_ns.push_back(parse_i64(f.at(3)));
          out_.result.published += 1;
          break;
        }
        case 'V': p.pending_v = static_cast<std::uint32_t>(parse_u64(f.at(1))); break;
        case 'Q':
          l.eos_confirmed.insert(static_cast<std::uint32_t>(parse_u64(f.at(1))));
          p.pending_v.reset();
          p.progress_ns.push_back(parse_i64(f.at(2)));
          break;
        case 'F':
          p.finished = true;
          p.next_seq = me.messages;
          p.progress_ns.push_back(parse_i64(f.at(1)));
          p.closed_ns = p.progress_ns.back();
          break;
        case 'R': {
          const auto stream = static_cast<std::uint32_t>(parse_u64(f.at(1)));
          const std::uint64_t seq = parse_u64(f.at(2));
          const bool flagged = f.at(3) == "1";
          const std::int64_t ns = parse_i64(f.at(5));
          const std::uint64_t key = message_key(stream, seq);
          Receipts& r = l.data[me.group][key];
          r.add(flagged, ns, p.incarnation);
          p.holding.insert(key);
          receipt_log_[me.group].push_back({producer_of(stream), p.incarnation, ns});
          l.receipts += 1;
          l.flagged_receipts += flagged ? 1 : 0;
          if (f.at(4) != "1") {
            l.bad_checksums.push_back("group " + plan_.groups[me.group].name + " got stream " + std::to_string(stream) +
                                      " message " + std::to_string(seq) + " with a bad stamp or checksum");
          }
          break;
        }
        case 'E': {
          const auto stream = static_cast<std::uint32_t>(parse_u64(f.at(1)));
          const bool flagged = f.at(2) == "1";
          const std::int64_t ns = parse_i64(f.at(3));
          Receipts& r = l.eos[me.group][stream];
          r.add(flagged, ns, p.incarnation);
          receipt_log_[me.group].push_back({producer_of(stream / 1000), p.incarnation, ns});
          break;
        }
        case 'L':
          p.holding.erase(message_key(static_cast<std::uint32_t>(parse_u64(f.at(1))), parse_u64(f.at(2))));
          break;
        case 'T':
          l.torn.push_back("stream " + std::string(f.at(1)) + " message " + std::string(f.at(2)) +
                           " changed while consumer #" + std::to_string(p.index) + " held it");
          break;
        case 'X':
          p.at_end = true;
          if (producer_running()) {
            p.at_end = false;
            send(p, "go");
          }
          break;
        case 'Z': error("participant #" + std::to_string(p.index) + ": " + line.substr(2)); break;
        default: error("participant #" + std::to_string(p.index) + " sent an unknown record: " + line);
      }
    } catch (const std::exception&) {
      error("participant #" + std::to_string(p.index) + " sent a malformed record: " + line);
    }
  }

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
    }
  }

  // ----------------------------------------------------------------------------------------
  // Recovery watches

  template <typename Met>
  void add_watch(std::string what, Phase phase, std::int64_t dead_ns, Met met) {
    watches_.push_back({std::move(what), phase, dead_ns, std::function<std::optional<std::int64_t>()>(std::move(met)), {}});
  }

  void observe() {
    for (Watch& w : watches_) {
      if (!w.at) w.at = w.met();
    }
  }

  // Waits until every watch is met (or watched long enough to say how long the hang was), records
  // each latency from the death, and a hang for each one met later than the bound or never.
  // False when one was never met: the trial cannot go on meaningfully.
  bool settle() {
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

  Before snapshot(std::uint32_t group) const {
    Before b;
    b.repairs = seg_.header().repairs.load();
    b.redelivered = watch(seg_.group(group).redelivered);
    for (const std::vector<Receipt>& log : receipt_log_) b.receipts.push_back(log.size());
    return b;
  }

  // Whether the lock word names the participant entry of process `pid` (checked after its death).
  bool lock_owned_by(pid_t pid) const {
    if (!seg_.valid()) return false;
    const std::uint32_t owner = seg_.header().lock.load() & detail::kLockOwnerMask;
    if (owner < 1 || owner > detail::kMaxParticipants) return false;
    return detail::identity_pid(seg_.participant(owner - 1).identity.load()) == pid;
  }

  // The participant index of the producer of a stream (data streams are 1-based indices).
  std::uint32_t producer_of(std::uint32_t stream) const {
    return stream >= 1 && stream <= plan_.participants.size() && plan_.participants[stream - 1].producer ? stream - 1
                                                                                                         : UINT32_MAX;
  }

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
  std::vector<std::string> shm_entries() const {
    std::vector<std::string> out;
    const std::string mine = "framebus." + name_;
    if (DIR* dir = ::opendir("/dev/shm")) {
      while (const dirent* e = ::readdir(dir)) {
        const std::string file = e->d_name;
        if (file == mine || file.rfind(mine + ".creating-", 0) == 0) out.push_back(file);
      }
      ::closedir(dir);
    }
    return out;
  }

  bool hang(const std::string& what) {
    out_.result.violations.push_back({ViolationKind::hang, what});
    aborted_ = true;
    return false;
  }
  bool error(const std::string& what) {
    out_.ledger.errors.push_back(what);
    return false;
  }

  const TrialPlan& plan_;
  std::string name_;
  std::vector<Proc> procs_;
  std::uint32_t incarnations_ = 0;
  std::vector<std::vector<Receipt>> receipt_log_;  // per group, in the order the driver read them
  std::vector<Watch> watches_;
  detail::Segment seg_;
  DriverOutput out_;
  bool finished_ = false;
  bool aborted_ = false;
};

}  // namespace

DriverOutput run_trial(const TrialPlan& plan) {
  DriverOutput out = Trial(plan).run();
  return out;
}

}  // namespace framebus::torture
