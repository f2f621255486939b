#pragma once
/// @file admin.hpp
/// Introspection and clean-up of channels on this host (what the `framebus` tool shows).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "framebus/channel/options.hpp"
#include "framebus/error.hpp"

namespace framebus {

struct ParticipantInfo {
  std::int32_t pid = 0;
  bool producer = false;   ///< Producer or consumer.
  std::string group;       ///< Consumers only.
  bool alive = false;      ///< False when the process is gone (or a zombie) but not yet reaped.
  std::uint32_t held = 0;  ///< Slots loaned (producer) or held (consumer).
};

struct StreamDrops {
  std::uint32_t stream = 0;
  std::uint64_t dropped = 0;
};

/// A message a group gave up on: every delivery of it but the last ended with its consumer's death.
struct DeadLetter {
  std::uint32_t stream = 0;
  std::uint64_t frame = 0;
  std::uint32_t deliveries = 0;
};

struct GroupInfo {
  std::string name;
  Policy policy = Policy::block;
  bool declared = false;             ///< Declared at creation: persists without members.
  std::uint32_t max_deliveries = 0;  ///< 0 = no limit.
  std::uint32_t members = 0;         ///< Live consumers.
  std::uint32_t queued = 0;          ///< Messages waiting to be taken.
  std::uint32_t held = 0;            ///< Messages taken and not yet released.
  std::uint64_t delivered = 0;
  std::uint64_t dropped = 0;
  std::uint64_t redelivered = 0;
  std::uint64_t expired = 0;       ///< Part of `dropped`: discarded when a closing producer's linger ran out.
  std::uint64_t dead_letters = 0;  ///< Given up after max_deliveries.
  std::vector<DeadLetter> recent_dead_letters;  ///< The last ones (up to 16), oldest first.
  std::uint32_t pending = 0;                    ///< Slots that still wait for this group (queued or held).
  /// The producer waits for this group: no slot is free and the group (block policy) still needs
  /// some. A group that stays blocking with nobody reading is what stalls a pipeline.
  bool blocking = false;
  /// Members all died this long ago; the group is removed after the channel's group_grace (0: has members).
  std::int64_t orphaned_ms = 0;
  std::vector<StreamDrops> drops_by_stream;
};

struct ChannelInfo {
  std::string name;
  std::string path;  ///< The shared-memory object, under /dev/shm.
  std::uint32_t slot_count = 0;
  std::uint64_t slot_size = 0;
  std::uint64_t total_bytes = 0;
  std::uint32_t owner_uid = 0;
  std::uint32_t mode = 0;
  std::uint64_t published = 0;
  std::uint32_t free_slots = 0;
  std::uint32_t lobby = 0;           ///< Messages waiting for the first group to join.
  std::string end_reason;            ///< "none", "closed" or "producer_died".
  std::uint64_t discarded = 0;       ///< Messages no group received (drop policies, lobby expiry).
  std::uint64_t reclaimed = 0;       ///< Messages of dead processes dropped with the channel this one replaced.
  std::uint32_t groups_removed = 0;  ///< Groups removed (last member left, grace over, or remove_group).
  std::uint64_t group_released = 0;  ///< Messages those groups never took.
  std::int32_t lock_holder_pid = 0;  ///< Who holds the channel lock now (0: nobody).
  std::int64_t lock_held_ms = 0;     ///< For how long (a stopped holder shows here).
  std::vector<ParticipantInfo> participants;
  std::vector<GroupInfo> groups;
  bool stale = false;  ///< Every registered participant is dead (or none is left).
  std::string error;   ///< Set when the channel could not be read (corrupt, access).
};

/// Checks a channel name: letters, digits, '.', '_', '-', 1..200 characters, not "." or "..".
Result<void> validate_name(std::string_view name);
/// Path of a channel's shared-memory object.
std::string channel_path(std::string_view name);

/// Every framebus channel on this host, readable or not.
std::vector<ChannelInfo> list_channels();
/// One channel.
Result<ChannelInfo> inspect_channel(std::string_view name);
/// Unlinks a channel. Processes that have it mapped keep working; new opens do not find it.
Result<void> remove_channel(std::string_view name);
/// Removes group `group` of channel `name` and releases its queue; refused while it has a live
/// member. Returns how many messages were released.
Result<std::uint64_t> remove_group(std::string_view name, std::string_view group);
/// Removes every channel whose participants are all dead. Returns the names removed.
std::vector<std::string> collect_garbage();

/// A channel as the JSON object that `framebus list --json` prints and Python's
/// `list_channels()` returns (schema in tools/README.md); `indent` < 0 writes one line.
std::string to_json(const ChannelInfo& channel, int indent = -1);
/// Channels as a JSON array of those objects.
std::string to_json(const std::vector<ChannelInfo>& channels, int indent = -1);

}  // namespace framebus
