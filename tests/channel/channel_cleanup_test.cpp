// Channels whose participants all died do not accumulate in /dev/shm: every Producer::create,
// Consumer::open and list_channels() (`framebus ls`) removes the calling user's own dead
// channels. Real processes that _exit or are killed, real shared memory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "framebus/framebus.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::Pipe;
using testing::unique_name;

bool exists(const std::string& name) {
  struct stat st {};
  return ::stat(channel_path(name).c_str(), &st) == 0;
}

// One run of a small pipeline program: a producer sends three frames and closes; its consumer
// drains them and `_exit`s at end of channel without closing, so nobody removes the channel.
// While the run is up, this process takes a shared lock on the channel's file (returned), so
// that parallel tests' sweeps leave it until the test lets go: what it left can be checked.
int run_leaving_channel_behind(const std::string& name) {
  Pipe created;
  Child run([&] {
    created.close_read();
    auto opts = testing::small_channel();
    opts.groups = {{"default"}};
    auto tx = Producer::create(name, opts);
    if (!tx) return 2;
    Child consumer([&] {
      auto rx = Consumer::open(name);
      if (!rx) return 3;
      const auto got = testing::drain(*rx);
      ::_exit(got.size() == 3 && rx->end_reason() == EndReason::closed ? 0 : 4);  // no close, no destructors
    });
    created.send("created");
    for (std::uint64_t frame = 0; frame < 3; ++frame) {
      if (!testing::send_frame(*tx, 0, frame)) return 5;
    }
    if (!tx->close()) return 6;
    return consumer.wait();
  });
  created.close_write();
  EXPECT_EQ(created.receive(), "created");
  const int keep = ::open(channel_path(name).c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(keep, 0);
  EXPECT_EQ(::flock(keep, LOCK_SH), 0);
  EXPECT_EQ(run.wait(), 0) << "the run itself worked";
  return keep;
}

// Runs the program `runs` times on uniquely named channels, checks they were all left behind,
// then lets go of them and calls `trigger`: afterwards none of them may remain.
template <typename Trigger>
void expect_swept_by(const std::string& tag, int runs, Trigger trigger) {
  std::vector<std::string> names;
  std::vector<int> keeps;
  for (int i = 0; i < runs; ++i) {
    names.push_back(unique_name(tag + "-run" + std::to_string(i)));
    keeps.push_back(run_leaving_channel_behind(names.back()));
  }
  for (const auto& name : names) {
    ASSERT_TRUE(exists(name)) << name << ": the run's consumer _exited as the last participant, leaving it";
    auto info = inspect_channel(name);
    ASSERT_TRUE(info);
    EXPECT_TRUE(info->stale);
  }
  for (const int fd : keeps) ::close(fd);
  trigger();
  for (const auto& name : names) EXPECT_FALSE(exists(name)) << name << " was left in /dev/shm";
}

TEST(Cleanup, creating_any_channel_removes_the_channels_of_nine_runs_whose_last_consumer_exited) {
  expect_swept_by("sweepcreate", 9, [] {
    const auto other = unique_name("sweepcreate-other");
    auto tx = Producer::create(other, testing::small_channel());
    ASSERT_TRUE(tx) << tx.error().message();
    EXPECT_TRUE(exists(other)) << "the live channel being created is not swept";
  });
}

TEST(Cleanup, opening_any_channel_removes_the_channels_left_by_dead_runs) {
  const auto live = unique_name("sweepopen-live");
  auto tx = Producer::create(live, testing::small_channel());
  ASSERT_TRUE(tx);
  expect_swept_by("sweepopen", 3, [&] {
    auto rx = Consumer::open(live);
    ASSERT_TRUE(rx) << rx.error().message();
  });
  EXPECT_TRUE(exists(live)) << "a channel with a live participant is never swept";
}

TEST(Cleanup, listing_channels_removes_the_channels_left_by_dead_runs_instead_of_listing_them) {
  std::vector<ChannelInfo> listed;
  expect_swept_by("sweeplist", 3, [&] { listed = list_channels(); });
  for (const auto& c : listed) EXPECT_EQ(c.name.find("sweeplist"), std::string::npos) << c.name << " was listed";
}

TEST(Cleanup, opening_a_channel_whose_producer_died_still_drains_it) {
  // The name being opened is not swept: a consumer can still take what the dead producer published.
  const auto name = unique_name("sweepself");
  Pipe sent;
  Child producer([&] {
    auto tx = Producer::create(name, testing::small_channel());
    if (!tx || !testing::send_frame(*tx, 0, 42)) return 2;
    sent.send("sent");
    ::pause();
    return 3;
  });
  ASSERT_EQ(sent.receive(), "sent");
  producer.kill9();
  auto rx = Consumer::open(name);
  ASSERT_TRUE(rx) << rx.error().message();
  const auto got = testing::drain(*rx);
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].frame, 42U);
  EXPECT_EQ(rx->end_reason(), EndReason::producer_died);
}

TEST(Cleanup, a_clean_run_after_a_killed_one_ends_with_nothing_in_dev_shm) {
  const std::string base = unique_name("cleanrun");
  // The killed run: its producer dies holding the channel, which stays behind.
  const std::string killed_name = base + "-1";
  {
    Pipe up;
    Child killed([&] {
      auto tx = Producer::create(killed_name, testing::small_channel());
      if (!tx || !testing::send_frame(*tx, 0, 0)) return 2;
      up.send("up");
      ::pause();
      return 3;
    });
    ASSERT_EQ(up.receive(), "up");
    killed.kill9();
  }
  // The clean run, on its own name (as a program that names its channels per run would).
  const std::string clean_name = base + "-2";
  Pipe ready;
  Child consumer([&] {
    auto rx = Consumer::open(clean_name, {.wait = 10s});
    if (!rx) return 2;
    ready.send("ready");
    return testing::drain(*rx).size() == 2 ? 0 : 3;
  });
  auto opts = testing::small_channel();
  opts.groups = {{"default"}};
  auto tx = Producer::create(clean_name, opts);
  ASSERT_TRUE(tx);
  ASSERT_EQ(ready.receive(), "ready");
  ASSERT_TRUE(testing::send_frame(*tx, 0, 0));
  ASSERT_TRUE(testing::send_frame(*tx, 0, 1));
  ASSERT_TRUE(tx->close());
  EXPECT_EQ(consumer.wait(), 0);
  EXPECT_FALSE(exists(killed_name)) << "the killed run's channel is gone";
  EXPECT_FALSE(exists(clean_name)) << "the clean run removed its own";
}

}  // namespace
}  // namespace framebus
