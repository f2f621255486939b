#include "participant.hpp"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <deque>
#include <optional>
#include <thread>

#include "channel/futex.hpp"
#include "channel/layout.hpp"
#include "channel/liveness.hpp"
#include "channel/segment.hpp"
#include "framebus/framebus.hpp"
#include "wire.hpp"

namespace framebus::torture {

namespace {

using namespace std::chrono_literals;

// The workload's own pace (a camera's frame interval, a consumer's processing time): not
// synchronisation, which goes through the pipes and the channel only.
void pause_for_us(std::uint32_t us) {
  if (us == 0) return;
  timespec ts{static_cast<time_t>(us / 1'000'000), static_cast<long>(us % 1'000'000) * 1000};
  while (::nanosleep(&ts, &ts) != 0) {
  }
}

class Role {
 public:
  explicit Role(const ParticipantSpec& spec) : spec_(spec), me_(spec.plan->participants[spec.index]) {}

  [[noreturn]] void fail(const std::string& what) {
    write_line(spec_.status_fd, "Z " + what);
    ::_exit(3);
  }

  void report(const std::string& line) { write_line(spec_.status_fd, line); }

  // Announces `phase` and waits for "go" (the driver usually kills us instead). "quit" exits.
  void pause_at(Phase phase) {
    report("A " + std::string(to_string(phase)));
    if (!wait_for_go()) ::_exit(0);
  }

  // True on "go"; false on "quit" or when the driver is gone.
  bool wait_for_go() {
    for (;;) {
      auto line = read_line_blocking(spec_.control_fd, control_buffer_);
      if (!line || *line == "quit") return false;
      if (*line == "go") return true;
      handle_control(*line);
    }
  }

  // Takes arm tokens that arrived meanwhile; returns true on "quit".
  bool poll_control() {
    while (auto line = read_line_now(spec_.control_fd, control_buffer_)) {
      if (*line == "quit") return true;
      handle_control(*line);
    }
    return false;
  }

  // True when the armed phase is due now (and disarms it); counts one handled message.
  bool due(Phase phase) {
    if (!armed_ || armed_phase_ != phase || countdown_ > 0) return false;
    armed_ = false;
    return true;
  }
  void count_message() {
    if (armed_ && countdown_ > 0) --countdown_;
    if (hold_armed_ && hold_countdown_ > 0) --hold_countdown_;
  }

  // A stop planned inside the lock is due: takes the channel lock as the library does, says so
  // ("H"), waits for "go" (the driver stops and continues us meanwhile), and releases it.
  void maybe_hold_lock(std::uint32_t role) {
    if (!hold_armed_ || hold_countdown_ > 0) return;
    hold_armed_ = false;
    detail::Segment& seg = own_segment();
    const std::uint32_t id = own_id(seg, role);
    detail::Header& h = seg.header();
    std::uint32_t expected = 0;
    while (!h.lock.compare_exchange_weak(expected, id, std::memory_order_acquire)) {
      expected = 0;
      sched_yield();
    }
    timespec coarse{};  // the lock's time stamp, on the clock the library stamps it with
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &coarse);
    h.lock_since_ns.store(std::int64_t{coarse.tv_sec} * 1'000'000'000 + coarse.tv_nsec, std::memory_order_relaxed);
    report("H");
    const bool go = wait_for_go();
    const std::uint32_t prev = h.lock.exchange(0, std::memory_order_release);
    if ((prev & detail::kLockContended) != 0) detail::futex_wake(h.lock, 1);
    if (!go) ::_exit(0);
  }

