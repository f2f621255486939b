// Slots and messages: loaning, publishing, taking and releasing them, back-pressure and a closing
// producer's linger. The recovery of dead participants is in channel_repair.cpp.

#include "channel/channel_state.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "channel/channel_internal.hpp"
#include "channel/liveness.hpp"
#include "framebus/channel/consumer.hpp"
#include "framebus/channel/options.hpp"
#include "framebus/message.hpp"

namespace framebus::detail {

namespace {

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
  if (count > seg_.slot_count())
    return tl::unexpected(corrupt("free count " + std::to_string(count) + " is out of range"));
  const std::uint32_t slot = read_once(seg_.free_stack()[count - 1]);
  if (slot >= seg_.slot_count())
    return tl::unexpected(corrupt("free-list entry " + std::to_string(slot) + " is out of range"));
  SlotCtl& s = seg_.slot(slot);
  if (s.state != kSlotFree)
    return tl::unexpected(corrupt("slot " + std::to_string(slot) + " is on the free list but in use"));
  h.free_count = count - 1;
  s.state = kSlotLoaned;
  s.owner = id_;
  return slot;
}

// The oldest published message, not an end-of-stream marker, that every group still waiting for
// it would let go of (`may_drop` says so of a group's policy, and none of them has taken it); a
// message in the lobby qualifies when `lobby_may_drop`. slot_count() when there is none.
namespace {

template <typename MayDrop>
std::uint32_t oldest_droppable(const Segment& seg, MayDrop may_drop, bool lobby_may_drop) {
  const std::uint32_t n = seg.slot_count();
  std::uint32_t victim = n;
  for (std::uint32_t i = 0; i < n; ++i) {
    const SlotCtl& s = seg.slot(i);
    if (s.state != kSlotPublished || (s.flags & flags::kEndOfStream) != 0) continue;
    bool droppable = s.in_lobby != 0 ? lobby_may_drop : s.pending != 0;
    for (std::uint32_t g = 0; droppable && g < kMaxGroups; ++g) {
      if (((s.pending >> g) & 1U) == 0) continue;
      droppable = may_drop(policy_of(seg.group(g))) && s.holder[g] == kNobody;
    }
    if (droppable && (victim == n || s.seq < seg.slot(victim).seq)) victim = i;
  }
  return victim;
}

}  // namespace

// Discards a queued message for every group (and the lobby) still waiting for it, counted as their
// drops, and frees its slot.
void Channel::drop_queued(std::uint32_t slot, Wakes& wakes) {
  SlotCtl& s = seg_.slot(slot);
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
    if (((s.pending >> g) & 1U) == 0) continue;
    queue_of(seg_, g).remove(slot);
    count_drop(seg_.group(g), s.stream);
  }
  if (s.in_lobby != 0) {
    queue_of(seg_, kLobby).remove(slot);
    seg_.header().discarded += 1;
  }
  free_slot(slot, wakes);
}

// drop_oldest: frees the oldest message that only drop_oldest groups still wait for (none of them
// has taken it yet). End-of-stream markers are never dropped.
bool Channel::evict_oldest_droppable(Wakes& wakes) {
  const bool lobby_drops = default_policy_of(seg_.header()) == Policy::drop_oldest;
  const std::uint32_t victim = oldest_droppable(
      seg_, [](Policy p) { return p == Policy::drop_oldest; }, lobby_drops);
  if (victim == seg_.slot_count()) return false;
  drop_queued(victim, wakes);
  return true;
}

// When a group with the block policy needs room, a message that only drop groups still wait for
// (none of them has taken it) makes way: it is dropped for those groups (counted), so that a slow
// drop group never makes a block group lose a message. End-of-stream markers stay.
bool Channel::evict_for_block_group(Wakes& wakes) {
  const std::uint32_t victim = oldest_droppable(
      seg_, [](Policy p) { return p != Policy::block; }, false);
  if (victim == seg_.slot_count()) return false;
  drop_queued(victim, wakes);
  return true;
}

