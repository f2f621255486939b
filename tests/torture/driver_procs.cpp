// The participant processes as the driver sees them: started, killed, reaped, and read.
#include "trial_driver.hpp"

namespace framebus::torture::drive {

void Trial::spawn(Proc& p, bool pause_before_open) {
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
  spec.cancel_after = p.cancel_done ? 0 : plan_.participants[p.index].cancel_after;
  spec.cancel_delay_us = plan_.participants[p.index].cancel_delay_us;
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
  p.go_generation = producer_opens_;
  p.pending_arm.reset();
  p.expect_hold = p.lock_held = p.cancelled = p.respawn = false;
  p.holding.clear();
}

// SIGKILL, reap, and read what it wrote before dying. `unpublished`: the victim is known to be
// paused before publish() (or asleep in loan()), so the message it was sending never entered.
Kill Trial::kill_now(Proc& p, Phase phase, bool count, bool unpublished) {
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
  p.pending_arm.reset();
  if (p.control_fd >= 0) ::close(p.control_fd);
  p.control_fd = -1;
  if (count) out_.result.kills[static_cast<std::size_t>(phase)] += 1;
  return kill;
}

// Lets a paused participant go into the call it announced and kills it at once: the kill lands
// before, inside or just after that call.
Kill Trial::release_and_kill(Proc& p, Phase phase) {
  send(p, "go");
  return kill_now(p, phase);
}

void Trial::drain(Proc& p) {
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

// Reads every status pipe for up to `timeout_ms` and handles the records.
void Trial::pump(int timeout_ms) {
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
void Trial::exited(Proc& p) {
  int status = 0;
  while (::waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::close(p.status->fd());
  p.status.reset();
  p.alive = false;
  if (p.control_fd >= 0) ::close(p.control_fd);
  p.control_fd = -1;
  const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (clean && p.cancelled) {
    p.respawn = true;  // left after cancelling its receive: starts again (respawn_cancelled)
    if (!p.holding.empty()) {
      error("consumer #" + std::to_string(p.index) + " left after its cancel holding " +
            std::to_string(p.holding.size()) + " samples it never released");
    }
  }
  if (!clean) {
    error("participant #" + std::to_string(p.index) + " (pid " + std::to_string(p.pid) + ") " +
          (WIFSIGNALED(status) ? "died of signal " + std::to_string(WTERMSIG(status))
                               : "exited with status " + std::to_string(WEXITSTATUS(status))));
  }
}

void Trial::handle(Proc& p, const std::string& line) {
  const auto f = fields(line);
  if (f.empty()) return;
  const ParticipantPlan& me = plan_.participants[p.index];
  Ledger& l = out_.ledger;
  try {
    switch (f[0][0]) {
      case 'O':
        p.opened = true;
        if (p.producer) {
          producer_opens_ += 1;
          for (Proc& c : procs_) {
            if (!c.producer && c.at_end && c.alive) let_go(c);
          }
        }
        break;
      case 'A': {
        Phase phase{};
        if (f.size() >= 2 && parse_phase(f[1], phase)) {
          p.paused = true;
          p.pending_arm.reset();
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
      case 'V':
        p.pending_v = static_cast<std::uint32_t>(parse_u64(f.at(1)));
        break;
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
        // A producer that opened after this consumer was last let go may have sent (and, since
        // close() does not wait for groups with live members, closed) meanwhile: the consumer's
        // end of channel may predate it, so it looks again.
        p.at_end = true;
        if (producer_running() || p.go_generation != producer_opens_) let_go(p);
        break;
      case 'H':
        if (p.expect_hold) {
          p.lock_held = true;
        } else {
          send(p, "go");  // took the lock after the driver gave that stop up
        }
        break;
      case 'D':
        deadline_record(p, f);
        break;
      case 'C':
        cancel_record(p, f);
        break;
      case 'Z':
        error("participant #" + std::to_string(p.index) + ": " + line.substr(2));
        break;
      default:
        error("participant #" + std::to_string(p.index) + " sent an unknown record: " + line);
    }
  } catch (const std::exception&) {
    error("participant #" + std::to_string(p.index) + " sent a malformed record: " + line);
  }
}

// Whether the lock word names the participant entry of process `pid` (checked after its death).
bool Trial::lock_owned_by(pid_t pid) const {
  if (!seg_.valid()) return false;
  const std::uint32_t owner = seg_.header().lock.load() & detail::kLockOwnerMask;
  if (owner < 1 || owner > detail::kMaxParticipants) return false;
  return detail::identity_pid(seg_.participant(owner - 1).identity.load()) == pid;
}

// The participant index of the producer of a stream (data streams are 1-based indices).
std::uint32_t Trial::producer_of(std::uint32_t stream) const {
  return stream >= 1 && stream <= plan_.participants.size() && plan_.participants[stream - 1].producer ? stream - 1
                                                                                                       : UINT32_MAX;
}

// This channel's entries in /dev/shm: the channel itself and unfinished creations.
std::vector<std::string> Trial::shm_entries() const {
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

bool Trial::hang(const std::string& what) {
  out_.result.violations.push_back({ViolationKind::hang, what});
  aborted_ = true;
  return false;
}

bool Trial::error(const std::string& what) {
  out_.ledger.errors.push_back(what);
  return false;
}

void Trial::let_go(Proc& c) {
  c.at_end = false;
  c.go_generation = producer_opens_;
  send(c, "go");
}

}  // namespace framebus::torture::drive
