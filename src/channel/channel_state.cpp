#include "channel/channel_state.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "channel/futex.hpp"
#include "channel/liveness.hpp"
#include "channel/queue.hpp"
#include "common/names.hpp"
#include "framebus/admin.hpp"

namespace framebus::detail {

namespace {

// How often a sleeper checks that the processes it depends on are alive. Bounds how long a death
// goes unnoticed (the contract is one second).
constexpr std::int64_t kLivenessCheckNs = 100'000'000;
// How often a busy producer looks for dead consumers while it never has to wait.
constexpr std::int64_t kBusyReapIntervalNs = 500'000'000;
// A short spin before sleeping: in a busy pipeline the next message usually arrives within
// microseconds, and a futex sleep plus wake-up costs tens of microseconds. The spin yields the
// CPU between checks, so when the peer shares this CPU (2-core machines do that often) it runs at
// once instead of waiting for our time slice to end.
constexpr std::int64_t kSpinNs = 20'000;
constexpr int kJoinAttempts = 64;

std::atomic<InterruptCheck> g_interrupt_check{nullptr};

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

bool interrupt_requested() {
  const InterruptCheck check = g_interrupt_check.load(std::memory_order_acquire);
  return check != nullptr && check();
}

Policy policy_of(const GroupCtl& g) noexcept {
  return g.policy <= static_cast<std::uint32_t>(Policy::drop_newest) ? static_cast<Policy>(g.policy) : Policy::block;
}

Policy default_policy_of(const Header& h) noexcept {
  return h.default_policy <= static_cast<std::uint32_t>(Policy::drop_newest) ? static_cast<Policy>(h.default_policy)
                                                                             : Policy::block;
}

std::string group_name_of(const GroupCtl& g) {
  return std::string(g.name, strnlen(g.name, sizeof g.name));
}

// Waits until `word` differs from `seen`, the deadline passes, or a liveness-check slice ends.
WaitResult wait_for_change(std::atomic<std::uint32_t>& word, std::uint32_t seen, const Deadline& deadline) {
  const std::int64_t spin_until = monotonic_ns() + std::min(kSpinNs, deadline.remaining_ns(kSpinNs));
  do {
    for (int i = 0; i < 16; ++i) {
      if (word.load(std::memory_order_acquire) != seen) return WaitResult::woken;
      cpu_relax();
    }
    sched_yield();
  } while (monotonic_ns() < spin_until);
  const std::int64_t slice = deadline.remaining_ns(kLivenessCheckNs);
  if (slice <= 0) return WaitResult::timed_out;
  return futex_wait(word, seen, slice);
}

// Waits for a name to appear in /dev/shm (inotify, so no polling loop), at most one slice.
void wait_for_creation(const std::string& path, const Deadline& deadline) {
  const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return;
  ::inotify_add_watch(fd, std::string(kShmDir).c_str(), IN_CREATE | IN_MOVED_TO);
  // The watch is in place: a channel created from now on raises an event, so check once more.
  if (::access(path.c_str(), F_OK) != 0) {
    pollfd pfd{fd, POLLIN, 0};
    const auto ms = static_cast<int>(deadline.remaining_ns(kLivenessCheckNs) / 1'000'000) + 1;
    ::poll(&pfd, 1, ms);
  }
  ::close(fd);
}

}  // namespace

void set_interrupt_check(InterruptCheck check) noexcept { g_interrupt_check.store(check, std::memory_order_release); }

// Futexes to wake once the lock is released, so that woken processes do not collide with it.
class Channel::Wakes {
 public:
  void space() noexcept { space_ = true; }
  void group(std::uint32_t index, bool all) noexcept { (all ? all_ : one_) |= 1U << index; }
  void run(const Segment& seg) const noexcept {
    if (space_) futex_wake(seg.header().space_wake, INT_MAX);
    for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
      if ((all_ >> g) & 1U) {
        futex_wake(seg.group(g).wake, INT_MAX);
      } else if ((one_ >> g) & 1U) {
        futex_wake(seg.group(g).wake, 1);
      }
    }
  }

 private:
  bool space_ = false;
  std::uint32_t one_ = 0;
  std::uint32_t all_ = 0;
};

namespace {

// Bumps a wake word only if someone sleeps on it; the sleeper registered under the lock, so it
// cannot miss the bump.
void notify_space(const Segment& seg, Channel::Wakes& wakes) {
  Header& h = seg.header();
  if (h.space_waiters.load(std::memory_order_relaxed) > 0) {
    h.space_wake.fetch_add(1, std::memory_order_release);
    wakes.space();
  }
}

void notify_group(const Segment& seg, std::uint32_t index, bool all, Channel::Wakes& wakes) {
  GroupCtl& g = seg.group(index);
  if (g.waiters.load(std::memory_order_relaxed) > 0) {
    g.wake.fetch_add(1, std::memory_order_release);
    wakes.group(index, all);
  }
}

void notify_all_groups(const Segment& seg, Channel::Wakes& wakes) {
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) notify_group(seg, g, true, wakes);
}

