#include "driver.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "channel/layout.hpp"
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

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

double ms_since(std::int64_t t0) { return static_cast<double>(now_ns() - t0) / 1e6; }

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
  std::int64_t last_publish_ns = 0;
};

class Trial {
 public:
  explicit Trial(const TrialPlan& plan) : plan_(plan) {
    name_ = "torture-" + std::to_string(::getpid()) + "-" + std::to_string(plan.seed);
    out_.result.seed = plan.seed;
    out_.result.plan = describe(plan);
    out_.ledger.data.resize(plan.groups.size());
    out_.ledger.eos.resize(plan.groups.size());
    flagged_.resize(plan.groups.size());
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
      release_and_kill(creator, Phase::open);
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
    auto seg = detail::Segment::open(name_, detail::Segment::DataAccess::read_only);
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
    // What survivors wait for after this death, snapshotted before it.
    const bool last_producer = v.producer && !other_producer_running(v);
    const bool others_active = someone_else_active(v);
    const std::uint32_t group = v.producer ? 0 : plan_.participants[v.index].group;
    const std::uint64_t redelivered_before = watch(seg_.group(group).redelivered);
    const std::uint32_t repairs_before = seg_.header().repairs.load();

    std::int64_t killed_at = 0;
    switch (phase) {
      case Phase::publish:
      case Phase::end_stream:
      case Phase::open: killed_at = release_and_kill(v, phase); break;
      case Phase::blocked: killed_at = kill_blocked(v); break;
      case Phase::loan:
      case Phase::hold:
      case Phase::lock: killed_at = kill_now(v, phase); break;
    }

    const std::uint64_t flagged_before = flagged_.empty() ? 0 : flagged_[group];
    if (!last_producer) restart(v, k.kill_restart_in_open);
    if (phase == Phase::hold) {
      // The samples it held go back to its group: that is what its group mates wait for...
      if (!recovered("consumer #" + std::to_string(v.index) + " killed holding samples: its samples were not requeued",
                     killed_at, [&] { return watch(seg_.group(group).redelivered) > redelivered_before; })) {
        return false;
      }
      // ...and a consumer of the group then receives them, flagged (unless drop_oldest may drop them).
      if (plan_.groups[group].policy != Policy::drop_oldest &&
          !recovered("consumer #" + std::to_string(v.index) + " killed holding samples: nobody received them again",
                     killed_at, [&] { return flagged_[group] > flagged_before; })) {
        return false;
      }
    }
    if (phase == Phase::lock && others_active) {
      if (!recovered("participant #" + std::to_string(v.index) + " killed holding the lock: nobody took it over",
                     killed_at, [&] { return seg_.header().repairs.load() > repairs_before; })) {
        return false;
      }
    }
    if (last_producer) {
      // The last producer died: every consumer must learn it (end of channel) once drained.
      if (!recovered("last producer #" + std::to_string(v.index) + " killed: consumers did not see the end of the channel",
                     killed_at, [&] { return consumers_at_end(); })) {
        return false;
      }
      restart(v, k.kill_restart_in_open);
    }
    return true;
  }

  // The victim asked to pause before its next loan: stop every consumer of a block group, let the
  // victim run until it sleeps in loan() on the full channel, and kill it there.
  std::int64_t kill_blocked(Proc& v) {
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
    const std::int64_t killed_at = kill_now(v, Phase::blocked, verified);
    if (!verified) out_.result.kills_skipped += 1;
    for (Proc& p : procs_) {
      if (p.stopped) {
        ::kill(p.pid, SIGCONT);
        p.stopped = false;
      }
    }
    return killed_at;
  }