  // Reports a call with a deadline that returned more than kReportOverrunMs after it; `gave_up`:
  // it failed with ErrorCode::timeout (a stopped lock holder, or no room before block_timeout).
  void deadline_call(char kind, std::int64_t start_ns, std::int64_t deadline_ms, bool gave_up) {
    const std::int64_t end_ns = now_ns();
    if (!gave_up && end_ns - start_ns <= (deadline_ms + kReportOverrunMs) * 1'000'000) return;
    report(std::string("D ") + kind + " " + std::to_string(start_ns) + " " + std::to_string(end_ns) + " " +
           std::to_string(deadline_ms) + (gave_up ? " 1" : " 0"));
  }
  [[nodiscard]] bool armed() const noexcept { return armed_; }
  [[nodiscard]] Phase armed_phase() const noexcept { return armed_phase_; }
  void disarm() noexcept { armed_ = false; }

  // Takes the channel lock the way the library does (a CAS of our participant id into the lock
  // word) and stops there: the driver kills us inside the critical section.
  [[noreturn]] void die_holding_lock(std::uint32_t role) {
    detail::Segment& seg = own_segment();
    const std::uint32_t id = own_id(seg, role);
    std::uint32_t expected = 0;
    while (!seg.header().lock.compare_exchange_weak(expected, id)) {
      expected = 0;
      sched_yield();
    }
    report("A lock");
    for (;;) {
      if (!wait_for_go()) ::_exit(0);  // never releases
    }
  }

 protected:
  const ParticipantSpec& spec_;
  const ParticipantPlan& me_;

 private:
  // The channel as mapped by the library, opened once more to take its lock by hand.
  detail::Segment& own_segment() {
    if (!seg_.valid()) {
      auto seg = detail::Segment::open_any_owner(spec_.channel, detail::Segment::DataAccess::read_only);
      if (!seg) fail("taking the lock: " + seg.error().message());
      seg_ = std::move(*seg);
    }
    return seg_;
  }
  std::uint32_t own_id(const detail::Segment& seg, std::uint32_t role) {
    for (std::uint32_t i = 0; i < detail::kMaxParticipants; ++i) {
      const auto& p = seg.participant(i);
      if (p.role == role && detail::identity_pid(p.identity.load()) == ::getpid()) return i + 1;
    }
    fail("taking the lock: own participant entry not found");
  }

  void handle_control(const std::string& line) {
    const auto f = fields(line);
    if (f.size() == 2 && f[0] == "hold") {
      hold_armed_ = true;
      hold_countdown_ = static_cast<std::uint32_t>(std::stoul(std::string(f[1])));
      return;
    }
    if (f.size() == 1 && f[0] == "unhold") {
      hold_armed_ = false;
      return;
    }
    Phase phase{};
    if (f.size() == 3 && f[0] == "arm" && parse_phase(f[1], phase)) {
      armed_ = true;
      armed_phase_ = phase;
      countdown_ = static_cast<std::uint32_t>(std::stoul(std::string(f[2])));
    }
  }

  std::string control_buffer_;
  bool armed_ = false;
  Phase armed_phase_ = Phase::loan;
  std::uint32_t countdown_ = 0;
  bool hold_armed_ = false;
  std::uint32_t hold_countdown_ = 0;
  detail::Segment seg_;
};

class ProducerRole : public Role {
 public:
  using Role::Role;

