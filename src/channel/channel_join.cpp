// Membership: joining a channel as a producer or a consumer, reclaiming a channel that dead
// processes left behind, removing a group on request, and leaving. Who is registered is the
// participant table; a dead process's entry is reaped (or, when the table is full, inherited by
// the joiner, which recovers what the dead one held before using it).

#include <sys/inotify.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "channel/channel_internal.hpp"
#include "channel/cleanup.hpp"
#include "channel/liveness.hpp"
#include "channel/shm_watch.hpp"
#include "common/names.hpp"
#include "framebus/channel/admin.hpp"
#include "framebus/channel/consumer.hpp"
#include "framebus/channel/options.hpp"
#include "framebus/message.hpp"

namespace framebus::detail {

namespace {

constexpr int kJoinAttempts = 64;

// Waits for a name to appear in /dev/shm (or for `stop`), at most one liveness slice.
void wait_for_creation(const std::string& path, const Deadline& deadline, const std::stop_token& stop) {
  wait_for_shm_event(IN_CREATE | IN_MOVED_TO, deadline.remaining_ns(kLivenessCheckNs), stop,
                     [&path] { return ::access(path.c_str(), F_OK) == 0; });
}

// A channel whose producers all died: waits until a new producer replaces it (a new file under
// the name) or joins it, at most until `deadline` or `stop`. inotify wakes us at a replacement; a
// producer joining the old file (possible while other participants are alive) is seen at the
// next slice.
void wait_for_live_producer(const Segment& seg, const Deadline& deadline, const std::stop_token& stop) {
  auto changed = [&seg] {
    return seg.replaced() || read_once(seg.header().producers) > 0 ||
           seg.header().state.load(std::memory_order_acquire) != kChannelLive;
  };
  while (!deadline.expired() && !stop.stop_requested() && !changed()) {
    wait_for_shm_event(IN_CREATE | IN_MOVED_TO | IN_DELETE, deadline.remaining_ns(kLivenessCheckNs), stop, changed);
  }
}

// A joiner found the file under the name retired: its remover has not unlinked it yet (it may be
// waiting for the file's lock, held a moment by gc or a sweep), or gc retired it for a moment
// and gives it back because someone joined. Nobody alive in it: it is garbage, and removing it
// (only that very file, see Segment::unlink_if_same) lets the joiner create the name afresh.
// Otherwise a short pause gives the remover its turn, so the join attempts are not spent at once.
void step_past_retired(const Segment& seg) {
  if (!any_participant_alive(seg)) seg.unlink_if_same();
  if (!seg.replaced()) ::usleep(1000);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Participant table

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
  // Full. Entries of dead processes are not free until someone reaps them under the lock, and
  // taking the lock needs an entry: so take a dead process's entry over by CAS on the identity
  // seen dead, and recover what it held once the lock is ours (recover_inherited). An entry that
  // is the lock's owner is left to the lock's takeover, which repairs it.
  const std::uint32_t lock_owner = seg_.header().lock.load(std::memory_order_acquire) & kLockOwnerMask;
  for (std::uint32_t i = 0; i < kMaxParticipants; ++i) {
    std::uint64_t seen = seg_.participant(i).identity.load(std::memory_order_acquire);
    if (seen == 0 || i + 1 == lock_owner || identity_alive(seen)) continue;
    if (seg_.participant(i).identity.compare_exchange_strong(seen, me, std::memory_order_acq_rel)) {
      id_ = static_cast<std::uint16_t>(i + 1);
      inherited_ = true;
      return {};
    }
  }
  return make_error(ErrorCode::limit_reached,
                    "channel '" + name() + "' already has " + std::to_string(kMaxParticipants) + " live participants");
}

void Channel::recover_inherited(Wakes& wakes) {
  if (!inherited_) return;
  inherited_ = false;
  recover_state_of(id_ - 1u, wakes);
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

std::uint64_t Channel::leftover_messages() const noexcept {
  std::uint64_t n = 0;
  for (std::uint32_t i = 0; i < seg_.slot_count(); ++i) {
    const SlotCtl& s = seg_.slot(i);
    if (s.state == kSlotPublished && (s.pending != 0 || s.in_lobby != 0)) ++n;
  }
  return n;
}

bool Channel::usable() const noexcept {
  return seg_.valid() && id_ != kNobody && fork_generation_ == fork_generation();
}

Error Channel::unusable_error() const {
  if (seg_.valid() && fork_generation_ != fork_generation()) {
    return Error(ErrorCode::closed,
                 "channel '" + name() + "' was opened by the parent process; a forked child must open its own handle");
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

// ---------------------------------------------------------------------------------------------
// Joining

Result<Channel> Channel::attach(Segment seg, bool entry_zero_preclaimed) {
  Channel ch;
  ch.seg_ = std::move(seg);
  ch.fork_generation_ = fork_generation();
  if (auto ok = ch.claim_entry(entry_zero_preclaimed); !ok) return tl::unexpected(ok.error());
  return ch;
}

bool Channel::settle_join(Locked& locked) {
  recover_inherited(locked.wakes());
  reap(locked.wakes());
  if (seg_.header().state.load(std::memory_order_acquire) == kChannelLive) return true;
  locked.unlock();
  release_entry();
  step_past_retired(seg_);
  return false;
}

Error Channel::abandon_join(Locked& locked, Error error) {
  locked.unlock();
  release_entry();
  return error;
}

Result<Channel> Channel::join_producer(std::string_view name, const ProducerOptions& options) {
  if (auto ok = validate_name(name); !ok) return tl::unexpected(ok.error());
  const std::string who = "channel '" + std::string(name) + "'";
  if (options.slots == 0 || options.slots > kMaxSlots) {
    return make_error(ErrorCode::invalid_argument, who + ": slots must be 1.." + std::to_string(kMaxSlots) + ", not " +
                                                       std::to_string(options.slots));
  }
  if (options.slot_size == 0 || options.slot_size > kMaxSlotSize) {
    return make_error(ErrorCode::invalid_argument, who + ": slot_size must be 1.." + std::to_string(kMaxSlotSize) +
                                                       " bytes, not " + std::to_string(options.slot_size));
  }
  if ((options.mode & ~0777U) != 0 || (options.mode & 0600U) != 0600U) {
    return make_error(ErrorCode::invalid_argument,
                      who + ": mode must give the owner read and write and have no bits beyond 0777");
  }
  if (options.groups.size() > kMaxGroups) {
    return make_error(ErrorCode::invalid_argument, who + ": at most " + std::to_string(kMaxGroups) + " groups");
  }
  if (options.group_grace < Duration::zero()) {
    return make_error(ErrorCode::invalid_argument, who + ": group_grace must not be negative");
  }
  for (std::size_t i = 0; i < options.groups.size(); ++i) {
    if (auto ok = validate_group_name(options.groups[i].name); !ok) return tl::unexpected(ok.error());
    if (options.groups[i].max_deliveries > 255) {
      return make_error(ErrorCode::invalid_argument,
                        who + ": max_deliveries of group '" + options.groups[i].name + "' must be 0 (no limit) to 255");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (options.groups[j].name == options.groups[i].name) {
        return make_error(ErrorCode::invalid_argument,
                          who + ": group '" + options.groups[i].name + "' is declared twice");
      }
    }
  }

  std::uint64_t reclaimed = 0;  // messages of dead processes in a channel this one replaces
  for (int attempt = 0; attempt < kJoinAttempts; ++attempt) {
    auto seg = Segment::open(name, Segment::DataAccess::read_write, options.trusted_owners);
    bool created = false;
    if (!seg && seg.error().code() == ErrorCode::not_found) {
      const std::int64_t grace = options.group_grace == forever ? INT64_MAX : options.group_grace.count();
      seg = Segment::create(name, Geometry{options.slots, options.slot_size}, options.mode, options.policy,
                            options.groups, self_identity(), grace);
      if (!seg && seg.error().code() == ErrorCode::already_exists) continue;  // lost a race: join theirs
      created = true;
    }
    if (!seg) return tl::unexpected(seg.error());

    auto attached = attach(std::move(*seg), created);
    if (!attached) return tl::unexpected(attached.error());
    Channel& ch = *attached;
    Locked locked = ch.lock_always();
    if (!ch.settle_join(locked)) continue;
    Wakes& wakes = locked.wakes();
    Header& h = ch.seg_.header();
    if (!created && ch.other_claimed_entries() == 0) {
      // Everyone who used this channel is dead: it was left behind. Retire it and start afresh;
      // what its dead producers published is dropped, and counted in the new channel.
      reclaimed += ch.leftover_messages();
      h.state.store(kChannelRetired, std::memory_order_release);
      ch.seg_.unlink_if_same();
      locked.unlock();
      ch.release_entry();
      continue;
    }
    if (created) h.reclaimed += reclaimed;
    if (ch.seg_.slot_size() < options.slot_size) {
      const std::string msg = who + " exists with slots of " + std::to_string(ch.seg_.slot_size()) +
                              " bytes, smaller than the requested " + std::to_string(options.slot_size);
      return tl::unexpected(ch.abandon_join(locked, Error(ErrorCode::already_exists, msg)));
    }
    for (const GroupSpec& spec : options.groups) {
      auto g =
          ch.find_or_create_group(spec.name, spec.policy.value_or(options.policy), spec.max_deliveries, true, wakes);
      if (!g) {
        return tl::unexpected(ch.abandon_join(locked, g.error()));
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
    locked.unlock();  // before the handle moves: the guard points at it
    return std::move(ch);
  }
  return make_error(ErrorCode::system, who + " was replaced repeatedly while joining; giving up");
}

Result<Channel> Channel::join_consumer(std::string_view name, const ConsumerOptions& options, std::stop_token stop) {
  if (auto ok = validate_name(name); !ok) return tl::unexpected(ok.error());
  if (auto ok = validate_group_name(options.group); !ok) return tl::unexpected(ok.error());
  if (options.max_deliveries > 255) {
    return make_error(ErrorCode::invalid_argument,
                      "max_deliveries must be 0 (no limit) to 255, not " + std::to_string(options.max_deliveries));
  }
  const Deadline deadline(options.wait);
  // Without a wait, taking the lock may still take a moment when it is busy; it is bounded anyway,
  // so that a participant stopped inside the lock cannot hold open() forever.
  const Deadline lock_deadline(options.wait > Duration::zero() ? options.wait : Duration(std::chrono::seconds(1)));
  for (int attempt = 0;; ++attempt) {
    auto seg = Segment::open(name, Segment::DataAccess::read_only, options.trusted_owners);
    if (!seg && seg.error().code() == ErrorCode::not_found) {
      if (deadline.expired()) {
        std::string msg = seg.error().message();
        if (options.wait > Duration::zero()) msg += " after waiting for it";
        return make_error(ErrorCode::not_found, msg);
      }
      wait_for_creation(channel_path(name), deadline, stop);
      if (stop.stop_requested())
        return make_error(ErrorCode::interrupted, "cancelled while waiting for channel '" + std::string(name) + "'");
      continue;
    }
    if (!seg) return tl::unexpected(seg.error());

    auto attached = attach(std::move(*seg), false);
    if (!attached) return tl::unexpected(attached.error());
    Channel& ch = *attached;
    auto held = ch.lock(lock_deadline, stop);
    if (!held) {
      ch.release_entry();
      return tl::unexpected(held.error());
    }
    Locked locked = std::move(*held);
    if (!ch.settle_join(locked)) {
      if (attempt >= kJoinAttempts)
        return make_error(ErrorCode::system, "channel '" + std::string(name) + "' keeps being replaced");
      continue;
    }
    Wakes& wakes = locked.wakes();
    Header& h = ch.seg_.header();
    if (h.producers == 0 && h.end_reason == static_cast<std::uint32_t>(EndReason::producer_died) &&
        ch.other_members() == 0 && !deadline.expired()) {
      // Left by a run whose processes were all killed: wait for the next run's producer, as for
      // a missing channel, without registering (so that producer can reclaim this file). A
      // channel whose producers died while consumers still drain it is joined, to drain too.
      locked.unlock();
      ch.release_entry();
      wait_for_live_producer(ch.seg_, deadline, stop);
      if (stop.stop_requested())
        return make_error(ErrorCode::interrupted, "cancelled while waiting for channel '" + std::string(name) + "'");
      continue;
    }
    const Policy policy = options.policy.value_or(default_policy_of(h));
    auto g = ch.find_or_create_group(options.group, policy, options.max_deliveries, false, wakes);
    if (!g) {
      return tl::unexpected(ch.abandon_join(locked, g.error()));
    }
    ParticipantCtl& me = ch.seg_.participant(ch.id_ - 1u);
    me.role = kRoleConsumer;
    me.group = *g;
    me.joined_ns = monotonic_ns();
    GroupCtl& group = ch.seg_.group(*g);
    group.members += 1;
    group.orphaned_ns = 0;
    ch.role_ = kRoleConsumer;
    ch.group_ = *g;
    ch.group_name_ = options.group;
    ch.last_reap_ns_ = monotonic_ns();
    locked.unlock();  // before the handle moves: the guard points at it
    return std::move(ch);
  }
}

Result<std::uint64_t> Channel::remove_group(std::string_view name, std::string_view group) {
  auto seg = Segment::open_any_owner(name, Segment::DataAccess::none);
  if (!seg) return tl::unexpected(seg.error());
  auto attached = attach(std::move(*seg), false);
  if (!attached) return tl::unexpected(attached.error());
  Channel& ch = *attached;
  auto held = ch.lock(Deadline(std::chrono::seconds(5)));
  if (!held) {
    ch.release_entry();
    return tl::unexpected(held.error());
  }
  Locked locked = std::move(*held);
  Wakes& wakes = locked.wakes();
  ch.seg_.participant(ch.id_ - 1u).role = kRoleAdmin;
  ch.recover_inherited(wakes);
  ch.reap(wakes);
  Result<std::uint64_t> result =
      make_error(ErrorCode::not_found, "channel '" + std::string(name) + "' has no group '" + std::string(group) +
                                           "' (framebus ls lists its groups)");
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
    GroupCtl& ctl = ch.seg_.group(g);
    if (ctl.active == 0 || group_name_of(ctl) != group) continue;
    if (ctl.members != 0) {
      result = make_error(ErrorCode::invalid_argument,
                          "group '" + std::string(group) + "' of channel '" + std::string(name) + "' has " +
                              std::to_string(ctl.members) +
                              " live consumer(s); stop them first (framebus ls shows their pids)");
    } else {
      result = ch.remove_group_at(g, wakes);
    }
    break;
  }
  ch.seg_.participant(ch.id_ - 1u).role = kRoleNone;
  locked.unlock();
  ch.release_entry();
  return result;
}

// ---------------------------------------------------------------------------------------------
// Leaving

void Channel::leave() noexcept {
  if (!seg_.valid() || id_ == kNobody) return;
  if (fork_generation_ != fork_generation()) {
    // An inherited copy in a forked child: the registration belongs to the parent. Only unmap.
    id_ = kNobody;
    return;
  }
  if (role_ == kRoleProducer) retire_producer();
  Locked locked = lock_always();
  Wakes& wakes = locked.wakes();
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
    // A group nobody declared lives as long as its members: the last one out takes its queue
    // with it (counted), so it never holds slots that the other groups need.
    if (group.members == 0 && group.declared == 0 && group.active != 0) (void)remove_group_at(group_, wakes);
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
  locked.unlock();
  release_entry();
}

}  // namespace framebus::detail