  void restart(Proc& v, bool kill_in_open) {
    if (kill_in_open) {
      spawn(v, true);
      if (wait_for([&] { return v.paused || !v.alive; }, kOpenTimeoutMs) && v.paused) release_and_kill(v, Phase::open);
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
  }

  // SIGKILL, reap, and read what it wrote before dying. Returns the time of the kill.
  std::int64_t kill_now(Proc& p, Phase phase, bool count = true) {
    ::kill(p.pid, SIGKILL);
    const std::int64_t at = now_ns();
    int status = 0;
    while (::waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
    }
    drain(p);
    out_.ledger.killed.insert(p.incarnation);
    if (p.pending_w) out_.ledger.uncertain.insert(message_key(plan_.participants[p.index].stream, *p.pending_w));
    if (p.pending_v) out_.ledger.eos_uncertain.insert(*p.pending_v);
    p.pending_w.reset();
    p.pending_v.reset();
    p.alive = p.opened = p.paused = p.at_end = p.stopped = false;
    if (p.control_fd >= 0) ::close(p.control_fd);
    p.control_fd = -1;
    if (count) out_.result.kills[static_cast<std::size_t>(phase)] += 1;
    return at;
  }

  // Lets a paused participant go into the call it announced and kills it at once: the kill lands
  // before, inside or just after that call.
  std::int64_t release_and_kill(Proc& p, Phase phase) {
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
          p.last_publish_ns = now_ns();
          out_.result.published += 1;
          break;
        }
        case 'V': p.pending_v = static_cast<std::uint32_t>(parse_u64(f.at(1))); break;
        case 'Q':
          l.eos_confirmed.insert(static_cast<std::uint32_t>(parse_u64(f.at(1))));
          p.pending_v.reset();
          break;
        case 'F':
          p.finished = true;
          p.next_seq = me.messages;
          break;
        case 'R': {
          const auto stream = static_cast<std::uint32_t>(parse_u64(f.at(1)));
          const std::uint64_t seq = parse_u64(f.at(2));
          const bool flagged = f.at(3) == "1";
          Receipts& r = l.data[me.group][message_key(stream, seq)];
          (flagged ? r.flagged : r.plain) += 1;
          r.last_receiver = p.incarnation;
          l.receipts += 1;
          l.flagged_receipts += flagged ? 1 : 0;
          flagged_[me.group] += flagged ? 1 : 0;
          if (f.at(4) != "1") {
            l.bad_checksums.push_back("group " + plan_.groups[me.group].name + " got stream " + std::to_string(stream) +
                                      " message " + std::to_string(seq) + " with a bad stamp or checksum");
          }
          break;
        }
        case 'E': {
          Receipts& r = l.eos[me.group][static_cast<std::uint32_t>(parse_u64(f.at(1)))];
          (f.at(2) == "1" ? r.flagged : r.plain) += 1;
          flagged_[me.group] += f.at(2) == "1" ? 1 : 0;
          r.last_receiver = p.incarnation;
          break;
        }
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

  template <typename Pred>
  bool wait_for(Pred pred, int timeout_ms) {
    const std::int64_t deadline = now_ns() + std::int64_t{timeout_ms} * 1'000'000;
    for (;;) {
      if (pred()) return true;
      if (now_ns() >= deadline) return false;
      pump(1);
    }
  }

  // Waits for a recovery after a kill; records its latency, and a hang past the bound.
  template <typename Pred>
  bool recovered(const std::string& what, std::int64_t killed_at, Pred pred) {
    const int left = kRecoveryWatchMs - static_cast<int>(ms_since(killed_at));
    const bool ok = wait_for(pred, std::max(left, 0)) || pred();
    const double ms = ms_since(killed_at);
    if (ok && ms > out_.result.max_recovery_ms) out_.result.max_recovery_ms = ms;
    if (!ok) out_.result.max_recovery_ms = std::max(out_.result.max_recovery_ms, ms);
    if (!ok || ms > kRecoveryBoundMs) {
      out_.result.violations.push_back(
          {ViolationKind::hang, what + (ok ? " within 1 s (took " : " (waited ") + std::to_string(static_cast<int>(ms)) + " ms)"});
      return ok;
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
  bool someone_else_active(const Proc& v) const {
    for (const Proc& p : procs_) {
      if (&p != &v && p.alive && !p.finished && !p.at_end) return true;
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
  std::vector<std::uint64_t> flagged_;  // receipts flagged redelivered, per group
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
