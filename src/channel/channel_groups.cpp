// Group lifetime and per-message delivery limits.
//
// A group declared at creation (ProducerOptions::groups) persists without members. A group that a
// consumer created lives as long as it has members: the last member that closes removes it, and
// when the last member died, the group waits group_grace for a new member (a restarted worker gets
// the redelivered messages) and is removed after that. Removing a group releases its queue and
// counts the released messages, so a group nobody reads never holds the slots that other groups
// and the producer need.
//
// A message taken by a consumer that died goes back to its group, flagged redelivered; the group
// counts deliveries per message, and past max_deliveries (a message that kills every consumer that
// reads it) the message becomes a dead letter: counted, recorded, never delivered again.

#include <algorithm>
#include <cstring>
#include <string>

#include "channel/channel_internal.hpp"
#include "framebus/channel/consumer.hpp"
#include "framebus/channel/options.hpp"
#include "framebus/message.hpp"

namespace framebus::detail {

Result<std::uint32_t> Channel::find_or_create_group(std::string_view group, Policy policy, std::uint32_t max_deliveries,
                                                    bool declared, Wakes& wakes) {
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
    GroupCtl& ctl = seg_.group(g);
    if (ctl.active != 0 && group_name_of(ctl) == group) {
      if (declared) ctl.declared = 1;  // a producer declaring an existing group makes it persist
      return g;
    }
  }
  const bool first_group = active_group_mask(seg_) == 0;
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
    GroupCtl& ctl = seg_.group(g);
    if (ctl.active != 0) continue;
    ctl.policy = static_cast<std::uint32_t>(policy);
    ctl.declared = declared ? 1 : 0;
    ctl.max_deliveries = max_deliveries;
    ctl.orphaned_ns = 0;
    std::memset(ctl.name, 0, sizeof ctl.name);
    std::memcpy(ctl.name, group.data(), std::min(group.size(), sizeof ctl.name - 1));
    ctl.queue_head = ctl.queue_count = ctl.members = ctl.held = 0;
    ctl.delivered = ctl.dropped = ctl.redelivered = ctl.other_stream_drops = 0;
    ctl.expired = ctl.dead_letters = 0;
    std::memset(ctl.drops, 0, sizeof ctl.drops);
    std::memset(ctl.dead, 0, sizeof ctl.dead);
    ctl.active = 1;
    seg_.header().active_groups |= 1U << g;
    if (first_group) {
      // Messages published before any group existed go to the first group that joins.
      SlotQueue lobby = queue_of(seg_, kLobby);
      SlotQueue queue = queue_of(seg_, g);
      if (!lobby.valid()) return tl::unexpected(corrupt("the lobby queue is out of range"));
      while (!lobby.empty()) {
        const std::uint32_t slot = lobby.pop_front();
        if (slot >= seg_.slot_count())
          return tl::unexpected(corrupt("lobby entry " + std::to_string(slot) + " is out of range"));
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

std::uint64_t Channel::remove_group_at(std::uint32_t g, Wakes& wakes) {
  GroupCtl& ctl = seg_.group(g);
  const std::uint32_t bit = 1U << g;
  std::uint64_t released = 0;
  for (std::uint32_t i = 0; i < seg_.slot_count(); ++i) {
    SlotCtl& s = seg_.slot(i);
    if (s.state != kSlotPublished || (s.pending & bit) == 0) continue;
    s.pending &= ~bit;
    s.redelivered &= ~bit;
    s.holder[g] = kNobody;
    s.deliveries[g] = 0;
    ++released;
    if (s.pending == 0 && s.in_lobby == 0) free_slot(i, wakes);
  }
  Header& h = seg_.header();
  ctl.active = 0;
  ctl.declared = 0;
  ctl.queue_head = ctl.queue_count = ctl.members = ctl.held = 0;
  ctl.orphaned_ns = 0;
  h.active_groups &= ~bit;
  h.groups_removed += 1;
  h.group_released += released;
  notify_space(seg_, wakes);  // a producer blocked by this group can go on
  return released;
}

void Channel::return_to_group(std::uint32_t slot, std::uint32_t g, Wakes& wakes) {
  SlotCtl& s = seg_.slot(slot);
  GroupCtl& group = seg_.group(g);
  s.holder[g] = kNobody;
  if (group.held > 0) group.held -= 1;
  const std::uint32_t limit = group.max_deliveries;
  // End-of-stream markers carry no pixels to crash on, and are never given up.
  if (limit != 0 && s.deliveries[g] >= limit && (s.flags & flags::kEndOfStream) == 0) {
    dead_letter(slot, g, wakes);
    return;
  }
  s.redelivered |= 1U << g;
  const std::uint32_t n = seg_.slot_count();
  SlotQueue queue = queue_of(seg_, g);
  if (queue.valid()) queue.insert_ordered(slot, [&](std::uint32_t i) { return seg_.slot(i % n).seq; });
  group.redelivered += 1;
  notify_group(seg_, g, true, wakes);
}

void Channel::dead_letter(std::uint32_t slot, std::uint32_t g, Wakes& wakes) {
  SlotCtl& s = seg_.slot(slot);
  GroupCtl& group = seg_.group(g);
  DeadLetterCtl& record = group.dead[group.dead_letters % kDeadLetterEntries];
  record.stream = s.stream;
  record.frame = s.frame;
  record.deliveries = s.deliveries[g];
  group.dead_letters += 1;
  s.holder[g] = kNobody;
  s.deliveries[g] = 0;
  s.pending &= ~(1U << g);
  s.redelivered &= ~(1U << g);
  if (s.pending == 0 && s.in_lobby == 0) free_slot(slot, wakes);
}

void Channel::expire_orphaned_groups(Wakes& wakes) {
  const Header& h = seg_.header();
  const std::int64_t now = monotonic_ns();
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) {
    GroupCtl& ctl = seg_.group(g);
    if (ctl.active == 0 || ctl.declared != 0 || ctl.members != 0 || ctl.orphaned_ns == 0) continue;
    if (elapsed_ns(now, ctl.orphaned_ns) >= h.group_grace_ns) (void)remove_group_at(g, wakes);
  }
}

}  // namespace framebus::detail