  [[noreturn]] void run() {
    {
      if (spec_.pause_before_open) pause_at(Phase::open);
      ProducerOptions o;
      o.slots = spec_.plan->slots;
      o.slot_size = spec_.plan->slot_size;
      for (const GroupPlan& g : spec_.plan->groups) o.groups.push_back({g.name, g.policy});
      o.linger = 20s;
      o.block_timeout = std::chrono::milliseconds(kBlockTimeoutMs);
      auto tx = Producer::create(spec_.channel, o);
      if (!tx) fail("create: " + tx.error().message());
      report("O");
      std::uint64_t rng = spec_.rng_seed | 1;
      for (std::uint64_t seq = spec_.first_seq; seq < me_.messages; ++seq) {
        if (poll_control()) ::_exit(0);
        if (due(Phase::lock)) die_holding_lock(detail::kRoleProducer);
        maybe_hold_lock(detail::kRoleProducer);
        if (due(Phase::blocked)) pause_at(Phase::blocked);  // the driver stops a block group, then lets us go
        send_one(*tx, seq, rng);
        count_message();
        pause_for_us(me_.pace_us);
      }
      (void)poll_control();
      if (armed()) {  // whatever was armed and not reached yet happens at the end of the stream
        disarm();
        pause_at(Phase::end_stream);
      }
      report("V " + std::to_string(spec_.eos_stream));
      for (;;) {  // waits for room like loan(), and gives up at block_timeout likewise
        const std::int64_t start = now_ns();
        auto ok = tx->end_stream(spec_.eos_stream);
        const bool gave_up = !ok && ok.error().code() == ErrorCode::timeout;
        deadline_call('e', start, kBlockTimeoutMs, gave_up);
        if (ok) break;
        if (!gave_up) fail("end_stream: " + ok.error().message());
      }
      report("Q " + std::to_string(spec_.eos_stream) + " " + std::to_string(now_ns()));
      if (auto ok = tx->close(); !ok) fail("close: " + ok.error().message());
    }
    report("F " + std::to_string(now_ns()));
    ::_exit(0);
  }

 private:
  void send_one(Producer& tx, std::uint64_t seq, std::uint64_t& rng) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    const std::size_t size = 16 + rng % (me_.max_size - 15);
    report("W " + std::to_string(seq));
    Result<Loan> loan = tl::unexpected(Error(ErrorCode::timeout, ""));
    for (;;) {  // block_timeout: no room in time, or a stopped participant holds the lock; again
      const std::int64_t start = now_ns();
      loan = tx.loan(size);
      const bool gave_up = !loan && loan.error().code() == ErrorCode::timeout;
      deadline_call('l', start, kBlockTimeoutMs, gave_up);
      if (loan) break;
      if (!gave_up) fail("loan: " + loan.error().message());
    }
    const Stamp stamp = fill_payload(loan->data(), me_.stream, seq);
    MessageMeta meta;
    meta.stream = me_.stream;
    meta.frame = seq;
    meta.user = std::as_bytes(std::span(&stamp, 1));
    const bool discarded = loan->discarded();
    if (due(Phase::loan)) pause_at(Phase::loan);
    if (due(Phase::publish)) pause_at(Phase::publish);
    if (auto ok = tx.publish(std::move(*loan), meta); !ok) fail("publish: " + ok.error().message());
    report("P " + std::to_string(seq) + (discarded ? " 1 " : " 0 ") + std::to_string(now_ns()));
  }
};

class ConsumerRole : public Role {
 public:
  using Role::Role;

  [[noreturn]] void run() {
    {
      if (spec_.pause_before_open) pause_at(Phase::open);
      const GroupPlan& group = spec_.plan->groups[me_.group];
      auto rx = Consumer::open(spec_.channel, {.group = group.name, .policy = group.policy, .wait = 10s});
      if (!rx) fail("open: " + rx.error().message());
      report("O");
      for (;;) {
        if (poll_control()) break;
        if (spec_.cancel_after != 0 && handled_ >= spec_.cancel_after && !canceller_.joinable()) start_canceller(*rx);
        // Once the canceller runs, wait long: cancel() has to cut the wait short.
        const std::int64_t timeout_ms = canceller_.joinable() ? 2000 : kReceiveTimeoutMs;
        const std::int64_t start = now_ns();
        auto r = rx->receive(std::chrono::milliseconds(timeout_ms));
        const bool gave_up = !r && r.error().code() == ErrorCode::timeout;  // a stopped lock holder
        deadline_call('r', start, timeout_ms, gave_up);
        if (!r && r.error().code() == ErrorCode::closed && canceller_.joinable()) leave_cancelled(*rx, start);
        if (gave_up) continue;
        if (!r) fail("receive: " + r.error().message());
        if (r->status == Received::Status::timeout) {
          release_all();  // an idle consumer keeps nothing
          continue;
        }
        if (r->status == Received::Status::end_of_channel) {
          release_all();
          report("X " + std::string(to_string(r->reason)));
          if (!wait_for_go()) break;  // "quit": leave the channel cleanly
          continue;
        }
        handle(std::move(r->message));
      }
      // A canceller still running would use the consumer that is about to go.
      if (canceller_.joinable()) canceller_.join();
      release_all();
    }
    ::_exit(0);
  }

