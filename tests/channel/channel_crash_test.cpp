// Crashes lose nothing and hang nothing: real processes, real SIGKILL, no simulated death.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <set>

#include "channel/channel_state.hpp"
#include "channel/liveness.hpp"
#include "channel/segment.hpp"
#include "framebus/framebus.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::Got;
using testing::Pipe;
using testing::proc_state;
using testing::unique_name;

TEST(Crash, a_consumer_killed_while_holding_samples_has_them_redelivered_to_another) {
  const auto name = unique_name("killconsumer");
  auto opts = testing::small_channel(8);
  opts.groups = {{"workers"}};
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  for (std::uint64_t f = 0; f < 6; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));

  Pipe holding;
  Child victim([&] {
    auto rx = Consumer::open(name, {.group = "workers"});
    if (!rx) return 2;
    auto a = rx->receive(5s);
    auto b = rx->receive(5s);
    if (!a || !b || !a->has_message() || !b->has_message()) return 3;
    holding.send(std::to_string(a->message.frame()) + " " + std::to_string(b->message.frame()));
    pause();  // holds both samples until killed
    return 4;
  });
  auto line = holding.receive();
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "0 1");
  victim.kill9();

  auto rx = Consumer::open(name, {.group = "workers"});
  ASSERT_TRUE(rx);
  auto closing = testing::close_in_background(*tx);
  const auto got = testing::drain(*rx);
  EXPECT_TRUE(closing.get());
  ASSERT_EQ(got.size(), 6U) << "nothing is lost";
  for (std::uint64_t f = 0; f < 6; ++f) {
    EXPECT_EQ(got[f].frame, f) << "redelivered frames come back in publish order";
    EXPECT_EQ(got[f].redelivered, f < 2) << "frame " << f;
  }
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->groups[0].redelivered, 2U);
}

TEST(Crash, a_consumer_that_died_but_was_not_reaped_counts_as_dead) {
  const auto name = unique_name("zombie");
  auto opts = testing::small_channel(4);
  opts.groups = {{"g"}};
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  ASSERT_TRUE(testing::send_frame(*tx, 0, 0));
  Pipe done;
  Child victim([&] {
    auto rx = Consumer::open(name, {.group = "g"});
    if (!rx) return 2;
    auto r = rx->receive(5s);
    if (!r || !r->has_message()) return 3;
    done.send("holding");
    ::_exit(0);  // exits holding the sample, no clean-up
  });
  ASSERT_TRUE(done.receive());
  ASSERT_TRUE(victim.wait_until_zombie()) << "the child exited and was not reaped";
  EXPECT_EQ(proc_state(victim.pid()), 'Z') << "the child is a zombie: exited, not reaped";
  auto rx = Consumer::open(name, {.group = "g"});
  ASSERT_TRUE(rx);
  auto r = rx->receive(2s);
  ASSERT_TRUE(r && r->has_message());
  EXPECT_TRUE(r->message.redelivered());
  EXPECT_EQ(victim.wait(), 0);
}

TEST(Crash, a_producer_killed_during_a_loan_frees_the_slot_and_ends_the_channel_as_producer_died) {
  const auto name = unique_name("killproducer");
  auto opts = testing::small_channel(4);
  opts.groups = {{"g"}};
  Pipe loaned;
  Child producer([&] {
    auto tx = Producer::create(name, opts);
    if (!tx) return 2;
    for (std::uint64_t f = 0; f < 2; ++f) {
      if (!testing::send_frame(*tx, 0, f)) return 3;
    }
    auto loan = tx->loan(16);  // mid-loan when killed
    if (!loan) return 4;
    loaned.send("loaned");
    pause();
    return 5;
  });
  ConsumerOptions o;
  o.group = "g";
  o.wait = 10s;
  ASSERT_TRUE(loaned.receive());
  auto rx = Consumer::open(name, o);
  ASSERT_TRUE(rx) << rx.error().message();
  producer.kill9();
  const auto killed_at = std::chrono::steady_clock::now();
  const auto got = testing::drain(*rx, SIZE_MAX, 5s);
  const auto noticed = std::chrono::steady_clock::now() - killed_at;
  EXPECT_EQ(got.size(), 2U) << "published frames are still delivered";
  EXPECT_EQ(rx->end_reason(), EndReason::producer_died);
  EXPECT_LT(noticed, 1s) << "consumers learn of the death within one second";
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->free_slots, 4U) << "the loaned slot was reclaimed";
  EXPECT_EQ(info->end_reason, "producer_died");
}

