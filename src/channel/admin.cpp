#include "framebus/channel/admin.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "channel/channel_internal.hpp"
#include "channel/cleanup.hpp"
#include "channel/layout.hpp"
#include "channel/liveness.hpp"
#include "channel/segment.hpp"
#include "common/names.hpp"
#include "framebus/channel/consumer.hpp"

namespace framebus {

namespace {

constexpr std::string_view kCreatingMarker = ".creating-";

// Slots loaned (producer) or held (consumer) by participant `id`.
std::uint32_t held_by(const detail::Segment& seg, std::uint16_t id) {
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < seg.slot_count(); ++i) {
    const detail::SlotCtl& s = seg.slot(i);
    if (s.state == detail::kSlotLoaned && s.owner == id) ++n;
    if (s.state != detail::kSlotPublished) continue;
    for (const std::uint16_t holder : s.holder) n += holder == id ? 1U : 0U;
  }
  return n;
}

// Introspection reads the shared state without taking the channel lock: it must never block
// behind a stuck participant, so what it shows is a snapshot that may be a moment out of date.
ChannelInfo describe(const detail::Segment& seg) {
  using namespace detail;
  const Header& h = seg.header();
  ChannelInfo info;
  info.name = seg.name();
  info.path = seg.path();
  info.slot_count = seg.slot_count();
  info.slot_size = seg.slot_size();
  info.total_bytes = h.total_bytes;
  info.published = h.published;
  info.free_slots = std::min(h.free_count, seg.slot_count());
  info.lobby = std::min(h.lobby_count, seg.slot_count());
  info.discarded = h.discarded;
  info.reclaimed = h.reclaimed;
  info.groups_removed = h.groups_removed;
  info.group_released = h.group_released;
  if (const std::uint32_t word = h.lock.load(std::memory_order_acquire); (word & kLockOwnerMask) != 0) {
    const std::uint32_t owner = word & kLockOwnerMask;
    if (owner <= kMaxParticipants) info.lock_holder_pid = identity_pid(seg.participant(owner - 1).identity.load());
    info.lock_held_ms = elapsed_ns(coarse_ns(), h.lock_since_ns.load()) / 1'000'000;
  }
  const std::uint32_t reason = h.end_reason;
  info.end_reason = reason <= 2 ? std::string(to_string(static_cast<EndReason>(reason))) : "unknown";
  struct stat st {};
  if (::stat(seg.path().c_str(), &st) == 0) {
    info.owner_uid = st.st_uid;
    info.mode = st.st_mode & 07777;
  }
  std::uint32_t live_members[kMaxGroups] = {};
  bool any_alive = false;
  for (std::uint32_t i = 0; i < kMaxParticipants; ++i) {
    const ParticipantCtl& p = seg.participant(i);
    const std::uint64_t identity = p.identity.load(std::memory_order_acquire);
    if (identity == 0) continue;
    ParticipantInfo pi;
    pi.pid = identity_pid(identity);
    pi.alive = identity_alive(identity);
    pi.producer = p.role == kRoleProducer;
    pi.held = held_by(seg, static_cast<std::uint16_t>(i + 1));
    if (const std::uint32_t group = read_once(p.group); p.role == kRoleConsumer && group < kMaxGroups) {
      const GroupCtl& g = seg.group(group);
      pi.group = std::string(g.name, strnlen(g.name, sizeof g.name));
      if (pi.alive) live_members[group] += 1;
    }
    any_alive = any_alive || pi.alive;
    info.participants.push_back(std::move(pi));
  }
  info.stale = !any_alive;
  std::uint32_t pending[kMaxGroups] = {};
  for (std::uint32_t i = 0; i < seg.slot_count(); ++i) {
    const SlotCtl& s = seg.slot(i);
    if (s.state != kSlotPublished) continue;
    for (std::uint32_t gi = 0; gi < kMaxGroups; ++gi) pending[gi] += (s.pending >> gi) & 1U;
  }
  const bool full = read_once(h.free_count) == 0;
  const std::int64_t now = monotonic_ns();
  for (std::uint32_t gi = 0; gi < kMaxGroups; ++gi) {
    const GroupCtl& g = seg.group(gi);
    if (g.active == 0) continue;
    GroupInfo gr;
    gr.name = std::string(g.name, strnlen(g.name, sizeof g.name));
    gr.policy = g.policy <= 2 ? static_cast<Policy>(g.policy) : Policy::block;
    gr.members = live_members[gi];
    gr.queued = std::min(g.queue_count, seg.slot_count());
    gr.held = std::min(g.held, seg.slot_count());
    gr.delivered = g.delivered;
    gr.dropped = g.dropped;
    gr.redelivered = g.redelivered;
    gr.declared = g.declared != 0;
    gr.max_deliveries = g.max_deliveries;
    gr.expired = g.expired;
    gr.dead_letters = g.dead_letters;
    const std::uint64_t kept = std::min<std::uint64_t>(g.dead_letters, kDeadLetterEntries);
    for (std::uint64_t k = g.dead_letters - kept; k < g.dead_letters; ++k) {
      const DeadLetterCtl& d = g.dead[k % kDeadLetterEntries];
      gr.recent_dead_letters.push_back({d.stream, d.frame, d.deliveries});
    }
    gr.pending = pending[gi];
    gr.blocking = full && gr.policy == Policy::block && gr.pending > 0;
    if (const std::int64_t since = read_once(g.orphaned_ns); since != 0 && g.members == 0) {
      gr.orphaned_ms = elapsed_ns(now, since) / 1'000'000;
    }
    for (const StreamDropCtl& d : g.drops) {
      if (d.used != 0) gr.drops_by_stream.push_back({d.stream, d.dropped});
    }
    info.groups.push_back(std::move(gr));
  }
  return info;
}

bool creator_is_dead(std::string_view file) {
  // "framebus.NAME.creating-PID-RANDOM": a creation that never finished.
  const auto at = file.find(kCreatingMarker);
  if (at == std::string_view::npos) return false;
  const std::string rest(file.substr(at + kCreatingMarker.size()));
  const pid_t pid = static_cast<pid_t>(std::strtol(rest.c_str(), nullptr, 10));
  return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
}

std::vector<std::string> shm_entries() {
  std::vector<std::string> out;
  DIR* dir = ::opendir(std::string(detail::kShmDir).c_str());
  if (dir == nullptr) return out;
  while (const dirent* e = ::readdir(dir)) {
    const std::string_view file(e->d_name);
    if (file.substr(0, detail::kShmPrefix.size()) == detail::kShmPrefix) out.emplace_back(file);
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Result<ChannelInfo> inspect_channel(std::string_view name) {
  auto seg = detail::Segment::open_any_owner(name, detail::Segment::DataAccess::none);
  if (!seg) return tl::unexpected(seg.error());
  return describe(*seg);
}

std::vector<ChannelInfo> list_channels() {
  // The user's own channels whose participants are all dead are removed first, not listed.
  (void)detail::sweep_own_dead_channels({});
  std::vector<ChannelInfo> out;
  for (const std::string& file : shm_entries()) {
    if (file.find(kCreatingMarker) != std::string::npos) continue;
    const std::string name = file.substr(detail::kShmPrefix.size());
    auto info = inspect_channel(name);
    if (info) {
      out.push_back(std::move(*info));
    } else {
      ChannelInfo broken;
      broken.name = name;
      broken.path = channel_path(name);
      broken.error = info.error().message();
      out.push_back(std::move(broken));
    }
  }
  return out;
}

Result<std::uint64_t> remove_group(std::string_view name, std::string_view group) {
  if (auto ok = validate_name(name); !ok) return tl::unexpected(ok.error());
  return detail::Channel::remove_group(name, group);
}

Result<void> remove_channel(std::string_view name) {
  if (auto ok = validate_name(name); !ok) return ok;
  const std::string path = channel_path(name);
  const std::string who = "channel '" + std::string(name) + "'";
  auto fail = [&](int err) -> Result<void> {
    if (err == ENOENT) return make_error(ErrorCode::not_found, who + " does not exist");
    if (err == EACCES || err == EPERM)
      return make_error(ErrorCode::permission_denied, "permission denied removing " + who);
    return make_error(ErrorCode::system, "cannot remove " + path + ": " + std::strerror(err));
  };
  // Removed like every other removal (see remove_if_same_file): the very file opened here, under
  // its lock, never a channel created under the same name a moment later. Opened without
  // validation, so that a corrupt file can be removed too.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0 && errno == ELOOP) {
    return make_error(ErrorCode::invalid_argument, who + " is a symbolic link, not a channel: not removed");
  }
  if (fd < 0) return fail(errno);
  const detail::Removal removal = detail::remove_if_same_file(fd, path, nullptr, detail::kRemoveLockAttempts);
  const int err = errno;
  ::close(fd);
  switch (removal) {
    case detail::Removal::removed:
      return {};
    case detail::Removal::failed:
      return fail(err);
    case detail::Removal::busy:
      return make_error(ErrorCode::timeout,
                        who + " is being removed by another process (its lock stayed taken); try again");
    case detail::Removal::not_same:
    case detail::Removal::declined:
      break;
  }
  return make_error(ErrorCode::not_found,
                    who + " was removed or replaced by another process meanwhile; nothing removed");
}

std::vector<std::string> collect_garbage() {
  std::vector<std::string> removed;
  for (const std::string& file : shm_entries()) {
    const std::string path = std::string(detail::kShmDir) + "/" + file;
    if (file.find(kCreatingMarker) != std::string::npos) {
      if (creator_is_dead(file) && ::unlink(path.c_str()) == 0) removed.push_back(file);
      continue;
    }
    const std::string name = file.substr(detail::kShmPrefix.size());
    auto seg = detail::Segment::open_any_owner(name, detail::Segment::DataAccess::none);
    if (!seg || detail::any_participant_alive(*seg)) continue;
    // Checked again under the file's lock, on the very file opened: a channel created under this
    // name since (by a producer that replaced the dead one) is never removed.
    if (detail::remove_if_stale(*seg, detail::kRemoveLockAttempts) == detail::Removal::removed) removed.push_back(name);
  }
  return removed;
}

}  // namespace framebus
