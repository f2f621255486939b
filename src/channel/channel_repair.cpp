// Death and repair: recovering what a dead participant held (reaping), and rebuilding every
// derived structure from the slot table after the lock was taken over from a dead owner. The slot
// table is the truth; the free stack, the queues and the held counts are derived from it.

#include <algorithm>
#include <vector>

#include "channel/channel_internal.hpp"
#include "channel/liveness.hpp"
#include "framebus/channel/consumer.hpp"
#include "framebus/channel/options.hpp"
#include "framebus/message.hpp"

namespace framebus::detail {

namespace {

// How often a busy producer looks for dead consumers while it never has to wait.
constexpr std::int64_t kBusyReapIntervalNs = 500'000'000;

}  // namespace

bool Channel::reap(Wakes& wakes) {
  bool any = false;
  for (std::uint32_t i = 0; i < kMaxParticipants; ++i) {
    if (i + 1 == id_) continue;
    const std::uint64_t identity = seg_.participant(i).identity.load(std::memory_order_acquire);
    if (identity == 0 || identity_alive(identity)) continue;
    recover_participant(i, identity, wakes);
    any = true;
  }
  expire_orphaned_groups(wakes);
  last_reap_ns_ = monotonic_ns();
  return any;
}

void Channel::recover_participant(std::uint32_t index, std::uint64_t identity, Wakes& wakes) {
  recover_state_of(index, wakes);
  // Only the dead identity seen is cleared: a joiner may have inherited the entry meanwhile
  // (claim_entry, when the table is full), and then it is theirs.
  (void)seg_.participant(index).identity.compare_exchange_strong(identity, 0, std::memory_order_acq_rel);
}

void Channel::recover_state_of(std::uint32_t index, Wakes& wakes) {
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
    // Every message the dead consumer held goes back to its group, in publish order, flagged
    // (or to the dead letters, past the group's delivery limit).
    for (std::uint32_t i = 0; i < n; ++i) {
      const SlotCtl& s = seg_.slot(i);
      if (s.state == kSlotPublished && s.holder[g] == dead) return_to_group(i, g, wakes);
    }
    GroupCtl& group = seg_.group(g);
    if (group.members > 0) group.members -= 1;
    if (group.members == 0 && group.orphaned_ns == 0) group.orphaned_ns = monotonic_ns();
  } else if (p.role == kRoleNone) {
    // A loan can outlive its producer's role (a joiner that died before taking one, or an
    // admin): nothing of its own is left but loaned slots.
    for (std::uint32_t i = 0; i < n; ++i) {
      SlotCtl& s = seg_.slot(i);
      if (s.state == kSlotLoaned && s.owner == dead) free_slot(i, wakes);
    }
  }
  p.role = kRoleNone;
}

void Channel::repair(Wakes& wakes) {
  reap(wakes);
  rebuild_derived(wakes);
}

// The slot table is the truth; the free stack, the queues and the held counts are derived from it.
void Channel::rebuild_derived(Wakes& wakes) {
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
      GroupCtl& group = seg_.group(g);
      if (s.holder[g] != kNobody && registered(s.holder[g])) {
        group.held += 1;
        continue;
      }
      const bool was_held = s.holder[g] != kNobody;
      s.holder[g] = kNobody;
      if (was_held && group.max_deliveries != 0 && s.deliveries[g] >= group.max_deliveries &&
          (s.flags & flags::kEndOfStream) == 0) {
        dead_letter(i, g, wakes);  // may free the slot: then no later group has it pending
        continue;
      }
      if (was_held) s.redelivered |= 1U << g;
      queue_of(seg_, g).push_back(i);
    }
  }
}

void Channel::reap_now(const Deadline& deadline) {
  auto locked = lock(deadline);
  if (!locked) return;  // a stopped lock holder: the next slice tries again
  reap(locked->wakes());
}

void Channel::maybe_reap(const Deadline& deadline) {
  if (monotonic_ns() - last_reap_ns_ >= kBusyReapIntervalNs) reap_now(deadline);
}

}  // namespace framebus::detail