SlotQueue queue_of(const Segment& seg, std::uint32_t index) {
  if (index == kLobby) {
    Header& h = seg.header();
    return SlotQueue(seg.queue(kLobby), h.lobby_head, h.lobby_count, seg.slot_count());
  }
  GroupCtl& g = seg.group(index);
  return SlotQueue(seg.queue(index), g.queue_head, g.queue_count, seg.slot_count());
}

// Under the lock. The header's mask saves reading every group's cache line on each publish.
std::uint32_t active_group_mask(const Segment& seg) {
  return seg.header().active_groups & ((kMaxGroups >= 32 ? 0U : 1U << kMaxGroups) - 1U);
}

// Slots this participant has loaned (producer) or holds (consumer): a scan, for cold paths only.
std::uint32_t slots_held_by(const Segment& seg, std::uint16_t id) {
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < seg.slot_count(); ++i) {
    const SlotCtl& s = seg.slot(i);
    if (s.state == kSlotLoaned && s.owner == id) ++n;
    if (s.state != kSlotPublished) continue;
    for (const std::uint16_t holder : s.holder) n += holder == id ? 1U : 0U;
  }
  return n;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Lock

Result<void> Channel::lock() {
  Header& h = seg_.header();
  std::uint32_t expected = 0;
  if (h.lock.compare_exchange_strong(expected, id_, std::memory_order_acquire, std::memory_order_relaxed)) return {};
  for (int spin = 0; spin < 200; ++spin) {
    if (spin % 16 == 15) sched_yield();  // the owner may be waiting for this CPU
    cpu_relax();
    expected = 0;
    if (h.lock.load(std::memory_order_relaxed) == 0 &&
        h.lock.compare_exchange_weak(expected, id_, std::memory_order_acquire, std::memory_order_relaxed)) {
      return {};
    }
  }
  for (;;) {
    std::uint32_t v = h.lock.load(std::memory_order_relaxed);
    if (v == 0) {
      // Others may still sleep: keep the contended bit so that our unlock wakes them.
      if (h.lock.compare_exchange_weak(v, id_ | kLockContended, std::memory_order_acquire, std::memory_order_relaxed)) {
        return {};
      }
      continue;
    }
    if ((v & kLockContended) == 0) {
      if (!h.lock.compare_exchange_weak(v, v | kLockContended, std::memory_order_relaxed)) continue;
      v |= kLockContended;
    }
    if (futex_wait(h.lock, v, kLivenessCheckNs) != WaitResult::timed_out) continue;
    // The owner has held the lock for a whole slice: is it still alive?
    const std::uint32_t owner = v & kLockOwnerMask;
    const bool owner_valid = owner >= 1 && owner <= kMaxParticipants;
    if (owner_valid && identity_alive(seg_.participant(owner - 1).identity.load(std::memory_order_acquire))) continue;
    if (h.lock.compare_exchange_strong(v, id_ | kLockContended, std::memory_order_acquire, std::memory_order_relaxed)) {
      h.repairs.fetch_add(1, std::memory_order_relaxed);
      Wakes wakes;
      repair(wakes);
      // The wakes run at our unlock; record them by re-notifying everyone, which is cheap and rare.
      notify_all_groups(seg_, wakes);
      notify_space(seg_, wakes);
      wakes.run(seg_);
      return {};
    }
  }
}

void Channel::unlock() noexcept {
  Header& h = seg_.header();
  const std::uint32_t prev = h.lock.exchange(0, std::memory_order_release);
  if ((prev & kLockContended) != 0) futex_wake(h.lock, 1);
}

void Channel::unlock(Wakes& wakes) noexcept {
  unlock();
  wakes.run(seg_);
}

// ---------------------------------------------------------------------------------------------
// Membership

Result<void> Channel::claim_entry(bool entry_zero_preclaimed) {
  if (entry_zero_preclaimed) {
    id_ = 1;
    return {};
  }
  const std::uint64_t me = self_identity();
  for (std::uint32_t i = 0; i < kMaxParticipants; ++i) {
    std::uint64_t expected = 0;
    if (seg_.participant(i).identity.compare_exchange_strong(expected, me, std::memory_order_acq_rel)) {
      id_ = static_cast<std::uint16_t>(i + 1);
      return {};
    }
  }
  return make_error(ErrorCode::limit_reached, "channel '" + name() + "' already has " +
                                                  std::to_string(kMaxParticipants) + " participants");
}

void Channel::release_entry() noexcept {
  if (id_ == kNobody) return;
  ParticipantCtl& p = seg_.participant(id_ - 1u);
  p.identity.store(0, std::memory_order_release);
  id_ = kNobody;
}

std::uint32_t Channel::other_claimed_entries() const noexcept {
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < kMaxParticipants; ++i) {
    if (i + 1 != id_ && seg_.participant(i).identity.load(std::memory_order_acquire) != 0) ++n;
  }
  return n;
}

