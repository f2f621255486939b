#include "channel/cleanup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>

#include "channel/layout.hpp"
#include "channel/liveness.hpp"
#include "common/names.hpp"

namespace framebus::detail {

namespace {
constexpr std::string_view kCreatingMarker = ".creating-";
}  // namespace

bool any_participant_alive(const Segment& seg) noexcept {
  for (std::uint32_t i = 0; i < kMaxParticipants; ++i) {
    const std::uint64_t identity = seg.participant(i).identity.load(std::memory_order_seq_cst);
    if (identity != 0 && identity_alive(identity)) return true;
  }
  return false;
}

Removal remove_if_stale(const Segment& seg, int lock_attempts) {
  return seg.remove_if_same(
      [&] {
        if (any_participant_alive(seg)) return false;
        // A joiner claims its entry before it reads the state (under the channel lock). Retire, then
        // look again: a joiner that claimed after the retirement reads `retired` and starts afresh;
        // one that claimed before it is seen now, and the channel is given back to it untouched.
        Header& h = seg.header();
        std::uint32_t live = kChannelLive;
        if (!h.state.compare_exchange_strong(live, kChannelRetired, std::memory_order_seq_cst))
          return true;  // retired already
        if (any_participant_alive(seg)) {
          std::uint32_t retired = kChannelRetired;
          h.state.compare_exchange_strong(retired, kChannelLive, std::memory_order_seq_cst);
          return false;
        }
        return true;
      },
      lock_attempts);
}

std::vector<std::string> sweep_own_dead_channels(std::string_view except) noexcept {
  std::vector<std::string> removed;
  try {
    const std::unique_ptr<DIR, int (*)(DIR*)> owned(::opendir(std::string(kShmDir).c_str()), &::closedir);
    DIR* dir = owned.get();
    if (dir == nullptr) return removed;
    const uid_t me = ::geteuid();
    while (const dirent* e = ::readdir(dir)) {
      const std::string_view file(e->d_name);
      if (file.substr(0, kShmPrefix.size()) != kShmPrefix || file.find(kCreatingMarker) != std::string_view::npos)
        continue;
      const std::string_view name = file.substr(kShmPrefix.size());
      if (name == except) continue;
      // Cheap filters first: only our own regular files are opened and mapped.
      struct stat st {};
      if (::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) || st.st_uid != me)
        continue;
      auto seg = Segment::open_any_owner(name, Segment::DataAccess::none);
      if (!seg || seg->owner_uid() != me || any_participant_alive(*seg)) continue;
      // One attempt at the lock: a channel someone is removing or holding right now is left to them.
      if (remove_if_stale(*seg, 1) == Removal::removed) removed.emplace_back(name);
    }
  } catch (...) {
    // Best effort: a failed allocation only skips the rest of this pass.
  }
  return removed;
}

}  // namespace framebus::detail
