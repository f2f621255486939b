// Delivery promises under hostile timing: a frame that crashes every consumer that reads it is
// given up after max_deliveries (not redelivered forever), a block group never loses a message,
// and a participant stopped inside the channel lock (SIGSTOP, a debugger) cannot make any call
// miss its deadline. Real processes, real signals.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <set>
#include <string>
#include <thread>

#include "channel/futex.hpp"
#include "channel/layout.hpp"
#include "channel/liveness.hpp"
#include "channel/segment.hpp"
#include "framebus/framebus.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::Pipe;
using testing::unique_name;

TEST(Delivery, a_frame_that_kills_its_consumers_becomes_a_dead_letter_after_max_deliveries) {
  const auto name = unique_name("poison");
  auto opts = testing::small_channel(8);
  opts.groups = {{"w", std::nullopt, 3}};
  opts.linger = 60s;  // close() waits for the workers to come and take everything
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  for (std::uint64_t f = 0; f < 5; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  ASSERT_TRUE(tx->end_stream(0, 5));

  // Each worker draws on frame 2 in place, as OpenCV does on a read-only array: it dies of
  // SIGSEGV on the read-only mapping. The others it processes and reports.
  std::multiset<std::uint64_t> processed;
  int deaths = 0;
  bool ended = false;
  for (int attempt = 0; attempt < 10 && !ended; ++attempt) {
    Pipe report;
    Child worker([&] {
      auto rx = Consumer::open(name, {.group = "w"});
      if (!rx) {
        std::fprintf(stderr, "open: %s\n", rx.error().message().c_str());
        return 2;
      }
      for (;;) {
        auto r = rx->receive(10s);
        if (!r) return 3;
        if (!r->has_message()) return 4;
        if (r->message.is_end_of_stream()) break;  // the producer stays: the channel is never left to the dead
        if (r->message.frame() == 2) {
          auto* pixels = const_cast<std::byte*>(r->message.data().data());
          pixels[0] = std::byte{0xFF};  // faults: payloads are mapped PROT_READ
        }
        report.send(std::to_string(r->message.frame()));
      }
      report.send("end");
      return 0;
    });
    report.close_write();  // a crashed worker then reads as end of file at once
    while (auto line = report.receive(5s)) {
      if (*line == "end") {
        ended = true;
        break;
      }
      processed.insert(std::stoull(*line));
    }
    const int status = worker.wait();
    if (!ended) {
      // SIGSEGV; under AddressSanitizer its handler reports the fault and exits with 1 instead.
      EXPECT_NE(status, 0);
      ++deaths;
    }
  }
  ASSERT_TRUE(ended) << "the workers after the third death go on";
  EXPECT_EQ(deaths, 3) << "frame 2 was delivered three times, then never again";
  EXPECT_EQ(processed, (std::multiset<std::uint64_t>{0, 1, 3, 4})) << "every other frame, once";
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->groups[0].dead_letters, 1U);
  ASSERT_TRUE(tx->close());
}

TEST(Delivery, framebus_ls_shows_the_dead_letters_of_a_group) {
  const auto name = unique_name("deadls");
  auto opts = testing::small_channel(4);
  opts.groups = {{"w", std::nullopt, 2}};
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  ASSERT_TRUE(testing::send_frame(*tx, 7, 41));
  for (int i = 0; i < 2; ++i) {
    Pipe holding;
    Child victim([&] {
      auto rx = Consumer::open(name, {.group = "w"});
      if (!rx) return 2;
      auto r = rx->receive(5s);
      if (!r || !r->has_message()) return 3;
      holding.send("holding");
      pause();
      return 4;
    });
    ASSERT_TRUE(holding.receive());
    victim.kill9();
  }
  auto rx = Consumer::open(name, {.group = "w"});  // joining reaps the second death
  ASSERT_TRUE(rx);
  auto r = rx->receive(300ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Received::Status::timeout) << "a dead letter is never delivered again";
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  ASSERT_EQ(info->groups.size(), 1U);
  const GroupInfo& w = info->groups[0];
  EXPECT_EQ(w.dead_letters, 1U);
  ASSERT_EQ(w.recent_dead_letters.size(), 1U);
  EXPECT_EQ(w.recent_dead_letters[0].stream, 7U);
  EXPECT_EQ(w.recent_dead_letters[0].frame, 41U);
  EXPECT_EQ(w.recent_dead_letters[0].deliveries, 2U);
  EXPECT_EQ(info->free_slots, 4U) << "its slot is free again";
}