std::uint32_t Channel::other_members() const noexcept {
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < kMaxParticipants; ++i) {
    const ParticipantCtl& p = seg_.participant(i);
    if (i + 1 == id_ || p.identity.load(std::memory_order_acquire) == 0) continue;
    if (p.role == kRoleProducer || p.role == kRoleConsumer) ++n;
  }
  return n;
}

bool Channel::usable() const noexcept { return seg_.valid() && id_ != kNobody && fork_generation_ == fork_generation(); }

Error Channel::unusable_error() const {
  if (seg_.valid() && fork_generation_ != fork_generation()) {
    return Error(ErrorCode::closed, "channel '" + name() +
                                        "' was opened by the parent process; a forked child must open its own handle");
  }
  return Error(ErrorCode::closed, "the handle is closed");
}

Result<void> Channel::check_live() const {
  if (seg_.header().state.load(std::memory_order_acquire) != kChannelLive) {
    return make_error(ErrorCode::closed, "channel '" + name() + "' was removed");
  }
  return {};
}

Error Channel::corrupt(const std::string& what) const {
  return Error(ErrorCode::corrupt, "channel '" + name() + "' is corrupt: " + what);
}

Result<std::uint32_t> Channel::find_or_create_group(std::string_view group, Policy policy, Wakes& wakes) {
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
    const GroupCtl& ctl = seg_.group(g);
    if (ctl.active != 0 && group_name_of(ctl) == group) return g;
  }
  const bool first_group = active_group_mask(seg_) == 0;
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
    GroupCtl& ctl = seg_.group(g);
    if (ctl.active != 0) continue;
    ctl.policy = static_cast<std::uint32_t>(policy);
    std::memset(ctl.name, 0, sizeof ctl.name);
    std::memcpy(ctl.name, group.data(), std::min(group.size(), sizeof ctl.name - 1));
    ctl.queue_head = ctl.queue_count = ctl.members = ctl.held = 0;
    ctl.delivered = ctl.dropped = ctl.redelivered = ctl.other_stream_drops = 0;
    std::memset(ctl.drops, 0, sizeof ctl.drops);
    ctl.active = 1;
    seg_.header().active_groups |= 1U << g;
    if (first_group) {
      // Messages published before any group existed go to the first group that joins.
      SlotQueue lobby = queue_of(seg_, kLobby);
      SlotQueue queue = queue_of(seg_, g);
      if (!lobby.valid()) return tl::unexpected(corrupt("the lobby queue is out of range"));
      while (!lobby.empty()) {
        const std::uint32_t slot = lobby.pop_front();
        if (slot >= seg_.slot_count()) return tl::unexpected(corrupt("lobby entry " + std::to_string(slot) + " is out of range"));
        SlotCtl& s = seg_.slot(slot);
        s.in_lobby = 0;
        s.pending = 1U << g;
        queue.push_back(slot);
      }
      notify_group(seg_, g, true, wakes);
    }
    return g;
  }
  return make_error(ErrorCode::limit_reached, "channel '" + name() + "' already has " + std::to_string(kMaxGroups) +
                                                  " groups; cannot add group '" + std::string(group) + "'");
}

