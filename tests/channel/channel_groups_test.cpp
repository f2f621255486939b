// Work queues and broadcast with real consumer processes.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "framebus/framebus.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::Got;
using testing::Pipe;
using testing::unique_name;

constexpr std::uint32_t kStreams = 4;
constexpr std::uint64_t kFrames = 300;

// A consumer process: joins `group`, reports "ready", receives until end of channel, and sends
// back everything it got (checking each payload against its metadata).
std::unique_ptr<Child> spawn_consumer(const std::string& name, const std::string& group, Pipe& ready, Pipe& result) {
  return std::make_unique<Child>([&, name, group] {
    ConsumerOptions o;
    o.group = group;
    o.wait = 10s;
    auto rx = Consumer::open(name, o);
    if (!rx) return 2;
    ready.send("ready");
    std::vector<Got> got;
    bool payloads_ok = true;
    for (Message& s : *rx) {
      if (!s.is_end_of_stream() && !testing::payload_matches(s)) payloads_ok = false;
      got.push_back({s.stream(), s.frame(), s.redelivered(), s.is_end_of_stream()});
    }
    result.send(testing::encode(got));
    if (rx->last_error()) return 3;
    return payloads_ok ? 0 : 4;
  });
}

// Creates the channel, waits until `consumers` have joined (each says "ready"), then sends
// kFrames frames on each of kStreams streams, an end-of-stream marker per stream, and closes.
void produce_streams(const std::string& name, std::vector<GroupSpec> groups, Pipe& ready, int consumers) {
  auto opts = testing::small_channel(8);
  opts.groups = std::move(groups);
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx) << tx.error().message();
  for (int i = 0; i < consumers; ++i) ASSERT_TRUE(ready.receive()) << "consumer " << i << " did not join";
  for (std::uint64_t f = 0; f < kFrames; ++f) {
    for (std::uint32_t s = 0; s < kStreams; ++s) ASSERT_TRUE(testing::send_frame(*tx, s, f));
  }
  for (std::uint32_t s = 0; s < kStreams; ++s) ASSERT_TRUE(tx->end_stream(s));
  ASSERT_TRUE(tx->close());
}

// Every (stream, frame) exactly once across `parts`, and in order within each part.
void expect_exactly_once_in_order(const std::vector<std::vector<Got>>& parts) {
  std::map<std::pair<std::uint32_t, std::uint64_t>, int> seen;
  std::size_t markers = 0;
  for (const auto& part : parts) {
    std::map<std::uint32_t, std::int64_t> last;
    for (const Got& g : part) {
      if (g.end_of_stream) {
        ++markers;
        continue;
      }
      seen[{g.stream, g.frame}] += 1;
      auto it = last.find(g.stream);
      if (it != last.end()) {
        EXPECT_LT(it->second, static_cast<std::int64_t>(g.frame)) << "stream " << g.stream << " out of order";
      }
      last[g.stream] = static_cast<std::int64_t>(g.frame);
      EXPECT_FALSE(g.redelivered);
    }
  }
  EXPECT_EQ(seen.size(), kStreams * kFrames);
  for (const auto& [key, count] : seen) EXPECT_EQ(count, 1) << "stream " << key.first << " frame " << key.second;
  EXPECT_EQ(markers, kStreams) << "each end-of-stream marker reaches the group once";
}

TEST(Groups, one_producer_of_four_streams_feeds_three_consumers_of_one_group_exactly_once_in_order) {
  const auto name = unique_name("workqueue");
  Pipe ready, result;
  std::vector<std::unique_ptr<Child>> consumers;
  for (int i = 0; i < 3; ++i) consumers.push_back(spawn_consumer(name, "workers", ready, result));
  produce_streams(name, {{"workers"}}, ready, 3);
  std::vector<std::vector<Got>> parts;
  for (int i = 0; i < 3; ++i) {
    auto line = result.receive(30s);
    ASSERT_TRUE(line) << "consumer " << i << " did not report";
    parts.push_back(testing::decode(*line));
  }
  for (auto& c : consumers) EXPECT_EQ(c->wait(), 0);
  expect_exactly_once_in_order(parts);
}

TEST(Groups, consumers_of_one_group_take_turns_and_never_get_the_same_message) {
  const auto name = unique_name("share");
  auto opts = testing::small_channel(8);
  opts.groups = {{"g"}};
  auto tx = Producer::create(name, opts);
  ConsumerOptions o;
  o.group = "g";
  auto a = Consumer::open(name, o);
  auto b = Consumer::open(name, o);
  ASSERT_TRUE(tx && a && b);
  for (std::uint64_t f = 0; f < 4; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  auto a1 = a->receive(1s);
  auto b1 = b->receive(1s);
  auto a2 = a->receive(1s);
  auto b2 = b->receive(1s);
  ASSERT_TRUE(a1 && b1 && a2 && b2);
  EXPECT_EQ(a1->message.frame(), 0U);
  EXPECT_EQ(b1->message.frame(), 1U);
  EXPECT_EQ(a2->message.frame(), 2U);
  EXPECT_EQ(b2->message.frame(), 3U);
  auto none = b->receive(0s);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, Received::Status::timeout) << "each message went to exactly one consumer";
}

TEST(Groups, two_groups_each_receive_every_message) {
  const auto name = unique_name("broadcast");
  Pipe ready, result_a, result_b;
  auto a = spawn_consumer(name, "display", ready, result_a);
  auto b = spawn_consumer(name, "record", ready, result_b);
  produce_streams(name, {{"display"}, {"record"}}, ready, 2);
  auto line_a = result_a.receive(30s);
  auto line_b = result_b.receive(30s);
  ASSERT_TRUE(line_a && line_b);
  expect_exactly_once_in_order({testing::decode(*line_a)});
  expect_exactly_once_in_order({testing::decode(*line_b)});
  EXPECT_EQ(a->wait(), 0);
  EXPECT_EQ(b->wait(), 0);
}

TEST(Groups, introspection_shows_groups_members_and_counters) {
  const auto name = unique_name("introspect");
  auto opts = testing::small_channel(8);
  opts.groups = {{"a", Policy::drop_oldest}, {"b"}};
  auto tx = Producer::create(name, opts);
  auto rx = Consumer::open(name, {.group = "a"});
  ASSERT_TRUE(tx && rx);
  for (std::uint64_t f = 0; f < 3; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  auto r = rx->receive(1s);
  ASSERT_TRUE(r && r->has_message());
  auto info = inspect_channel(name);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->slot_count, 8U);
  EXPECT_EQ(info->slot_size, 4096U);
  EXPECT_EQ(info->published, 3U);
  EXPECT_EQ(info->mode, 0600U);
  ASSERT_EQ(info->participants.size(), 2U);
  ASSERT_EQ(info->groups.size(), 2U);
  EXPECT_EQ(info->groups[0].name, "a");
  EXPECT_EQ(info->groups[0].policy, Policy::drop_oldest);
  EXPECT_EQ(info->groups[0].members, 1U);
  EXPECT_EQ(info->groups[0].queued, 2U);
  EXPECT_EQ(info->groups[0].held, 1U);
  EXPECT_EQ(info->groups[0].delivered, 1U);
  EXPECT_EQ(info->groups[1].name, "b");
  EXPECT_EQ(info->groups[1].members, 0U);
  EXPECT_EQ(info->groups[1].queued, 3U);
  EXPECT_FALSE(info->stale);
  bool found = false;
  for (const auto& ch : list_channels()) found = found || ch.name == name;
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace framebus