 private:
  struct Held {
    Message message;
    Stamp stamp;
  };

  // A second thread cancels the consumer while the main thread (most likely) waits in receive().
  void start_canceller(Consumer& rx) {
    canceller_ = std::thread([this, &rx] {
      pause_for_us(spec_.cancel_delay_us);
      cancelled_ns_.store(now_ns());
      rx.cancel();
    });
  }

  // receive() failed with ErrorCode::closed after cancel(): says how long that took after the
  // cancel (or after the call began, if it began later) and whether the call was waiting when
  // cancelled, then releases what it holds, closes and exits as a restarting worker would.
  [[noreturn]] void leave_cancelled(Consumer& rx, std::int64_t call_ns) {
    const std::int64_t failed_ns = now_ns();
    canceller_.join();
    const std::int64_t cancelled = cancelled_ns_.load();
    const std::int64_t from = std::max(cancelled, call_ns);
    report("C " + std::to_string((failed_ns - from) / 1000) + (call_ns < cancelled ? " 1 " : " 0 ") +
           std::to_string(failed_ns));
    release_all();
    rx.close();
    ::_exit(0);
  }

  void handle(Message sample) {
    const std::int64_t received_ns = now_ns();
    const int redelivered = sample.redelivered() ? 1 : 0;
    if (sample.is_end_of_stream()) {
      report("E " + std::to_string(sample.stream()) + " " + std::to_string(redelivered) + " " +
             std::to_string(received_ns));
      return;
    }
    Stamp stamp{};
    const auto user = sample.user_meta();
    bool ok = user.size() == sizeof stamp;
    if (ok) std::memcpy(&stamp, user.data(), sizeof stamp);
    ok = ok && stamp.magic == kStampMagic && stamp.stream == sample.stream() && stamp.seq == sample.frame() &&
         stamp.size == sample.size() && checksum(sample.data()) == stamp.crc;
    report("R " + std::to_string(sample.stream()) + " " + std::to_string(sample.frame()) + " " +
           std::to_string(redelivered) + (ok ? " 1 " : " 0 ") + std::to_string(received_ns));
    held_.push_back({std::move(sample), stamp});
    pause_for_us(me_.work_us);
    count_message();
    handled_ += 1;
    if (due(Phase::hold)) pause_at(Phase::hold);
    maybe_hold_lock(detail::kRoleConsumer);
    if (due(Phase::lock)) die_holding_lock(detail::kRoleConsumer);
    while (held_.size() > me_.max_held) release_front();
  }

  // Checks the payload once more before giving it back: a slot reused while we still held it
  // would show here. Says so after the release, so that what the driver counts as held when it
  // kills us at a pause is exactly what the channel hands back to the group.
  void release_front() {
    Held& h = held_.front();
    if (h.stamp.magic == kStampMagic && checksum(h.message.data()) != h.stamp.crc) {
      report("T " + std::to_string(h.stamp.stream) + " " + std::to_string(h.stamp.seq));
    }
    const std::string released = "L " + std::to_string(h.message.stream()) + " " + std::to_string(h.message.frame());
    held_.pop_front();
    report(released);
  }

  void release_all() {
    while (!held_.empty()) release_front();
  }

  std::deque<Held> held_;
  std::uint32_t handled_ = 0;
  std::thread canceller_;
  std::atomic<std::int64_t> cancelled_ns_{0};
};

}  // namespace

void run_participant(const ParticipantSpec& spec) {
  if (spec.plan->participants[spec.index].producer) {
    ProducerRole(spec).run();
  } else {
    ConsumerRole(spec).run();
  }
}

}  // namespace framebus::torture
