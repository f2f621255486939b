#pragma once
// Removing channels whose participants are all dead: what `framebus gc` does on demand, and what
// every create, open and listing does for the calling user's own channels (the sweep), so that
// processes that crash or _exit as a channel's last participant do not leave files accumulating.

#include <string>
#include <string_view>
#include <vector>

#include "channel/segment.hpp"

namespace framebus::detail {

/// True while some registered participant of the channel is alive.
bool any_participant_alive(const Segment& seg) noexcept;

/// Removes the channel `seg` maps if, checked again under its removal lock (see
/// remove_if_same_file), its name still refers to it and no participant is alive; it is marked
/// retired before its name goes, so a process that joined in the meantime learns it was removed.
Removal remove_if_stale(const Segment& seg, int lock_attempts);

/// One pass over /dev/shm: removes the calling user's own channels (owner uid == geteuid())
/// whose participants are all dead, except `except` (the channel being created or opened, which
/// that call deals with itself). Channels of other users, and channels whose removal lock is
/// held right now, are skipped. Returns the names removed.
std::vector<std::string> sweep_own_dead_channels(std::string_view except) noexcept;

}  // namespace framebus::detail
