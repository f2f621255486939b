// The JSON form of ChannelInfo: one encoder for `framebus list --json` and Python's
// list_channels()/inspect_channel(), so the two can never describe a channel differently.

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framebus/channel/admin.hpp"

namespace framebus {
namespace {

using Json = nlohmann::ordered_json;

std::string format_mode(std::uint32_t mode) {
  std::array<char, 16> text{};
  std::snprintf(text.data(), text.size(), "%04o", mode & 07777U);
  return text.data();
}

Json participant_json(const ParticipantInfo& p) {
  return {{"pid", p.pid},
          {"role", p.producer ? "producer" : "consumer"},
          {"group", p.producer ? Json(nullptr) : Json(p.group)},
          {"alive", p.alive},
          {"held", p.held}};
}

Json group_json(const GroupInfo& g) {
  Json drops = Json::array();
  for (const auto& d : g.drops_by_stream) drops.push_back({{"stream", d.stream}, {"dropped", d.dropped}});
  Json dead = Json::array();
  for (const auto& d : g.recent_dead_letters) {
    dead.push_back({{"stream", d.stream}, {"frame", d.frame}, {"deliveries", d.deliveries}});
  }
  return {{"name", g.name},
          {"policy", std::string(to_string(g.policy))},
          {"members", g.members},
          {"queued", g.queued},
          {"held", g.held},
          {"delivered", g.delivered},
          {"dropped", g.dropped},
          {"redelivered", g.redelivered},
          {"drops_by_stream", std::move(drops)},
          {"declared", g.declared},
          {"max_deliveries", g.max_deliveries},
          {"expired", g.expired},
          {"dead_letters", g.dead_letters},
          {"recent_dead_letters", std::move(dead)},
          {"pending", g.pending},
          {"blocking", g.blocking},
          {"orphaned_ms", g.orphaned_ms}};
}

Json channel_json(const ChannelInfo& channel) {
  Json participants = Json::array();
  for (const auto& p : channel.participants) participants.push_back(participant_json(p));
  Json groups = Json::array();
  for (const auto& g : channel.groups) groups.push_back(group_json(g));
  return {{"name", channel.name},
          {"path", channel.path},
          {"error", channel.error.empty() ? Json(nullptr) : Json(channel.error)},
          {"slot_count", channel.slot_count},
          {"slot_size", channel.slot_size},
          {"total_bytes", channel.total_bytes},
          {"owner_uid", channel.owner_uid},
          {"mode", format_mode(channel.mode)},
          {"published", channel.published},
          {"free_slots", channel.free_slots},
          {"lobby", channel.lobby},
          {"end_reason", channel.end_reason},
          {"stale", channel.stale},
          {"discarded", channel.discarded},
          {"reclaimed", channel.reclaimed},
          {"groups_removed", channel.groups_removed},
          {"group_released", channel.group_released},
          {"lock_holder_pid", channel.lock_holder_pid == 0 ? Json(nullptr) : Json(channel.lock_holder_pid)},
          {"lock_held_ms", channel.lock_held_ms},
          {"participants", std::move(participants)},
          {"groups", std::move(groups)}};
}

// Names come from shared memory that anyone with access may have scribbled on: bytes that are
// not UTF-8 are written as U+FFFD instead of making the encoder throw.
std::string dump(const Json& json, int indent) { return json.dump(indent, ' ', false, Json::error_handler_t::replace); }

}  // namespace

std::string to_json(const ChannelInfo& channel, int indent) { return dump(channel_json(channel), indent); }

std::string to_json(const std::vector<ChannelInfo>& channels, int indent) {
  Json out = Json::array();
  for (const auto& channel : channels) out.push_back(channel_json(channel));
  return dump(out, indent);
}

}  // namespace framebus