TEST(Crash, a_blocked_consumer_wakes_with_producer_died_when_the_producer_is_killed) {
  const auto name = unique_name("killidle");
  Pipe created;
  Child producer([&] {
    auto tx = Producer::create(name, testing::small_channel());
    if (!tx) return 2;
    created.send("created");
    pause();
    return 3;
  });
  ASSERT_TRUE(created.receive());
  auto rx = Consumer::open(name);
  ASSERT_TRUE(rx);
  auto first = rx->receive(20ms);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, Received::Status::timeout);
  producer.kill9();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = rx->receive(10s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Received::Status::end_of_channel);
  EXPECT_EQ(r->reason, EndReason::producer_died);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

TEST(Crash, a_channel_left_behind_by_dead_processes_is_reclaimed_when_created_again) {
  const auto name = unique_name("stale");
  const auto path = channel_path(name);
  Pipe created;
  Child first([&] {
    auto tx = Producer::create(name, testing::small_channel());
    if (!tx) return 2;
    if (!testing::send_frame(*tx, 0, 999)) return 3;
    created.send("created");
    pause();
    return 4;
  });
  ASSERT_TRUE(created.receive());
  // Tests running in parallel sweep dead channels when they create theirs; a shared lock on the
  // file keeps this one (a sweep skips a channel whose lock it cannot take) until it is looked at.
  const int keep = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(keep, 0);
  ASSERT_EQ(::flock(keep, LOCK_SH), 0);
  first.kill9();
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0) << "the dead producer left its channel behind";
  auto stale = inspect_channel(name);
  ASSERT_TRUE(stale);
  EXPECT_TRUE(stale->stale);
  ::close(keep);

  auto tx = Producer::create(name, testing::small_channel());
  ASSERT_TRUE(tx) << tx.error().message();
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino) << "a fresh channel replaced the stale one";
  auto rx = Consumer::open(name);
  ASSERT_TRUE(rx);
  ASSERT_TRUE(testing::send_frame(*tx, 0, 1));
  auto closing = testing::close_in_background(*tx);
  const auto got = testing::drain(*rx);
  EXPECT_TRUE(closing.get());
  ASSERT_EQ(got.size(), 1U) << "nothing of the dead run leaks into the new one";
  EXPECT_EQ(got[0].frame, 1U);
}

TEST(Crash, a_creation_left_unfinished_by_a_killed_creator_is_removed_when_the_channel_is_created) {
  const auto name = unique_name("unfinished");
  const std::string unfinished_prefix = channel_path(name) + ".creating-";
  // What a creator killed inside Producer::create leaves: its temporary object, named after its pid.
  Pipe made;
  Child creator([&] {
    const std::string tmp = unfinished_prefix + std::to_string(::getpid()) + "-1";
    const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return 2;
    made.send(tmp);
    pause();
    return 3;
  });
  const auto abandoned = made.receive();
  ASSERT_TRUE(abandoned);
  creator.kill9();
  // One whose creator still runs (this process) is someone's creation in progress.
  const std::string in_progress = unfinished_prefix + std::to_string(::getpid()) + "-2";
  const int fd = ::open(in_progress.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);

  auto tx = Producer::create(name, testing::small_channel());
  ASSERT_TRUE(tx) << tx.error().message();
  EXPECT_NE(::access(abandoned->c_str(), F_OK), 0) << "the dead creator's object is gone";
  EXPECT_EQ(::access(in_progress.c_str(), F_OK), 0) << "a live creator's object is left alone";
  ::unlink(in_progress.c_str());
}

