// Back-pressure: block, drop_oldest and drop_newest, with their counters.
#include <gtest/gtest.h>

#include "framebus/framebus.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::Pipe;
using testing::unique_name;

GroupInfo group_info(const std::string& name, std::size_t index = 0) {
  auto info = inspect_channel(name);
  EXPECT_TRUE(info);
  if (!info || info->groups.size() <= index) return {};
  return info->groups[index];
}

std::uint64_t drops_of_stream(const GroupInfo& g, std::uint32_t stream) {
  for (const auto& d : g.drops_by_stream) {
    if (d.stream == stream) return d.dropped;
  }
  return 0;
}

TEST(Policy, block_waits_for_room_and_fails_with_a_timeout_naming_the_channel) {
  const auto name = unique_name("block");
  auto opts = testing::small_channel(4);
  opts.groups = {{"g", Policy::block}};
  opts.block_timeout = 100ms;
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  for (std::uint64_t f = 0; f < 4; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = testing::send_frame(*tx, 0, 4);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::timeout);
  EXPECT_NE(r.error().message().find(name), std::string::npos);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);
  EXPECT_EQ(group_info(name).dropped, 0U) << "block never drops";
}

TEST(Policy, a_blocked_producer_resumes_when_a_consumer_process_frees_a_slot) {
  const auto name = unique_name("blockresume");
  auto opts = testing::small_channel(2);
  opts.groups = {{"g"}};
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  ASSERT_TRUE(testing::send_frame(*tx, 0, 0));
  ASSERT_TRUE(testing::send_frame(*tx, 0, 1));
  Pipe go;
  Child consumer([&] {
    auto rx = Consumer::open(name, {.group = "g"});
    if (!rx) return 2;
    if (!go.receive()) return 3;
    return testing::drain(*rx).size() == 3 ? 0 : 4;
  });
  go.send("go");
  ASSERT_TRUE(testing::send_frame(*tx, 0, 2)) << "blocks until the consumer takes a frame";
  ASSERT_TRUE(tx->close());
  EXPECT_EQ(consumer.wait(), 0);
}

TEST(Policy, drop_oldest_keeps_the_newest_frames_and_counts_drops_per_stream) {
  const auto name = unique_name("dropoldest");
  auto opts = testing::small_channel(4);
  opts.groups = {{"g", Policy::drop_oldest}};
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  for (std::uint64_t f = 0; f < 10; ++f) ASSERT_TRUE(testing::send_frame(*tx, f % 2, f));
  const GroupInfo g = group_info(name);
  EXPECT_EQ(g.dropped, 6U);
  EXPECT_EQ(drops_of_stream(g, 0), 3U);
  EXPECT_EQ(drops_of_stream(g, 1), 3U);
  auto rx = Consumer::open(name, {.group = "g"});
  ASSERT_TRUE(rx);
  auto closing = testing::close_in_background(*tx);
  const auto got = testing::drain(*rx);
  EXPECT_TRUE(closing.get());
  ASSERT_EQ(got.size(), 4U);
  EXPECT_EQ(got.front().frame, 6U);
  EXPECT_EQ(got.back().frame, 9U);
}

TEST(Policy, drop_newest_keeps_the_oldest_frames_and_counts_drops_per_stream) {
  const auto name = unique_name("dropnewest");
  auto opts = testing::small_channel(4);
  opts.groups = {{"g", Policy::drop_newest}};
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  for (std::uint64_t f = 0; f < 10; ++f) ASSERT_TRUE(testing::send_frame(*tx, 5, f)) << "never blocks, never fails";
  auto loan = tx->loan(16);
  ASSERT_TRUE(loan);
  EXPECT_TRUE(loan->discarded()) << "a loan the policy already dropped says so";
  ASSERT_TRUE(tx->publish(std::move(*loan), MessageMeta{.stream = 5}));
  const GroupInfo g = group_info(name);
  EXPECT_EQ(g.dropped, 7U);
  EXPECT_EQ(drops_of_stream(g, 5), 7U);
  auto rx = Consumer::open(name, {.group = "g"});
  ASSERT_TRUE(rx);
  auto closing = testing::close_in_background(*tx);
  const auto got = testing::drain(*rx);
  EXPECT_TRUE(closing.get());
  ASSERT_EQ(got.size(), 4U);
  EXPECT_EQ(got.front().frame, 0U);
  EXPECT_EQ(got.back().frame, 3U);
}

TEST(Policy, drop_policies_never_drop_end_of_stream_markers) {
  const auto name = unique_name("dropeos");
  auto opts = testing::small_channel(3);
  opts.groups = {{"g", Policy::drop_oldest}};
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  ASSERT_TRUE(tx->end_stream(1));
  for (std::uint64_t f = 0; f < 10; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  auto rx = Consumer::open(name, {.group = "g"});
  ASSERT_TRUE(rx);
  auto closing = testing::close_in_background(*tx);
  const auto got = testing::drain(*rx);
  EXPECT_TRUE(closing.get());
  ASSERT_FALSE(got.empty());
  EXPECT_TRUE(got.front().end_of_stream);
  EXPECT_EQ(got.front().stream, 1U);
  EXPECT_EQ(got.back().frame, 9U);
}

TEST(Policy, each_group_applies_its_own_policy) {
  const auto name = unique_name("mixed");
  auto opts = testing::small_channel(4);
  opts.groups = {{"live", Policy::drop_oldest}, {"archive", Policy::drop_oldest}};
  auto tx = Producer::create(name, opts);
  auto archive = Consumer::open(name, {.group = "archive"});
  ASSERT_TRUE(tx && archive);
  // The archive keeps up; the live group never reads and loses its oldest frames only.
  for (std::uint64_t f = 0; f < 12; ++f) {
    ASSERT_TRUE(testing::send_frame(*tx, 0, f));
    auto r = archive->receive(1s);
    ASSERT_TRUE(r && r->has_message());
    EXPECT_EQ(r->message.frame(), f);
  }
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->groups[0].dropped, 8U);
  EXPECT_EQ(info->groups[1].dropped, 0U);
}

}  // namespace
}  // namespace framebus