TEST(Delivery, a_block_group_never_loses_a_message_while_a_drop_group_holds_every_slot) {
  const auto name = unique_name("blocknoloss");
  auto opts = testing::small_channel(4);
  opts.groups = {{"work", Policy::block}, {"tap", Policy::drop_newest}};
  opts.block_timeout = 10s;
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  auto tap = Consumer::open(name, {.group = "tap"});  // a live member that never reads
  ASSERT_TRUE(tap);
  Pipe result;
  Child worker([&] {
    auto rx = Consumer::open(name, {.group = "work"});
    if (!rx) return 2;
    const auto got = testing::drain(*rx, SIZE_MAX, 10s);
    std::string frames;
    for (const auto& g : got) {
      if (!g.end_of_stream) frames += std::to_string(g.frame) + ",";
    }
    result.send(frames);
    return 0;
  });
  std::string expected;
  for (std::uint64_t f = 0; f < 60; ++f) {
    ASSERT_TRUE(testing::send_frame(*tx, 0, f)) << "frame " << f;
    expected += std::to_string(f) + ",";
  }
  ASSERT_TRUE(tx->end_stream(0, 60));
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  ASSERT_TRUE(tx->close());
  auto line = result.receive();
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, expected) << "the block group got every frame, in order";
  EXPECT_EQ(worker.wait(), 0);
  for (const GroupInfo& g : info->groups) {
    if (g.name == "work") {
      EXPECT_EQ(g.dropped, 0U);
    }
    if (g.name == "tap") {
      EXPECT_GT(g.dropped, 0U) << "the drop group's losses are counted";
    }
  }
  EXPECT_EQ(info->discarded, 0U);
}

// A real process that takes the channel lock the way the library does, then stops itself inside
// it, as a debugger or Ctrl-Z would stop a participant there.
class StoppedLockHolder {
 public:
  explicit StoppedLockHolder(const std::string& name)
      : child_([name] {
          auto rx = Consumer::open(name, {.group = "holder"});
          if (!rx) return 2;
          auto seg = detail::Segment::open_any_owner(name, detail::Segment::DataAccess::read_only);
          if (!seg) return 3;
          std::uint32_t id = 0;
          for (std::uint32_t i = 0; i < detail::kMaxParticipants; ++i) {
            const auto& p = seg->participant(i);
            if (p.role == detail::kRoleConsumer && detail::identity_pid(p.identity.load()) == ::getpid()) id = i + 1;
          }
          if (id == 0) return 4;
          std::uint32_t expected = 0;
          while (!seg->header().lock.compare_exchange_weak(expected, id)) expected = 0;
          ::raise(SIGSTOP);
          // Continued: leave the critical section as the library does.
          seg->header().lock.store(0);
          detail::futex_wake(seg->header().lock, INT32_MAX);
          return 0;
        }) {}
  [[nodiscard]] bool stopped() const { return testing::wait_for_proc_state(child_.pid(), 'T'); }
  void resume() { ::kill(child_.pid(), SIGCONT); }
  int wait() { return child_.wait(); }
  [[nodiscard]] pid_t pid() const { return child_.pid(); }

 private:
  Child child_;
};

TEST(Delivery, every_call_with_a_deadline_returns_by_it_while_a_stopped_process_holds_the_lock) {
  const auto name = unique_name("stoppedlock");
  auto opts = testing::small_channel(4);
  opts.groups = {{"g"}};
  opts.block_timeout = 200ms;
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  auto rx = Consumer::open(name, {.group = "g"});
  ASSERT_TRUE(rx);
  StoppedLockHolder holder(name);
  ASSERT_TRUE(holder.stopped());

  auto t0 = std::chrono::steady_clock::now();
  auto r = rx->receive(200ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "receive(200 ms)";
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Received::Status::timeout);

  t0 = std::chrono::steady_clock::now();
  auto sent = testing::send_frame(*tx, 0, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "send with a 200 ms block_timeout";
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code(), ErrorCode::timeout);
  EXPECT_NE(sent.error().message().find(std::to_string(holder.pid())), std::string::npos)
      << "the error names the process holding the lock: " << sent.error().message();

  t0 = std::chrono::steady_clock::now();
  auto late = Consumer::open(name, {.group = "g", .wait = 200ms});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "open with a wait";
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code(), ErrorCode::timeout);

  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->lock_holder_pid, holder.pid()) << "framebus ls shows who holds the lock";
  EXPECT_GE(info->lock_held_ms, 200);

  holder.resume();
  EXPECT_EQ(holder.wait(), 0);
  ASSERT_TRUE(testing::send_frame(*tx, 0, 0)) << "everything goes on once it is continued";
  auto got = rx->receive(5s);
  ASSERT_TRUE(got && got->has_message());
  EXPECT_EQ(got->message.frame(), 0U);
}

TEST(Delivery, cancel_wakes_a_receive_waiting_in_another_thread) {
  const auto name = unique_name("cancelrx");
  auto tx = Producer::create(name, testing::small_channel(4));
  ASSERT_TRUE(tx);
  auto rx = Consumer::open(name, {.group = "g"});
  ASSERT_TRUE(rx);
  std::promise<Result<Received>> outcome;
  std::thread waiter([&] { outcome.set_value(rx->receive(30s)); });
  auto future = outcome.get_future();
  EXPECT_EQ(future.wait_for(100ms), std::future_status::timeout) << "it waits";
  rx->cancel();
  ASSERT_EQ(future.wait_for(2s), std::future_status::ready) << "cancel() woke it";
  waiter.join();
  auto r = future.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::closed);
}

}  // namespace
}  // namespace framebus