Result<Channel> Channel::join_producer(std::string_view name, const ProducerOptions& options) {
  if (auto ok = validate_name(name); !ok) return tl::unexpected(ok.error());
  const std::string who = "channel '" + std::string(name) + "'";
  if (options.slots == 0 || options.slots > kMaxSlots) {
    return make_error(ErrorCode::invalid_argument, who + ": slots must be 1.." + std::to_string(kMaxSlots) +
                                                       ", not " + std::to_string(options.slots));
  }
  if (options.slot_size == 0 || options.slot_size > kMaxSlotSize) {
    return make_error(ErrorCode::invalid_argument, who + ": slot_size must be 1.." + std::to_string(kMaxSlotSize) +
                                                       " bytes, not " + std::to_string(options.slot_size));
  }
  if ((options.mode & ~0777U) != 0 || (options.mode & 0600U) != 0600U) {
    return make_error(ErrorCode::invalid_argument, who + ": mode must give the owner read and write and have no bits beyond 0777");
  }
  if (options.groups.size() > kMaxGroups) {
    return make_error(ErrorCode::invalid_argument, who + ": at most " + std::to_string(kMaxGroups) + " groups");
  }
  for (std::size_t i = 0; i < options.groups.size(); ++i) {
    if (auto ok = validate_group_name(options.groups[i].name); !ok) return tl::unexpected(ok.error());
    for (std::size_t j = 0; j < i; ++j) {
      if (options.groups[j].name == options.groups[i].name) {
        return make_error(ErrorCode::invalid_argument, who + ": group '" + options.groups[i].name + "' is declared twice");
      }
    }
  }

  for (int attempt = 0; attempt < kJoinAttempts; ++attempt) {
    auto seg = Segment::open(name, Segment::DataAccess::read_write, options.trusted_owners);
    bool created = false;
    if (!seg && seg.error().code() == ErrorCode::not_found) {
      seg = Segment::create(name, Geometry{options.slots, options.slot_size}, options.mode, options.policy, options.groups,
                            self_identity());
      if (!seg && seg.error().code() == ErrorCode::already_exists) continue;  // lost a race: join theirs
      created = true;
    }
    if (!seg) return tl::unexpected(seg.error());

    Channel ch;
    ch.seg_ = std::move(*seg);
    ch.fork_generation_ = fork_generation();
    if (auto ok = ch.claim_entry(created); !ok) return tl::unexpected(ok.error());
    Wakes wakes;
    (void)ch.lock();
    ch.reap(wakes);
    Header& h = ch.seg_.header();
    if (h.state.load(std::memory_order_acquire) != kChannelLive) {
      ch.unlock(wakes);
      ch.release_entry();
      continue;
    }
    if (!created && ch.other_claimed_entries() == 0) {
      // Everyone who used this channel is dead: it was left behind. Retire it and start afresh.
      h.state.store(kChannelRetired, std::memory_order_release);
      ch.seg_.unlink_if_same();
      ch.unlock(wakes);
      ch.release_entry();
      continue;
    }
    if (ch.seg_.slot_size() < options.slot_size) {
      const std::string msg = who + " exists with slots of " + std::to_string(ch.seg_.slot_size()) +
                              " bytes, smaller than the requested " + std::to_string(options.slot_size);
      ch.unlock(wakes);
      ch.release_entry();
      return make_error(ErrorCode::already_exists, msg);
    }
    for (const GroupSpec& spec : options.groups) {
      auto g = ch.find_or_create_group(spec.name, spec.policy.value_or(options.policy), wakes);
      if (!g) {
        ch.unlock(wakes);
        ch.release_entry();
        return tl::unexpected(g.error());
      }
    }
    ParticipantCtl& me = ch.seg_.participant(ch.id_ - 1u);
    me.role = kRoleProducer;
    me.group = 0;
    me.joined_ns = monotonic_ns();
    ch.role_ = kRoleProducer;
    h.producers += 1;
    h.producers_ever += 1;
    h.end_reason = static_cast<std::uint32_t>(EndReason::none);
    ch.last_reap_ns_ = monotonic_ns();
    ch.unlock(wakes);
    return ch;
  }
  return make_error(ErrorCode::system, who + " was replaced repeatedly while joining; giving up");
}

Result<Channel> Channel::join_consumer(std::string_view name, const ConsumerOptions& options) {
  if (auto ok = validate_name(name); !ok) return tl::unexpected(ok.error());
  if (auto ok = validate_group_name(options.group); !ok) return tl::unexpected(ok.error());
  const Deadline deadline(options.wait);
  for (int attempt = 0;; ++attempt) {
    auto seg = Segment::open(name, Segment::DataAccess::read_only, options.trusted_owners);
    if (!seg && seg.error().code() == ErrorCode::not_found) {
      if (deadline.expired()) {
        std::string msg = seg.error().message();
        if (options.wait > Duration::zero()) msg += " after waiting for it";
        return make_error(ErrorCode::not_found, msg);
      }
      wait_for_creation(channel_path(name), deadline);
      if (interrupt_requested()) return make_error(ErrorCode::interrupted, "interrupted while waiting for channel '" + std::string(name) + "'");
      continue;
    }
    if (!seg) return tl::unexpected(seg.error());

    Channel ch;
    ch.seg_ = std::move(*seg);
    ch.fork_generation_ = fork_generation();
    if (auto ok = ch.claim_entry(false); !ok) return tl::unexpected(ok.error());
    Wakes wakes;
    (void)ch.lock();
    ch.reap(wakes);
    if (ch.seg_.header().state.load(std::memory_order_acquire) != kChannelLive) {
      ch.unlock(wakes);
      ch.release_entry();
      if (attempt >= kJoinAttempts) return make_error(ErrorCode::system, "channel '" + std::string(name) + "' keeps being replaced");
      continue;
    }
    const Policy policy = options.policy.value_or(default_policy_of(ch.seg_.header()));
    auto g = ch.find_or_create_group(options.group, policy, wakes);
    if (!g) {
      ch.unlock(wakes);
      ch.release_entry();
      return tl::unexpected(g.error());
    }
    ParticipantCtl& me = ch.seg_.participant(ch.id_ - 1u);
    me.role = kRoleConsumer;
    me.group = *g;
    me.joined_ns = monotonic_ns();
    ch.seg_.group(*g).members += 1;
    ch.role_ = kRoleConsumer;
    ch.group_ = *g;
    ch.group_name_ = options.group;
    ch.last_reap_ns_ = monotonic_ns();
    ch.unlock(wakes);
    return ch;
  }
}

// ---------------------------------------------------------------------------------------------
// Death and repair

bool Channel::reap(Wakes& wakes) {
  bool any = false;
  for (std::uint32_t i = 0; i < kMaxParticipants; ++i) {
    if (i + 1 == id_) continue;
    const std::uint64_t identity = seg_.participant(i).identity.load(std::memory_order_acquire);
    if (identity == 0 || identity_alive(identity)) continue;
    recover_participant(i, wakes);
    any = true;
  }
  last_reap_ns_ = monotonic_ns();
  return any;
}