// Whether some group that the next message goes to has the block policy (or, before any group
// exists, the lobby does): then the producer waits for room and never drops.
bool Channel::block_group_waits() const noexcept {
  const std::uint32_t groups = active_group_mask(seg_);
  if (groups == 0) return default_policy_of(seg_.header()) == Policy::block;
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
    if (((groups >> g) & 1U) != 0 && policy_of(seg_.group(g)) == Policy::block) return true;
  }
  return false;
}

// With drop groups only: whether nothing is published yet (other producers' loans will be
// published, and then the policies decide), so waiting beats dropping.
bool Channel::room_is_coming() const noexcept {
  for (std::uint32_t i = 0; i < seg_.slot_count(); ++i) {
    if (seg_.slot(i).state == kSlotPublished) return false;
  }
  return true;
}

Result<std::uint32_t> Channel::acquire(std::uint64_t bytes, Duration timeout, bool force_block, std::stop_token stop) {
  if (bytes > seg_.slot_size()) {
    return make_error(ErrorCode::payload_too_large, "payload of " + std::to_string(bytes) +
                                                        " bytes does not fit a slot of channel '" + name() + "' (" +
                                                        std::to_string(seg_.slot_size()) + " bytes)");
  }
  if (auto ok = check_stop(stop, "loaning from"); !ok) return tl::unexpected(ok.error());
  const Deadline deadline(timeout);
  maybe_reap(deadline);
  for (;;) {
    auto held = lock(deadline, stop);
    if (!held) return tl::unexpected(held.error());
    Locked locked = std::move(*held);
    Wakes& wakes = locked.wakes();
    if (auto ok = check_live(); !ok) {
      return tl::unexpected(ok.error());
    }
    auto slot = try_take_free();
    while (slot && *slot == kDiscardSlot && evict_oldest_droppable(wakes)) slot = try_take_free();
    // Old messages make way only for a block group's sake; an end-of-stream marker (force_block)
    // among drop groups just waits for room, as it never displaces a frame. (Only looked at
    // when no slot is free: the common path pays nothing for it.)
    const bool block_group = slot && *slot == kDiscardSlot && block_group_waits();
    if (block_group) {
      while (slot && *slot == kDiscardSlot && evict_for_block_group(wakes)) slot = try_take_free();
    }
    if (!slot || *slot != kDiscardSlot) {
      return slot;
    }
    const bool must_wait = force_block || block_group;
    if (slots_held_by(seg_, id_) >= seg_.slot_count()) {
      return make_error(ErrorCode::invalid_argument, "this producer already holds all " +
                                                         std::to_string(seg_.slot_count()) + " slots of channel '" +
                                                         name() + "' as unpublished loans");
    }
    if (!must_wait && !room_is_coming()) {
      return kDiscardSlot;
    }
    if (deadline.expired()) {
      return make_error(ErrorCode::timeout, "no free slot in channel '" + name() +
                                                "' before the timeout (consumers are not keeping up; framebus ls shows "
                                                "which group blocks)");
    }
    Header& h = seg_.header();
    if (auto ok = sleep_unlocked(h.space_wake, h.space_waiters, deadline, locked, "waiting for room in", stop); !ok) {
      return tl::unexpected(ok.error());
    }
  }
}

Result<void> Channel::publish(std::uint32_t slot, const MessageMeta& message, std::uint64_t payload_size) {
  // The slot is loaned to us: nobody else reads its metadata before the commit below.
  SlotMeta& meta = seg_.loaned_meta(slot);
  meta.payload_size = payload_size;
  meta.frame = message.frame;
  meta.pts = message.pts;
  meta.publish_ns = monotonic_ns();
  meta.stream = message.stream;
  meta.flags = message.flags;
  meta.kind = static_cast<std::uint32_t>(message.kind);
  meta.image = message.image;
  meta.tensor = message.tensor;
  meta.user_size = static_cast<std::uint32_t>(message.user.size());
  if (!message.user.empty()) std::memcpy(meta.user, message.user.data(), message.user.size());
  Locked locked = lock_always();
  Wakes& wakes = locked.wakes();
  if (auto ok = check_live(); !ok) {
    return ok;
  }
  SlotCtl& s = seg_.slot(slot);
  if (s.state != kSlotLoaned || s.owner != id_) {
    return tl::unexpected(corrupt("slot " + std::to_string(slot) + " was loaned to this producer but is no longer"));
  }
  Header& h = seg_.header();
  s.seq = h.next_seq++;
  s.stream = meta.stream;
  s.flags = meta.flags;
  s.frame = meta.frame;
  s.redelivered = 0;
  for (auto& holder : s.holder) holder = kNobody;
  std::memset(s.deliveries, 0, sizeof s.deliveries);
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
  return {};
}

