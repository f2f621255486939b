#pragma once
/// @file admin.hpp
/// Introspection and clean-up of channels on this host (what the `framebus` tool shows).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "framebus/error.hpp"
#include "framebus/options.hpp"

namespace framebus {

struct ParticipantInfo {
  std::int32_t pid = 0;
  bool producer = false;     ///< Producer or consumer.
  std::string group;         ///< Consumers only.
  bool alive = false;        ///< False when the process is gone (or a zombie) but not yet reaped.
  std::uint32_t held = 0;    ///< Slots loaned (producer) or held (consumer).
};

struct StreamDrops {
  std::uint32_t stream = 0;
  std::uint64_t dropped = 0;
};

struct GroupInfo {
  std::string name;
  Policy policy = Policy::block;
  std::uint32_t members = 0;      ///< Live consumers.
  std::uint32_t queued = 0;       ///< Messages waiting to be taken.
  std::uint32_t held = 0;         ///< Messages taken and not yet released.
  std::uint64_t delivered = 0;
  std::uint64_t dropped = 0;
  std::uint64_t redelivered = 0;
  std::vector<StreamDrops> drops_by_stream;
};

struct ChannelInfo {
  std::string name;
  std::string path;              ///< The shared-memory object, under /dev/shm.
  std::uint32_t slot_count = 0;
  std::uint64_t slot_size = 0;
  std::uint64_t total_bytes = 0;
  std::uint32_t owner_uid = 0;
  std::uint32_t mode = 0;
  std::uint64_t published = 0;
  std::uint32_t free_slots = 0;
  std::uint32_t lobby = 0;        ///< Messages waiting for the first group to join.
  std::string end_reason;         ///< "none", "closed" or "producer_died".
  std::vector<ParticipantInfo> participants;
  std::vector<GroupInfo> groups;
  bool stale = false;             ///< Every registered participant is dead (or none is left).
  std::string error;              ///< Set when the channel could not be read (corrupt, access).
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
/// Removes every channel whose participants are all dead. Returns the names removed.
std::vector<std::string> collect_garbage();

}  // namespace framebus
