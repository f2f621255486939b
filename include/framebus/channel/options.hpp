#pragma once
/// @file channel/options.hpp
/// Options of channels, producers and consumers. Defaults suit a 1080p video pipeline.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "framebus/error.hpp"
#include "framebus/units.hpp"

namespace framebus {

/// What a producer does when a group has no room for another message.
enum class Policy : std::uint32_t {
  block = 0,        ///< Wait (up to ProducerOptions::block_timeout) until the group frees room.
  drop_oldest = 1,  ///< Discard the group's oldest queued message to make room.
  drop_newest = 2,  ///< Discard the new message for that group.
};

std::string_view to_string(Policy policy) noexcept;
/// "block", "drop_oldest" or "drop_newest"; anything else is ErrorCode::invalid_argument.
Result<Policy> parse_policy(std::string_view text);

/// A consumer group declared when the channel is created, so it receives from the first message.
struct GroupSpec {
  std::string name;
  std::optional<Policy> policy{};  ///< Defaults to ProducerOptions::policy.
  /// Deliveries of one message to this group before it is given up as a dead letter: each
  /// delivery but the last ended with its consumer's death. 0 means no limit.
  std::uint32_t max_deliveries = 3;
};

struct ProducerOptions {
  /// Number of message slots: how many messages can be loaned, queued or held at once.
  std::uint32_t slots = 16;
  /// Largest payload of one message, in bytes.
  std::uint64_t slot_size = 8ULL << 20;
  /// Permission bits of the shared-memory object (owner only by default).
  std::uint32_t mode = 0600;
  /// Back-pressure policy of groups created without one.
  Policy policy = Policy::block;
  /// Groups that exist from the start.
  std::vector<GroupSpec> groups{};
  /// How long a `block` loan or send may wait for room; then it fails with ErrorCode::timeout.
  Duration block_timeout = forever;
  /// How long close() waits for groups that have no live member to take this producer's queued
  /// messages (a group with a live member keeps them: close() never waits for it); then the rest
  /// is discarded, counted per group (`expired`) and reported by close(). 0 discards at once.
  Duration linger = std::chrono::seconds(10);
  /// How long a group that was not declared waits for a new member after its last member died,
  /// before it is removed with its queue (so a restarted worker still gets the redelivered
  /// messages). Set when the channel is created.
  Duration group_grace = std::chrono::seconds(5);
  /// Other uids whose existing channel of this name may be joined; by default a channel owned by
  /// another user is refused (ErrorCode::permission_denied), since that user could read it all.
  std::vector<std::uint32_t> trusted_owners{};
};

struct ConsumerOptions {
  /// Consumers of one group share its messages; every group receives every message.
  std::string group = "default";
  /// Policy of the group if this consumer creates it.
  std::optional<Policy> policy{};
  /// How long open() waits for a channel that does not exist yet, or that a killed run left
  /// behind (every participant dead: a new run's producer replaces it); 0 fails at once.
  Duration wait = Duration::zero();
  /// max_deliveries of the group if this consumer creates it (see GroupSpec).
  std::uint32_t max_deliveries = 3;
  /// Other uids whose channel may be joined; by default a channel owned by another user is
  /// refused (ErrorCode::permission_denied), since that user decides what it contains.
  std::vector<std::uint32_t> trusted_owners{};
};

}  // namespace framebus