void Channel::give_back(std::uint32_t slot) noexcept {
  if (!usable() || slot >= seg_.slot_count()) return;
  Locked locked = lock_always();
  Wakes& wakes = locked.wakes();
  SlotCtl& s = seg_.slot(slot);
  if (s.state == kSlotLoaned && s.owner == id_) {
    free_slot(slot, wakes);
  }
}

void Channel::count_discarded(std::uint32_t stream) noexcept {
  if (!usable()) return;
  const Locked locked = lock_always();
  Header& h = seg_.header();
  h.discarded += 1;
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
    GroupCtl& group = seg_.group(g);
    if (group.active != 0) count_drop(group, stream);
  }
}

// A closing producer waits only for groups that nobody could read its messages from: those without
// a live member (declared groups nobody joined, groups whose members all died) and the lobby. A
// group with a live member keeps the messages after the producer is gone, so close() never waits
// for it and never discards what it is about to read.
Result<LingerDiscards> Channel::close_producer(Duration linger) {
  const Deadline deadline(linger);
  const std::uint32_t n = seg_.slot_count();
  for (;;) {
    auto held = lock(deadline);
    if (!held && held.error().code() != ErrorCode::timeout) return tl::unexpected(held.error());
    // Once the linger is over the discarding goes on, even if a stopped process makes us wait.
    Locked locked = held ? std::move(*held) : lock_always();
    Wakes& wakes = locked.wakes();
    // A member that died since the last look leaves its group without a reader: recover it now,
    // so that the decision below (and the retirement made with it, in this same critical
    // section) sees who can still read.
    reap(wakes);
    std::uint32_t unread = 0;
    const bool give_up = deadline.expired();
    std::uint32_t memberless = 0;
    for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
      const GroupCtl& group = seg_.group(g);
      if (group.active != 0 && group.members == 0) memberless |= 1U << g;
    }
    LingerDiscards discards;
    auto add = [&](const std::string& group, std::uint64_t count) {
      discards.total += count;
      for (auto& [known, sum] : discards.by_group) {
        if (known == group) {
          sum += count;
          return;
        }
      }
      discards.by_group.emplace_back(group, count);
    };
    for (std::uint32_t i = 0; i < n; ++i) {
      SlotCtl& s = seg_.slot(i);
      if (s.state != kSlotPublished || s.owner != id_) continue;
      std::uint32_t waiting = 0;
      for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
        if (((s.pending & memberless) >> g & 1U) != 0 && s.holder[g] == kNobody) waiting |= 1U << g;
      }
      if (waiting == 0 && s.in_lobby == 0) continue;
      ++unread;
      if (!give_up) continue;
      // Linger expired: discard what nobody can take, counted per group as expired drops.
      for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
        if (((waiting >> g) & 1U) == 0) continue;
        GroupCtl& group = seg_.group(g);
        queue_of(seg_, g).remove(i);
        count_drop(group, s.stream);
        group.expired += 1;
        s.pending &= ~(1U << g);
        add(group_name_of(group), 1);
      }
      if (s.in_lobby != 0) {
        queue_of(seg_, kLobby).remove(i);
        seg_.header().discarded += 1;
        s.in_lobby = 0;
        add("", 1);
      }
      if (s.pending == 0) free_slot(i, wakes);
    }
    if (unread == 0 || give_up) {
      retire_locked(wakes);
      return discards;
    }
    Header& h = seg_.header();
    if (auto ok = sleep_unlocked(h.space_wake, h.space_waiters, deadline, locked, "closing", {}); !ok)
      return tl::unexpected(ok.error());
  }
}