void Channel::recover_participant(std::uint32_t index, Wakes& wakes) {
  ParticipantCtl& p = seg_.participant(index);
  const auto dead = static_cast<std::uint16_t>(index + 1);
  Header& h = seg_.header();
  const std::uint32_t n = seg_.slot_count();
  if (p.role == kRoleProducer) {
    for (std::uint32_t i = 0; i < n; ++i) {
      SlotCtl& s = seg_.slot(i);
      if (s.state == kSlotLoaned && s.owner == dead) free_slot(i, wakes);
    }
    if (h.producers > 0) h.producers -= 1;
    if (h.producers == 0) {
      h.end_reason = static_cast<std::uint32_t>(EndReason::producer_died);
      notify_all_groups(seg_, wakes);
    }
  } else if (const std::uint32_t g = read_once(p.group); p.role == kRoleConsumer && g < kMaxGroups) {
    // Every message the dead consumer held goes back to its group, in publish order, flagged.
    GroupCtl& group = seg_.group(g);
    SlotQueue queue = queue_of(seg_, g);
    for (std::uint32_t i = 0; i < n; ++i) {
      SlotCtl& s = seg_.slot(i);
      if (s.state != kSlotPublished || s.holder[g] != dead) continue;
      s.holder[g] = kNobody;
      s.redelivered |= 1U << g;
      if (queue.valid()) queue.insert_ordered(i, [&](std::uint32_t slot) { return seg_.slot(slot % n).seq; });
      group.redelivered += 1;
      if (group.held > 0) group.held -= 1;
    }
    if (group.members > 0) group.members -= 1;
    notify_group(seg_, g, true, wakes);
  }
  p.role = kRoleNone;
  p.identity.store(0, std::memory_order_release);
}

void Channel::repair(Wakes& wakes) {
  reap(wakes);
  rebuild_derived();
}

// The slot table is the truth; the free stack, the queues and the held counts are derived from it.
void Channel::rebuild_derived() {
  Header& h = seg_.header();
  const std::uint32_t n = seg_.slot_count();
  h.active_groups = 0;
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
    if (seg_.group(g).active != 0) h.active_groups |= 1U << g;
  }
  const std::uint32_t active = active_group_mask(seg_);
  std::vector<std::uint32_t> published;
  std::uint32_t free_count = 0;  // counted here, stored once: the shared field is never an index
  h.lobby_head = h.lobby_count = 0;
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
    GroupCtl& group = seg_.group(g);
    group.queue_head = group.queue_count = group.held = 0;
  }
  auto registered = [&](std::uint16_t id) {
    return id >= 1 && id <= kMaxParticipants && seg_.participant(id - 1u).identity.load(std::memory_order_acquire) != 0;
  };
  for (std::uint32_t i = 0; i < n; ++i) {
    SlotCtl& s = seg_.slot(i);
    if (s.state == kSlotLoaned && registered(s.owner)) continue;
    if (s.state == kSlotPublished) {
      s.pending &= active;
      if (s.pending != 0 || s.in_lobby != 0) {
        published.push_back(i);
        continue;
      }
    }
    // Free, loaned by someone gone, fully consumed, or garbage: the slot is free.
    s = SlotCtl{};
    seg_.free_stack()[free_count++] = i;
  }
  h.free_count = free_count;
  std::sort(published.begin(), published.end(),
            [&](std::uint32_t a, std::uint32_t b) { return seg_.slot(a).seq < seg_.slot(b).seq; });
  for (const std::uint32_t i : published) {
    SlotCtl& s = seg_.slot(i);
    if (s.in_lobby != 0) {
      queue_of(seg_, kLobby).push_back(i);
      continue;
    }
    for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
      if (((s.pending >> g) & 1U) == 0) continue;
      if (s.holder[g] != kNobody && registered(s.holder[g])) {
        seg_.group(g).held += 1;
      } else {
        if (s.holder[g] != kNobody) s.redelivered |= 1U << g;
        s.holder[g] = kNobody;
        queue_of(seg_, g).push_back(i);
      }
    }
  }
}

void Channel::reap_now() {
  Wakes wakes;
  (void)lock();
  reap(wakes);
  unlock(wakes);
}

void Channel::maybe_reap() {
  if (monotonic_ns() - last_reap_ns_ >= kBusyReapIntervalNs) reap_now();
}

// ---------------------------------------------------------------------------------------------
// Slots

void Channel::free_slot(std::uint32_t slot, Wakes& wakes) noexcept {
  Header& h = seg_.header();
  seg_.slot(slot) = SlotCtl{};
  if (const std::uint32_t count = read_once(h.free_count); count < seg_.slot_count()) {
    seg_.free_stack()[count] = slot;
    h.free_count = count + 1;
  }
  notify_space(seg_, wakes);
}

