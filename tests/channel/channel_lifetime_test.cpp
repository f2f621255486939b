// How long messages, groups and channels live: close() never throws away what a live consumer is
// about to read, a consumer started first after a killed run gets the new run, groups nobody reads
// go away instead of stalling the producer, and dead entries never fill the participant table.
// Real processes, real SIGKILL.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "channel/layout.hpp"
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

bool channel_file_exists(const std::string& name) {
  struct stat st {};
  return ::stat(channel_path(name).c_str(), &st) == 0;
}

const GroupInfo* group_named(const ChannelInfo& info, const std::string& name) {
  for (const GroupInfo& g : info.groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

TEST(Lifetime, close_returns_at_once_and_a_live_consumer_still_gets_every_frame_and_the_end_marker) {
  const auto name = unique_name("closelive");
  auto opts = testing::small_channel(8);
  opts.linger = 10s;
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  auto rx = Consumer::open(name, {.group = "e"});
  ASSERT_TRUE(rx);
  for (std::uint64_t f = 0; f < 7; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  ASSERT_TRUE(tx->end_stream(0, 7));
  const auto t0 = std::chrono::steady_clock::now();
  auto report = tx->close();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "close() does not wait for a group with a live member";
  ASSERT_TRUE(report);
  EXPECT_EQ(report->discarded, 0U);
  const auto got = testing::drain(*rx, SIZE_MAX, 5s);
  ASSERT_EQ(got.size(), 8U) << "every frame and the end-of-stream marker";
  for (std::uint64_t f = 0; f < 7; ++f) EXPECT_EQ(got[f].frame, f);
  EXPECT_TRUE(got[7].end_of_stream);
  EXPECT_EQ(rx->end_reason(), EndReason::closed);
}

TEST(Lifetime, a_slow_consumer_in_another_process_gets_every_frame_after_the_producer_closed) {
  const auto name = unique_name("closeslow");
  auto opts = testing::small_channel(4);
  opts.linger = 200ms;
  opts.groups = {{"e"}};
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  Pipe joined;
  Pipe go;
  Pipe result;
  Child reader([&] {
    auto rx = Consumer::open(name, {.group = "e"});
    if (!rx) return 2;
    joined.send("joined");
    if (!go.receive()) return 3;  // reads only after the producer has closed
    result.send(testing::encode(testing::drain(*rx, SIZE_MAX, 5s)));
    return 0;
  });
  ASSERT_TRUE(joined.receive());
  for (std::uint64_t f = 0; f < 3; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  ASSERT_TRUE(tx->end_stream(0, 3));
  auto report = tx->close();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->discarded, 0U) << "the linger never discards for a group with a live member";
  go.send("go");
  auto line = result.receive();
  ASSERT_TRUE(line);
  const auto got = testing::decode(*line);
  ASSERT_EQ(got.size(), 4U);
  EXPECT_TRUE(got[3].end_of_stream);
  EXPECT_EQ(reader.wait(), 0);
  EXPECT_FALSE(channel_file_exists(name)) << "the last participant out removed the channel";
}

TEST(Lifetime, the_linger_discards_only_for_groups_without_a_live_member_and_reports_them) {
  const auto name = unique_name("lingerreport");
  auto opts = testing::small_channel(8);
  opts.linger = 200ms;
  opts.groups = {{"nobody"}, {"e"}};
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  auto rx = Consumer::open(name, {.group = "e"});
  ASSERT_TRUE(rx);
  for (std::uint64_t f = 0; f < 3; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  ASSERT_TRUE(tx->end_stream(0, 3));
  auto report = tx->close();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->discarded, 4U) << "three frames and the marker, for the group nobody joined";
  ASSERT_EQ(report->groups.size(), 1U);
  EXPECT_EQ(report->groups[0].name, "nobody");
  EXPECT_EQ(report->groups[0].discarded, 4U);
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  const GroupInfo* nobody = group_named(*info, "nobody");
  ASSERT_NE(nobody, nullptr);
  EXPECT_EQ(nobody->expired, 4U) << "framebus ls shows what the linger discarded";
  EXPECT_EQ(nobody->dropped, 4U);
  const auto got = testing::drain(*rx, SIZE_MAX, 5s);
  ASSERT_EQ(got.size(), 4U) << "the live group keeps everything, its end marker included";
  EXPECT_TRUE(got[3].end_of_stream);
}

TEST(Lifetime, a_consumer_started_first_after_a_killed_run_waits_for_the_new_run_and_gets_only_its_frames) {
  const auto name = unique_name("killedrun");
  int keep = -1;
  {
    Pipe sent;
    Child old_run([&] {
      auto opts = testing::small_channel(8);
      opts.groups = {{"g"}};
      auto tx = Producer::create(name, opts);
      if (!tx) return 2;
      for (std::uint64_t f = 0; f < 3; ++f) {
        if (!testing::send_frame(*tx, 0, f)) return 3;
      }
      sent.send("sent");
      pause();
      return 4;
    });
    ASSERT_TRUE(sent.receive());
    // Tests running in parallel sweep dead channels when they create theirs; a shared lock on the
    // file keeps this one (a sweep skips a channel whose lock it cannot take) until the new run.
    keep = ::open(channel_path(name).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(keep, 0);
    ASSERT_EQ(::flock(keep, LOCK_SH), 0);
    old_run.kill9();
  }
  ASSERT_TRUE(channel_file_exists(name)) << "the killed run left its channel";

  Pipe opening;
  Pipe result;
  Child receiver([&] {
    ::close(keep);  // the lock is the test's: a forked copy of it would keep the reclaim out
    opening.send("opening");
    auto rx = Consumer::open(name, {.group = "g", .wait = 20s});
    if (!rx) return 2;
    auto got = testing::drain(*rx, SIZE_MAX, 10s);
    result.send(testing::encode(got) + " " + std::string(to_string(rx->end_reason())));
    return 0;
  });
  ASSERT_TRUE(opening.receive());
  ASSERT_TRUE(testing::wait_for_proc_state(receiver.pid(), 'S')) << "the receiver waits inside open()";

  auto opts = testing::small_channel(8);
  opts.groups = {{"g"}};
  opts.linger = 20s;  // the receiver joins a moment after the creation
  ::close(keep);      // the new run's producer reclaims the channel under its exclusive lock
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx) << tx.error().message();
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->reclaimed, 3U) << "the dead run's leftovers are dropped with its channel, and counted";
  for (std::uint64_t f = 100; f < 105; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  ASSERT_TRUE(tx->end_stream(0, 105));
  ASSERT_TRUE(tx->close());
  auto line = result.receive();
  ASSERT_TRUE(line);
  const auto space = line->rfind(' ');
  const auto got = testing::decode(line->substr(0, space));
  EXPECT_EQ(line->substr(space + 1), "closed") << "not producer_died: the receiver joined the new run";
  ASSERT_EQ(got.size(), 6U);
  for (std::uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(got[i].frame, 100 + i) << "only the new run's frames";
    EXPECT_FALSE(got[i].redelivered);
  }
  EXPECT_TRUE(got[5].end_of_stream);
  EXPECT_EQ(receiver.wait(), 0);
  EXPECT_FALSE(channel_file_exists(name)) << "a clean run after a killed one leaves nothing in /dev/shm";
}

TEST(Lifetime, a_group_whose_last_member_closes_is_removed_and_no_longer_stalls_the_producer) {
  const auto name = unique_name("tapclose");
  auto opts = testing::small_channel(4);
  opts.groups = {{"work"}};
  opts.block_timeout = 5s;
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  {
    auto tap = Consumer::open(name, {.group = "tap"});
    ASSERT_TRUE(tap);
    for (std::uint64_t f = 0; f < 3; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  }  // the tap's only member leaves without reading
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  EXPECT_EQ(group_named(*info, "tap"), nullptr) << "a group nobody declared goes with its last member";
  EXPECT_EQ(info->groups_removed, 1U);
  EXPECT_EQ(info->group_released, 3U) << "its queue is released, and counted";

  Pipe result;
  Child worker([&] {
    auto rx = Consumer::open(name, {.group = "work"});
    if (!rx) return 2;
    result.send(std::to_string(testing::drain(*rx, SIZE_MAX, 10s).size()));
    return 0;
  });
  for (std::uint64_t f = 3; f < 40; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f)) << "frame " << f;
  ASSERT_TRUE(tx->close());
  auto line = result.receive();
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "40");
  EXPECT_EQ(worker.wait(), 0);
}

TEST(Lifetime, a_group_whose_members_died_is_removed_after_the_grace_and_the_producer_goes_on) {
  const auto name = unique_name("tapkill");
  auto opts = testing::small_channel(4);
  opts.groups = {{"work"}};
  opts.group_grace = 300ms;
  opts.block_timeout = 10s;
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  auto work = Consumer::open(name, {.group = "work"});
  ASSERT_TRUE(work);
  Pipe joined;
  Child tap([&] {
    auto rx = Consumer::open(name, {.group = "tap"});
    if (!rx) return 2;
    joined.send("joined");
    pause();
    return 3;
  });
  ASSERT_TRUE(joined.receive());
  tap.kill9();
  // The tap never reads: without its removal the producer would block at the fifth frame.
  for (std::uint64_t f = 0; f < 12; ++f) {
    ASSERT_TRUE(testing::send_frame(*tx, 0, f)) << "frame " << f;
    auto r = work->receive(5s);
    ASSERT_TRUE(r && r->has_message());
    EXPECT_EQ(r->message.frame(), f);
  }
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  EXPECT_EQ(group_named(*info, "tap"), nullptr);
  EXPECT_EQ(info->groups_removed, 1U);
  EXPECT_GE(info->group_released, 1U);
}

TEST(Lifetime, a_worker_restarted_within_the_grace_gets_the_frames_its_dead_predecessor_held) {
  const auto name = unique_name("restartgrace");
  auto opts = testing::small_channel(8);
  opts.group_grace = 30s;
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  Pipe holding;
  Child victim([&] {
    auto rx = Consumer::open(name, {.group = "w"});  // not declared: lives by its members
    if (!rx) return 2;
    holding.send("joined");
    auto r = rx->receive(10s);
    if (!r || !r->has_message()) return 3;
    holding.send("holding");
    pause();
    return 4;
  });
  ASSERT_TRUE(holding.receive());
  for (std::uint64_t f = 0; f < 3; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  ASSERT_TRUE(holding.receive());
  victim.kill9();
  auto rx = Consumer::open(name, {.group = "w"});
  ASSERT_TRUE(rx);
  auto closing = testing::close_in_background(*tx);
  const auto got = testing::drain(*rx, SIZE_MAX, 5s);
  ASSERT_TRUE(closing.get());
  ASSERT_EQ(got.size(), 3U);
  EXPECT_EQ(got[0].frame, 0U);
  EXPECT_TRUE(got[0].redelivered);
}

TEST(Lifetime, a_declared_group_without_members_persists_shows_as_blocking_and_can_be_removed) {
  const auto name = unique_name("rmgroup");
  auto opts = testing::small_channel(2);
  opts.groups = {{"idle"}};
  opts.block_timeout = 200ms;
  opts.linger = 100ms;  // the last frame waits in the lobby once the group is gone
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  ASSERT_TRUE(testing::send_frame(*tx, 0, 0));
  ASSERT_TRUE(testing::send_frame(*tx, 0, 1));
  auto blocked = testing::send_frame(*tx, 0, 2);
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code(), ErrorCode::timeout);
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  const GroupInfo* idle = group_named(*info, "idle");
  ASSERT_NE(idle, nullptr) << "a declared group persists without members";
  EXPECT_TRUE(idle->blocking) << "framebus ls shows which group blocks the producer";
  EXPECT_EQ(idle->pending, 2U);

  {
    auto member = Consumer::open(name, {.group = "idle"});
    ASSERT_TRUE(member);
    auto refused = remove_group(name, "idle");
    ASSERT_FALSE(refused) << "a group with a live member is not removed";
    EXPECT_EQ(refused.error().code(), ErrorCode::invalid_argument);
  }
  auto released = remove_group(name, "idle");
  ASSERT_TRUE(released) << released.error().message();
  EXPECT_EQ(*released, 2U);
  auto missing = remove_group(name, "idle");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::not_found);
  EXPECT_TRUE(testing::send_frame(*tx, 0, 2)) << "the producer goes on";
}

TEST(Lifetime, dead_entries_do_not_fill_the_participant_table) {
  const auto name = unique_name("fulltable");
  auto opts = testing::small_channel(8);
  opts.groups = {{"g"}};
  auto tx = Producer::create(name, opts);  // entry 1
  ASSERT_TRUE(tx);
  for (std::uint64_t f = 0; f < 4; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  auto idle = Consumer::open(name, {.group = "other"});  // a survivor that makes no call
  ASSERT_TRUE(idle);
  std::vector<std::unique_ptr<Child>> dead;
  for (int i = 0; i < static_cast<int>(detail::kMaxParticipants) - 2; ++i) {
    Pipe joined;
    const bool take_one = i < 4;  // the first four each die holding a frame
    dead.push_back(std::make_unique<Child>([&] {
      auto rx = Consumer::open(name, {.group = "g"});
      if (!rx) return 2;
      Result<Received> r = Received{};
      if (take_one) {
        r = rx->receive(5s);  // held until the kill
        if (!r || !r->has_message()) return 3;
      }
      joined.send("joined");
      pause();
      return 4;
    }));
    ASSERT_TRUE(joined.receive()) << "consumer " << i;
  }
  for (auto& child : dead) child->kill9();
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  ASSERT_EQ(info->participants.size(), detail::kMaxParticipants) << "the table is full of dead entries";
  auto rx = Consumer::open(name, {.group = "g"});
  ASSERT_TRUE(rx) << rx.error().message();
  auto closing = testing::close_in_background(*tx);
  const auto got = testing::drain(*rx, SIZE_MAX, 5s);
  ASSERT_TRUE(closing.get());
  ASSERT_EQ(got.size(), 4U) << "what the dead held comes back";
  for (std::uint64_t f = 0; f < 4; ++f) {
    EXPECT_EQ(got[f].frame, f);
    EXPECT_TRUE(got[f].redelivered);
  }
}

}  // namespace
}  // namespace framebus