TEST(Crash, a_process_killed_while_holding_the_channel_lock_does_not_hang_the_others) {
  const auto name = unique_name("lockholder");
  auto opts = testing::small_channel(4);
  opts.groups = {{"g"}};
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  ASSERT_TRUE(testing::send_frame(*tx, 0, 0));
  Pipe locked;
  Child holder([&] {
    auto rx = Consumer::open(name, {.group = "g"});
    if (!rx) return 2;
    auto r = rx->receive(5s);  // holds frame 0
    if (!r || !r->has_message()) return 3;
    // Take the channel lock the way the library does and die inside the critical section.
    auto seg = detail::Segment::open_any_owner(name, detail::Segment::DataAccess::read_only);
    if (!seg) return 4;
    std::uint32_t expected = 0;
    // Our participant id is the entry whose identity is ours and whose role is consumer.
    std::uint32_t id = 0;
    for (std::uint32_t i = 0; i < detail::kMaxParticipants; ++i) {
      const auto& p = seg->participant(i);
      if (p.role == detail::kRoleConsumer && detail::identity_pid(p.identity.load()) == ::getpid()) id = i + 1;
    }
    if (id == 0) return 5;
    while (!seg->header().lock.compare_exchange_weak(expected, id)) expected = 0;
    locked.send("locked");
    pause();
    return 6;
  });
  ASSERT_TRUE(locked.receive());
  holder.kill9();
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::send_frame(*tx, 0, 1)) << "the lock is taken over from the dead owner";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  auto rx = Consumer::open(name, {.group = "g"});
  ASSERT_TRUE(rx);
  auto closing = testing::close_in_background(*tx);
  const auto got = testing::drain(*rx);
  EXPECT_TRUE(closing.get());
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0].frame, 0U);
  EXPECT_TRUE(got[0].redelivered);
  EXPECT_EQ(got[1].frame, 1U);
  auto seg = detail::Segment::open_any_owner(name, detail::Segment::DataAccess::read_only);
  ASSERT_TRUE(seg);
  EXPECT_GE(seg->header().repairs.load(), 1U);
}

TEST(Crash, the_last_member_out_removes_the_channel_while_another_leaver_still_holds_its_entry) {
  // leave() gives up the role under the lock, unlocks, then releases the participant entry. Two
  // participants leaving at once could each see the other's entry still claimed, and neither
  // removed the file. Here the other leaver is frozen in that window: an entry claimed by this
  // process, with no role.
  const auto name = unique_name("leaverace");
  const auto path = channel_path(name);
  std::optional<Producer> tx;
  std::optional<Consumer> rx;
  {
    auto p = Producer::create(name, testing::small_channel(4));
    ASSERT_TRUE(p);
    tx.emplace(std::move(*p));
    auto c = Consumer::open(name);
    ASSERT_TRUE(c);
    rx.emplace(std::move(*c));
  }
  auto seg = detail::Segment::open_any_owner(name, detail::Segment::DataAccess::read_only);
  ASSERT_TRUE(seg);
  std::uint32_t entry = detail::kMaxParticipants;
  for (std::uint32_t i = 0; i < detail::kMaxParticipants && entry == detail::kMaxParticipants; ++i) {
    std::uint64_t expected = 0;
    if (seg->participant(i).identity.compare_exchange_strong(expected, detail::self_identity())) entry = i;
  }
  ASSERT_LT(entry, detail::kMaxParticipants);
  ASSERT_EQ(seg->participant(entry).role, detail::kRoleNone);

  rx.reset();
  tx.reset();  // the last member leaves
  struct stat st {};
  EXPECT_NE(::stat(path.c_str(), &st), 0) << "the last member out removed the channel";
  seg->participant(entry).identity.store(0);  // the other leaver finishes
  if (::stat(path.c_str(), &st) == 0) {
    ::unlink(path.c_str());
    ADD_FAILURE() << path << " was left behind with no participant at all";
  }
}

}  // namespace
}  // namespace framebus