void Channel::count_drop(GroupCtl& group, std::uint32_t stream) noexcept {
  group.dropped += 1;
  for (StreamDropCtl& e : group.drops) {
    if (e.used != 0 && e.stream == stream) {
      e.dropped += 1;
      return;
    }
  }
  for (StreamDropCtl& e : group.drops) {
    if (e.used == 0) {
      e.used = 1;
      e.stream = stream;
      e.dropped = 1;
      return;
    }
  }
  group.other_stream_drops += 1;
}

// A free slot, now loaned to us; kDiscardSlot when none is free.
Result<std::uint32_t> Channel::try_take_free() {
  Header& h = seg_.header();
  const std::uint32_t count = read_once(h.free_count);
  if (count == 0) return kDiscardSlot;
  if (count > seg_.slot_count()) return tl::unexpected(corrupt("free count " + std::to_string(count) + " is out of range"));
  const std::uint32_t slot = read_once(seg_.free_stack()[count - 1]);
  if (slot >= seg_.slot_count()) return tl::unexpected(corrupt("free-list entry " + std::to_string(slot) + " is out of range"));
  SlotCtl& s = seg_.slot(slot);
  if (s.state != kSlotFree) return tl::unexpected(corrupt("slot " + std::to_string(slot) + " is on the free list but in use"));
  h.free_count = count - 1;
  s.state = kSlotLoaned;
  s.owner = id_;
  return slot;
}

// drop_oldest: frees the oldest message that only drop_oldest groups still wait for (none of them
// has taken it yet). End-of-stream markers are never dropped.
bool Channel::evict_oldest_droppable(Wakes& wakes) {
  Header& h = seg_.header();
  const std::uint32_t n = seg_.slot_count();
  const bool lobby_drops = default_policy_of(h) == Policy::drop_oldest;
  std::uint32_t victim = n;
  for (std::uint32_t i = 0; i < n; ++i) {
    const SlotCtl& s = seg_.slot(i);
    if (s.state != kSlotPublished || (s.flags & flags::kEndOfStream) != 0) continue;
    bool droppable = s.in_lobby != 0 ? lobby_drops : s.pending != 0;
    for (std::uint32_t g = 0; droppable && g < kMaxGroups; ++g) {
      if (((s.pending >> g) & 1U) == 0) continue;
      droppable = policy_of(seg_.group(g)) == Policy::drop_oldest && s.holder[g] == kNobody;
    }
    if (droppable && (victim == n || s.seq < seg_.slot(victim).seq)) victim = i;
  }
  if (victim == n) return false;
  SlotCtl& s = seg_.slot(victim);
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
    if (((s.pending >> g) & 1U) == 0) continue;
    queue_of(seg_, g).remove(victim);
    count_drop(seg_.group(g), s.stream);
  }
  if (s.in_lobby != 0) {
    queue_of(seg_, kLobby).remove(victim);
    h.discarded += 1;
  }
  free_slot(victim, wakes);
  return true;
}

// Whether a producer that found no room should wait rather than drop: some group (or the lobby)
// that still needs a busy slot has the block policy, or nothing is published yet (other producers'
// loans will be published, and then the policies decide).
bool Channel::room_is_coming() const noexcept {
  const Header& h = seg_.header();
  bool any_published = false;
  for (std::uint32_t i = 0; i < seg_.slot_count(); ++i) {
    const SlotCtl& s = seg_.slot(i);
    if (s.state != kSlotPublished) continue;
    any_published = true;
    if (s.in_lobby != 0 && default_policy_of(h) == Policy::block) return true;
    for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
      if (((s.pending >> g) & 1U) != 0 && policy_of(seg_.group(g)) == Policy::block) return true;
    }
  }
  return !any_published;
}

// Called with the lock held: registers as a sleeper on `word`, unlocks, and sleeps until the word
// changes or one liveness slice passes. An idle slice is the moment to notice dead participants
// (a producer that died, a consumer whose messages can go to others).
Result<void> Channel::sleep_unlocked(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& sleepers,
                                     const Deadline& deadline, Wakes& wakes, const char* doing) {
  const std::uint32_t seen = word.load(std::memory_order_relaxed);
  sleepers.fetch_add(1, std::memory_order_relaxed);
  unlock(wakes);
  const WaitResult r = wait_for_change(word, seen, deadline);
  sleepers.fetch_sub(1, std::memory_order_relaxed);
  if (r != WaitResult::woken && interrupt_requested()) {
    return make_error(ErrorCode::interrupted, std::string("interrupted while ") + doing + " channel '" + name() + "'");
  }
  if (r == WaitResult::timed_out) reap_now();
  return {};
}

