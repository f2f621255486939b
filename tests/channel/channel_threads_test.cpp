// The thread contract of Producer and Consumer: one thread at a time per handle, enforced (a call
// that finds another thread inside gets an error instead of racing), and cancel() from any
// thread wakes a call that waits.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "framebus/framebus.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::unique_name;

// Returns once another thread is inside `consumer`: a receive from here is refused as a second
// thread. The refused probe touches nothing, so it cannot disturb the waiting call.
Error probe_until_refused(Consumer& consumer) {
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    auto r = consumer.try_receive();
    if (!r && r.error().code() == ErrorCode::invalid_argument) return r.error();
    if (std::chrono::steady_clock::now() > give_up) return Error(ErrorCode::timeout, "the other thread never entered");
  }
}

// The waiting thread retries only when its own call was the one refused (the probe got in
// first); once inside, it waits for real.
Result<Received> receive_retrying_refusals(Consumer& consumer) {
  for (;;) {
    auto r = consumer.receive(forever);
    if (r || r.error().code() != ErrorCode::invalid_argument) return r;
  }
}

TEST(ChannelThreads, ASecondThreadEnteringAConsumerThatWaitsInReceiveIsRefused) {
  const std::string name = unique_name("threads-refused");
  auto tx = Producer::create(name, testing::small_channel()).value();
  auto rx = Consumer::open(name).value();
  auto waiting = std::async(std::launch::async, [&] { return receive_retrying_refusals(rx); });
  const Error refused = probe_until_refused(rx);
  EXPECT_EQ(refused.code(), ErrorCode::invalid_argument);
  EXPECT_NE(refused.message().find("used from two threads at once"), std::string::npos) << refused.message();
  // The waiting call was left alone: it takes the next message.
  ASSERT_TRUE(testing::send_frame(tx, 0, 7));
  auto got = waiting.get();
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_TRUE(got->has_message());
  EXPECT_EQ(got->message.frame(), 7U);
  got->message.release();
  rx.close();
  ASSERT_TRUE(tx.close());
}

TEST(ChannelThreads, CancelFromAnotherThreadWakesAReceiveThatWaitsForeverWithClosed) {
  const std::string name = unique_name("threads-cancel");
  auto tx = Producer::create(name, testing::small_channel()).value();
  auto rx = Consumer::open(name).value();
  auto waiting = std::async(std::launch::async, [&] { return receive_retrying_refusals(rx); });
  ASSERT_EQ(probe_until_refused(rx).code(), ErrorCode::invalid_argument);  // it is inside now
  rx.cancel();
  ASSERT_EQ(waiting.wait_for(20s), std::future_status::ready) << "cancel() did not wake receive()";
  auto got = waiting.get();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::closed);
  rx.close();
  ASSERT_TRUE(tx.close());
}

TEST(ChannelThreads, CloseFromAnotherThreadWakesTheReceiveInsideAndWaitsForItToLeave) {
  // Outside the contract, but close() cannot fail: it must not unmap under the waiting thread.
  const std::string name = unique_name("threads-close");
  auto tx = Producer::create(name, testing::small_channel()).value();
  auto rx = Consumer::open(name).value();
  auto waiting = std::async(std::launch::async, [&] { return receive_retrying_refusals(rx); });
  ASSERT_EQ(probe_until_refused(rx).code(), ErrorCode::invalid_argument);
  rx.close();
  auto got = waiting.get();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::closed);
  EXPECT_FALSE(rx.is_open());
  ASSERT_TRUE(tx.close());
}

TEST(ChannelThreads, AProducerCallEnteringWhileAnotherThreadIsBlockedInSendIsRefusedAndCancelWakesIt) {
  const std::string name = unique_name("threads-producer");
  ProducerOptions o = testing::small_channel(2);
  o.groups = {GroupSpec{"nobody", Policy::block}};
  o.linger = 0s;
  o.block_timeout = forever;
  auto tx = Producer::create(name, o).value();
  ASSERT_TRUE(testing::send_frame(tx, 0, 0));
  ASSERT_TRUE(testing::send_frame(tx, 0, 1));  // both slots queued for a group nobody reads
  auto blocked = std::async(std::launch::async, [&] {
    for (;;) {
      auto r = testing::send_frame(tx, 0, 2);
      if (r || r.error().code() != ErrorCode::invalid_argument) return r;
    }
  });
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  // Publishing an empty loan never waits: let in, it fails for the loan; refused, for the thread.
  Result<void> probe;
  do {
    probe = tx.publish(Loan(), MessageMeta{});
    ASSERT_FALSE(probe);
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "the sending thread never entered";
  } while (probe.error().message().find("used from two threads at once") == std::string::npos);
  EXPECT_EQ(probe.error().code(), ErrorCode::invalid_argument);
  auto refused_close = tx.close();
  ASSERT_FALSE(refused_close);
  EXPECT_EQ(refused_close.error().code(), ErrorCode::invalid_argument);
  EXPECT_TRUE(tx.is_open());
  tx.cancel();
  auto sent = blocked.get();
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code(), ErrorCode::closed);
  (void)tx.close();
}

}  // namespace
}  // namespace framebus
