// The faults of a trial that are not deaths: participants stopped (SIGSTOP, sometimes inside the
// channel lock) and continued, consumers that cancel their own wait and restart, a helper that
// collects garbage in a loop, and a first run on the channel's name killed before the trial so
// that the trial's creator re-creates the channel. See docs/reliability.md.

#include <sys/stat.h>

#include <thread>

#include "framebus/channel/admin.hpp"
#include "framebus/framebus.hpp"
#include "trial_driver.hpp"

namespace framebus::torture::drive {

namespace {

// A cancelled receive() must fail within this bound.
constexpr double kCancelBoundMs = 1000.0;
// Stream of the first run's messages (no trial producer uses it).
constexpr std::uint32_t kFirstRunStream = 999;

}  // namespace

// ------------------------------------------------------------------------------------------
// Stops

bool Trial::run_stops(std::uint32_t before_kill) {
  for (const StopPlan& s : plan_.stops) {
    if (s.before_kill != before_kill) continue;
    if (!wait_for([&] { return all_alive_opened(); }, kOpenTimeoutMs))
      return hang("a participant never opened the channel before a stop");
    Proc& v = procs_[s.victim];
    if (!v.alive || v.finished) {
      out_.result.stops_skipped += 1;
      continue;
    }
    if (s.in_lock) {
      v.expect_hold = true;
      send(v, "hold " + std::to_string(s.after));
      (void)wait_for([&] { return v.lock_held || !v.alive || v.finished || (!v.producer && v.at_end); }, 3000);
      if (!v.lock_held) {
        // It had no more messages to handle: nothing to stop it in. A late "H" is let go at once.
        send(v, "unhold");
        v.expect_hold = false;
        out_.result.stops_skipped += 1;
        continue;
      }
    }
    stop(v);
    const std::int64_t until = now_ns() + std::int64_t{s.ms} * kNsPerMs;
    bool named = !s.in_lock;
    (void)wait_for(
        [&] {
          if (!named && now_ns() >= until - std::int64_t{s.ms} * kNsPerMs / 2) {
            // inspect_channel never takes the lock: it must name the stopped holder.
            auto info = inspect_channel(name_);
            named = true;
            if (!info || info->lock_holder_pid != v.pid) {
              error("inspect_channel names pid " + std::to_string(info ? info->lock_holder_pid : -1) +
                    " as the lock holder while participant #" + std::to_string(v.index) + " (pid " +
                    std::to_string(v.pid) + ") is stopped holding it");
            }
          }
          return now_ns() >= until;
        },
        static_cast<int>(s.ms) + 1000);
    cont(v);
    out_.result.stops += 1;
    if (s.in_lock) {
      out_.result.stops_in_lock += 1;
      v.expect_hold = v.lock_held = false;
      send(v, "go");
    }
  }
  return true;
}

void Trial::stop(Proc& p) {
  p.stopped_spans.push_back({now_ns(), INT64_MAX});
  ::kill(p.pid, SIGSTOP);
  p.stopped = true;
  (void)wait_for([&] { return !p.alive || proc_state(p.pid) == 'T'; }, 1000);
}

void Trial::cont(Proc& p) {
  if (p.alive) ::kill(p.pid, SIGCONT);
  p.stopped = false;
  if (!p.stopped_spans.empty() && p.stopped_spans.back().second == INT64_MAX) p.stopped_spans.back().second = now_ns();
}

// "D KIND START END DEADLINE_MS GAVE_UP": a call with a deadline returned late, or gave up at it.
void Trial::deadline_record(Proc& p, const std::vector<std::string_view>& f) {
  const std::int64_t start = parse_i64(f.at(2));
  const std::int64_t end = parse_i64(f.at(3));
  const std::int64_t deadline_ms = parse_i64(f.at(4));
  TrialResult& r = out_.result;
  if (f.at(5) == "1") r.gave_up += 1;
  for (const auto& [from, to] : p.stopped_spans) {
    if (start < to && end > from) return;  // stopped itself meanwhile: not the library's lateness
  }
  const double over = static_cast<double>(end - start) / 1e6 - static_cast<double>(deadline_ms);
  r.max_overrun_ms = std::max(r.max_overrun_ms, over);
  if (over > kDeadlineSlackMs) {
    r.overruns += 1;
    const char* call = f.at(1) == "r" ? "receive()" : f.at(1) == "l" ? "loan()" : "end_stream()";
    r.violations.push_back({ViolationKind::hang, "participant #" + std::to_string(p.index) + ": " + call + " with a " +
                                                     std::to_string(deadline_ms) + " ms deadline returned " +
                                                     std::to_string(static_cast<int>(over)) + " ms late"});
  }
}

// ------------------------------------------------------------------------------------------
// Cancels

// "C LATENCY_US WAITING NS": receive() failed with ErrorCode::closed after cancel().
void Trial::cancel_record(Proc& p, const std::vector<std::string_view>& f) {
  const double ms = static_cast<double>(parse_i64(f.at(1))) / 1000.0;
  TrialResult& r = out_.result;
  r.cancels += 1;
  r.cancels_waiting += f.at(2) == "1" ? 1 : 0;
  r.max_cancel_ms = std::max(r.max_cancel_ms, ms);
  p.cancelled = true;
  p.cancel_done = true;
  if (ms > kCancelBoundMs) {
    r.violations.push_back({ViolationKind::hang, "consumer #" + std::to_string(p.index) + ": receive() failed " +
                                                     std::to_string(static_cast<int>(ms)) + " ms after cancel()"});
  }
}

// A consumer that left after a cancel starts again, and gets what it was armed for, if anything.
void Trial::respawn_cancelled() {
  for (Proc& p : procs_) {
    if (!p.respawn) continue;
    p.respawn = false;
    spawn(p, false);
    if (p.pending_arm) send(p, *p.pending_arm);
  }
}

// ------------------------------------------------------------------------------------------
// Garbage collection in a loop

void Trial::start_gc() {
  int st[2];
  int ct[2];
  if (::pipe2(st, O_CLOEXEC) != 0 || ::pipe2(ct, O_CLOEXEC) != 0) {
    error(std::string("pipe2: ") + std::strerror(errno));
    return;
  }
  const pid_t driver = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != driver) ::_exit(1);
    ::close(st[0]);
    ::close(ct[1]);
    std::uint64_t passes = 0;
    for (;;) {
      for (const std::string& name : collect_garbage()) write_line(st[1], "N " + name + " " + std::to_string(now_ns()));
      passes += 1;
      pollfd pfd{ct[0], POLLIN, 0};
      if (::poll(&pfd, 1, 2) != 0) break;  // "quit", or the driver is gone
    }
    write_line(st[1], "G " + std::to_string(passes));
    ::_exit(0);
  }
  ::close(st[1]);
  ::close(ct[0]);
  if (pid < 0) {
    ::close(st[0]);
    ::close(ct[1]);
    error(std::string("fork: ") + std::strerror(errno));
    return;
  }
  gc_pid_ = pid;
  gc_status_ = st[0];
  gc_control_ = ct[1];
}