Result<std::uint32_t> Channel::acquire(std::uint64_t bytes, Duration timeout, bool force_block) {
  if (bytes > seg_.slot_size()) {
    return make_error(ErrorCode::payload_too_large, "payload of " + std::to_string(bytes) + " bytes does not fit a slot of channel '" +
                                                        name() + "' (" + std::to_string(seg_.slot_size()) + " bytes)");
  }
  const Deadline deadline(timeout);
  maybe_reap();
  for (;;) {
    Wakes wakes;
    (void)lock();
    if (auto ok = check_live(); !ok) {
      unlock(wakes);
      return tl::unexpected(ok.error());
    }
    auto slot = try_take_free();
    while (slot && *slot == kDiscardSlot && evict_oldest_droppable(wakes)) slot = try_take_free();
    if (!slot || *slot != kDiscardSlot) {
      unlock(wakes);
      return slot;
    }
    if (slots_held_by(seg_, id_) >= seg_.slot_count()) {
      unlock(wakes);
      return make_error(ErrorCode::invalid_argument, "this producer already holds all " + std::to_string(seg_.slot_count()) +
                                                         " slots of channel '" + name() + "' as unpublished loans");
    }
    if (!force_block && !room_is_coming()) {
      unlock(wakes);
      return kDiscardSlot;
    }
    if (deadline.expired()) {
      unlock(wakes);
      return make_error(ErrorCode::timeout, "no free slot in channel '" + name() + "' before the timeout (consumers are not keeping up)");
    }
    Header& h = seg_.header();
    if (auto ok = sleep_unlocked(h.space_wake, h.space_waiters, deadline, wakes, "waiting for room in"); !ok) {
      return tl::unexpected(ok.error());
    }
  }
}

Result<void> Channel::publish(std::uint32_t slot) {
  const SlotMeta& meta = seg_.meta(slot);
  Wakes wakes;
  (void)lock();
  if (auto ok = check_live(); !ok) {
    unlock(wakes);
    return ok;
  }
  SlotCtl& s = seg_.slot(slot);
  if (s.state != kSlotLoaned || s.owner != id_) {
    unlock(wakes);
    return tl::unexpected(corrupt("slot " + std::to_string(slot) + " was loaned to this producer but is no longer"));
  }
  Header& h = seg_.header();
  s.seq = h.next_seq++;
  s.stream = meta.stream;
  s.flags = meta.flags;
  s.redelivered = 0;
  for (auto& holder : s.holder) holder = kNobody;
  const std::uint32_t groups = active_group_mask(seg_);
  if (groups == 0) {
    s.in_lobby = 1;
    s.pending = 0;
  } else {
    s.in_lobby = 0;
    s.pending = groups;
  }
  s.state = kSlotPublished;  // the commit point: repair() rebuilds the queues from here on
  h.published += 1;
  if (groups == 0) {
    queue_of(seg_, kLobby).push_back(slot);
  } else {
    for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
      if (((groups >> g) & 1U) == 0) continue;
      queue_of(seg_, g).push_back(slot);
      notify_group(seg_, g, false, wakes);
    }
  }
  unlock(wakes);
  return {};
}

void Channel::give_back(std::uint32_t slot) noexcept {
  if (!usable() || slot >= seg_.slot_count()) return;
  Wakes wakes;
  (void)lock();
  SlotCtl& s = seg_.slot(slot);
  if (s.state == kSlotLoaned && s.owner == id_) {
    free_slot(slot, wakes);
  }
  unlock(wakes);
}

void Channel::count_discarded(std::uint32_t stream) noexcept {
  if (!usable()) return;
  (void)lock();
  Header& h = seg_.header();
  h.discarded += 1;
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
    GroupCtl& group = seg_.group(g);
    if (group.active != 0) count_drop(group, stream);
  }
  unlock();
}

Result<void> Channel::linger(Duration linger) {
  const Deadline deadline(linger);
  const std::uint32_t n = seg_.slot_count();
  for (;;) {
    Wakes wakes;
    (void)lock();
    std::uint32_t queued = 0;
    const bool give_up = deadline.expired();
    for (std::uint32_t i = 0; i < n; ++i) {
      SlotCtl& s = seg_.slot(i);
      if (s.state != kSlotPublished || s.owner != id_) continue;
      bool waiting = s.in_lobby != 0;
      for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
        if (((s.pending >> g) & 1U) != 0 && s.holder[g] == kNobody) waiting = true;
      }
      if (!waiting) continue;
      ++queued;
      if (!give_up) continue;
      // Linger expired: discard what nobody took, and count it as dropped.
      for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
        if (((s.pending >> g) & 1U) == 0 || s.holder[g] != kNobody) continue;
        queue_of(seg_, g).remove(i);
        count_drop(seg_.group(g), s.stream);
        s.pending &= ~(1U << g);
      }
      if (s.in_lobby != 0) {
        queue_of(seg_, kLobby).remove(i);
        seg_.header().discarded += 1;
        s.in_lobby = 0;
      }
      if (s.pending == 0) free_slot(i, wakes);
    }
    if (queued == 0 || give_up) {
      unlock(wakes);
      return {};
    }
    Header& h = seg_.header();
    if (auto ok = sleep_unlocked(h.space_wake, h.space_waiters, deadline, wakes, "closing"); !ok) return ok;
  }
}

void Channel::retire_producer() noexcept {
  if (!usable() || role_ != kRoleProducer) return;
  Wakes wakes;
  (void)lock();
  Header& h = seg_.header();
  if (h.producers > 0) h.producers -= 1;
  if (h.producers == 0) {
    h.end_reason = static_cast<std::uint32_t>(EndReason::closed);
    notify_all_groups(seg_, wakes);
  }
  seg_.participant(id_ - 1u).role = kRoleNone;
  role_ = kRoleNone;
  unlock(wakes);
}