void Channel::retire_producer() noexcept {
  if (!usable() || role_ != kRoleProducer) return;
  Locked locked = lock_always();
  Wakes& wakes = locked.wakes();
  retire_locked(wakes);
}

void Channel::retire_locked(Wakes& wakes) noexcept {
  if (role_ != kRoleProducer) return;
  Header& h = seg_.header();
  if (h.producers > 0) h.producers -= 1;
  if (h.producers == 0) {
    h.end_reason = static_cast<std::uint32_t>(EndReason::closed);
    notify_all_groups(seg_, wakes);
  }
  seg_.participant(id_ - 1u).role = kRoleNone;
  role_ = kRoleNone;
}

// ---------------------------------------------------------------------------------------------
// Consumer side

Result<Taken> Channel::take(Duration timeout, std::stop_token stop) {
  const Deadline deadline(timeout);
  GroupCtl& group = seg_.group(group_);
  const std::uint32_t bit = 1U << group_;
  if (auto ok = check_stop(stop, "receiving from"); !ok) return tl::unexpected(ok.error());
  for (;;) {
    auto held = lock(deadline, stop);
    if (!held) {
      // A participant stopped inside the lock: the deadline still holds (framebus ls names it).
      if (held.error().code() == ErrorCode::timeout) return Taken{};
      return tl::unexpected(held.error());
    }
    Locked locked = std::move(*held);
    Wakes& wakes = locked.wakes();
    if (auto ok = check_live(); !ok) {
      return tl::unexpected(ok.error());
    }
    SlotQueue queue = queue_of(seg_, group_);
    if (!queue.valid()) {
      return tl::unexpected(corrupt("queue of group '" + group_name_ + "' is out of range"));
    }
    if (!queue.empty()) {
      const std::uint32_t slot = queue.pop_front();
      if (slot >= seg_.slot_count()) {
        return tl::unexpected(
            corrupt("queue entry " + std::to_string(slot) + " of group '" + group_name_ + "' is out of range"));
      }
      SlotCtl& s = seg_.slot(slot);
      if (s.state != kSlotPublished || (s.pending & bit) == 0 || s.holder[group_] != kNobody) {
        return tl::unexpected(corrupt("slot " + std::to_string(slot) + " is queued for group '" + group_name_ +
                                      "' but not published to it"));
      }
      s.holder[group_] = id_;
      if (s.deliveries[group_] < 255) s.deliveries[group_] += 1;
      group.delivered += 1;
      group.held += 1;
      Taken taken{slot, (s.redelivered & bit) != 0, EndReason::none};
      notify_space(seg_, wakes);  // a closing producer may be waiting for its messages to be taken
      return taken;
    }
    Header& h = seg_.header();
    if (h.producers == 0 && h.end_reason != static_cast<std::uint32_t>(EndReason::none)) {
      const auto reason = h.end_reason == static_cast<std::uint32_t>(EndReason::producer_died)
                              ? EndReason::producer_died
                              : EndReason::closed;
      return Taken{std::nullopt, false, reason};
    }
    if (deadline.expired()) {
      return Taken{};
    }
    if (auto ok = sleep_unlocked(group.wake, group.waiters, deadline, locked, "receiving from", stop); !ok) {
      return tl::unexpected(ok.error());
    }
  }
}

void Channel::release(std::uint32_t slot) noexcept {
  if (!usable() || slot >= seg_.slot_count()) return;
  Locked locked = lock_always();
  Wakes& wakes = locked.wakes();
  SlotCtl& s = seg_.slot(slot);
  const std::uint32_t bit = 1U << group_;
  if (s.state == kSlotPublished && s.holder[group_] == id_) {
    s.holder[group_] = kNobody;
    s.pending &= ~bit;
    s.redelivered &= ~bit;
    s.deliveries[group_] = 0;
    GroupCtl& group = seg_.group(group_);
    if (group.held > 0) group.held -= 1;
    if (s.pending == 0 && s.in_lobby == 0) free_slot(slot, wakes);
  }
}

}  // namespace framebus::detail