void Trial::stop_gc() {
  if (gc_pid_ < 0) return;
  write_line(gc_control_, "quit");
  std::string buffer;
  while (auto line = read_line_blocking(gc_status_, buffer)) {
    const auto f = fields(*line);
    if (f.size() >= 2 && f[0] == "G") out_.result.gc_passes += parse_u64(f[1]);
    if (f.size() >= 2 && f[0] == "N" && f[1] == name_) out_.result.gc_removed_ours += 1;
  }
  int status = 0;
  while (::waitpid(gc_pid_, &status, 0) < 0 && errno == EINTR) {
  }
  ::close(gc_status_);
  ::close(gc_control_);
  gc_pid_ = -1;
}

// Whether /dev/shm still holds the channel the participants share under its name. Anything else
// (removed, or replaced by a new channel) splits the trial's participants: a violation.
void Trial::check_name() {
  if (name_lost_ || ino_ == 0) return;
  struct stat st {};
  if (::stat(channel_path(name_).c_str(), &st) == 0 && st.st_ino == ino_) return;
  name_lost_ = true;
  out_.result.violations.push_back(
      {ViolationKind::error,
       "the channel's name no longer refers to the channel its live participants use (removed or replaced" +
           std::string(plan_.gc_loop ? ", with a gc loop running)" : ")")});
}

void Trial::remember_name() {
  struct stat st {};
  if (::stat(channel_path(name_).c_str(), &st) == 0) ino_ = st.st_ino;
}

// ------------------------------------------------------------------------------------------
// A first run on the name, killed

bool Trial::first_run() {
  int st[2];
  if (::pipe2(st, O_CLOEXEC) != 0) return error(std::string("pipe2: ") + std::strerror(errno));
  const std::uint32_t messages = 3 + static_cast<std::uint32_t>(plan_.seed % 4);
  const pid_t driver = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != driver) ::_exit(1);
    ::close(st[0]);
    ProducerOptions o;
    o.slots = plan_.slots;
    o.slot_size = plan_.slot_size;
    for (const GroupPlan& g : plan_.groups) o.groups.push_back({g.name, g.policy});
    auto tx = Producer::create(name_, o);
    if (!tx) ::_exit(3);
    auto rx = Consumer::open(name_, {.group = plan_.groups[0].name, .policy = plan_.groups[0].policy});
    if (!rx) ::_exit(3);
    for (std::uint32_t seq = 0; seq < messages; ++seq) {
      std::byte payload[64] = {};
      const Stamp stamp = fill_payload(payload, kFirstRunStream, seq);
      MessageMeta meta;
      meta.stream = kFirstRunStream;
      meta.frame = seq;
      meta.user = std::as_bytes(std::span(&stamp, 1));
      if (!tx->send(payload, meta)) ::_exit(3);
    }
    auto held = rx->receive(std::chrono::seconds(1));  // held when the run is killed
    write_line(st[1], "O");
    for (;;) ::pause();
  }
  ::close(st[1]);
  if (pid < 0) {
    ::close(st[0]);
    return error(std::string("fork: ") + std::strerror(errno));
  }
  std::string buffer;
  pollfd pfd{st[0], POLLIN, 0};
  const bool ready = ::poll(&pfd, 1, kOpenTimeoutMs) > 0 && read_line_blocking(st[0], buffer).has_value();
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::close(st[0]);
  if (!ready) return error("the first run on the channel's name did not start");
  for (std::uint32_t seq = 0; seq < messages; ++seq) out_.ledger.abandoned.insert(message_key(kFirstRunStream, seq));
  first_run_messages_ = messages;
  out_.result.recreations += 1;
  return true;
}

}  // namespace framebus::torture::drive