// ---------------------------------------------------------------------------------------------
// Consumer side

Result<Taken> Channel::take(Duration timeout) {
  const Deadline deadline(timeout);
  GroupCtl& group = seg_.group(group_);
  const std::uint32_t bit = 1U << group_;
  for (;;) {
    Wakes wakes;
    (void)lock();
    if (auto ok = check_live(); !ok) {
      unlock(wakes);
      return tl::unexpected(ok.error());
    }
    SlotQueue queue = queue_of(seg_, group_);
    if (!queue.valid()) {
      unlock(wakes);
      return tl::unexpected(corrupt("queue of group '" + group_name_ + "' is out of range"));
    }
    if (!queue.empty()) {
      const std::uint32_t slot = queue.pop_front();
      if (slot >= seg_.slot_count()) {
        unlock(wakes);
        return tl::unexpected(corrupt("queue entry " + std::to_string(slot) + " of group '" + group_name_ + "' is out of range"));
      }
      SlotCtl& s = seg_.slot(slot);
      if (s.state != kSlotPublished || (s.pending & bit) == 0 || s.holder[group_] != kNobody) {
        unlock(wakes);
        return tl::unexpected(corrupt("slot " + std::to_string(slot) + " is queued for group '" + group_name_ + "' but not published to it"));
      }
      s.holder[group_] = id_;
      group.delivered += 1;
      group.held += 1;
      Taken taken{Received::Status::message, EndReason::none, slot, (s.redelivered & bit) != 0};
      notify_space(seg_, wakes);  // a closing producer may be waiting for its messages to be taken
      unlock(wakes);
      return taken;
    }
    Header& h = seg_.header();
    if (h.producers == 0 && h.end_reason != static_cast<std::uint32_t>(EndReason::none)) {
      const auto reason = h.end_reason == static_cast<std::uint32_t>(EndReason::producer_died) ? EndReason::producer_died
                                                                                               : EndReason::closed;
      unlock(wakes);
      return Taken{Received::Status::end_of_channel, reason, 0, false};
    }
    if (deadline.expired()) {
      unlock(wakes);
      return Taken{};
    }
    if (auto ok = sleep_unlocked(group.wake, group.waiters, deadline, wakes, "receiving from"); !ok) {
      return tl::unexpected(ok.error());
    }
  }
}

void Channel::release(std::uint32_t slot) noexcept {
  if (!usable() || slot >= seg_.slot_count()) return;
  Wakes wakes;
  (void)lock();
  SlotCtl& s = seg_.slot(slot);
  const std::uint32_t bit = 1U << group_;
  if (s.state == kSlotPublished && s.holder[group_] == id_) {
    s.holder[group_] = kNobody;
    s.pending &= ~bit;
    s.redelivered &= ~bit;
    GroupCtl& group = seg_.group(group_);
    if (group.held > 0) group.held -= 1;
    if (s.pending == 0 && s.in_lobby == 0) free_slot(slot, wakes);
  }
  unlock(wakes);
}

void Channel::leave() noexcept {
  if (!seg_.valid() || id_ == kNobody) return;
  if (fork_generation_ != fork_generation()) {
    // An inherited copy in a forked child: the registration belongs to the parent. Only unmap.
    id_ = kNobody;
    return;
  }
  if (role_ == kRoleProducer) retire_producer();
  Wakes wakes;
  (void)lock();
  // Dead participants do not count as staying: recover them now, so the last live one out
  // removes the channel.
  reap(wakes);
  const std::uint32_t n = seg_.slot_count();
  for (std::uint32_t i = 0; i < n; ++i) {
    SlotCtl& s = seg_.slot(i);
    if (s.state == kSlotLoaned && s.owner == id_) {
      free_slot(i, wakes);
    } else if (role_ == kRoleConsumer && s.state == kSlotPublished && s.holder[group_] == id_) {
      s.holder[group_] = kNobody;
      s.pending &= ~(1U << group_);
      if (s.pending == 0 && s.in_lobby == 0) free_slot(i, wakes);
    }
  }
  if (role_ == kRoleConsumer) {
    GroupCtl& group = seg_.group(group_);
    if (group.members > 0) group.members -= 1;
    group.held = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      if (seg_.slot(i).state == kSlotPublished && seg_.slot(i).holder[group_] != kNobody) group.held += 1;
    }
  }
  seg_.participant(id_ - 1u).role = kRoleNone;
  role_ = kRoleNone;
  // Entries without a role belong to processes that are leaving (they release the entry after
  // unlocking) or still joining (they will find the channel retired and start afresh): counting
  // them would let two participants leaving at once each see the other and both leave the file.
  if (other_members() == 0) {
    // The last participant turns off the lights.
    seg_.header().state.store(kChannelRetired, std::memory_order_release);
    seg_.unlink_if_same();
  }
  unlock(wakes);
  release_entry();
}

}  // namespace framebus::detail
