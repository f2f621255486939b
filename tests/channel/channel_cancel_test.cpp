// Cancelling a wait: every blocking call of the channel takes a std::stop_token, and a stop
// requested from another thread makes it return within 10 ms (ErrorCode::interrupted), as the
// handle's cancel() does (ErrorCode::closed). The median of five measurements is held to the
// bound: a single one may meet a busy scheduler on a small machine.

#include <gtest/gtest.h>

#include <chrono>
#include <stop_token>
#include <vector>

#include "framebus/channel/consumer.hpp"
#include "framebus/channel/producer.hpp"
#include "support/cancel_timing.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::median_of;
using testing::time_to_cancel;
using testing::unique_name;

constexpr auto kBound = 10ms;
constexpr int kTrials = 5;

void expect_code(const Result<void>& r, ErrorCode code) {
  ASSERT_FALSE(r) << "the call returned without being cancelled";
  EXPECT_EQ(r.error().code(), code) << r.error().message();
}

// A channel of one slot whose message a consumer holds: every further loan waits for room.
struct FullChannel {
  std::string name = unique_name("cancel-full");
  Producer tx;
  Consumer rx;
  Message held;
  FullChannel() {
    auto p = Producer::create(name, testing::small_channel(1));
    auto c = Consumer::open(name);
    EXPECT_TRUE(p && c);
    tx = std::move(*p);
    rx = std::move(*c);
    EXPECT_TRUE(testing::send_frame(tx, 0, 0));
    auto got = rx.receive(std::chrono::seconds(10));
    EXPECT_TRUE(got && got->has_message());
    if (got) held = std::move(got->message);
  }
};

TEST(Cancel, a_receive_returns_within_10ms_of_its_stop) {
  const std::string name = unique_name("cancel-receive");
  auto tx = Producer::create(name, testing::small_channel());
  auto rx = Consumer::open(name);
  ASSERT_TRUE(tx && rx);
  const auto median = median_of(kTrials, [&] {
    std::stop_source stop;
    return time_to_cancel<Result<void>>(
        [&]() -> Result<void> {
          auto r = rx->receive(forever, stop.get_token());
          if (!r) return tl::unexpected(r.error());
          return {};
        },
        [&] { stop.request_stop(); }, [](const Result<void>& r) { expect_code(r, ErrorCode::interrupted); });
  });
  EXPECT_LT(median, kBound) << "median of " << kTrials << ": " << median.count() / 1000 << " us";
  // The handle is still fine: a stop ends one call, not the consumer.
  ASSERT_TRUE(testing::send_frame(*tx, 0, 1));
  auto got = rx->receive(10s);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->has_message());
}

TEST(Cancel, a_loan_waiting_for_room_returns_within_10ms_of_its_stop) {
  FullChannel full;
  const auto median = median_of(kTrials, [&] {
    std::stop_source stop;
    return time_to_cancel<Result<void>>(
        [&]() -> Result<void> {
          auto loan = full.tx.loan(16, stop.get_token());
          if (!loan) return tl::unexpected(loan.error());
          return {};
        },
        [&] { stop.request_stop(); }, [](const Result<void>& r) { expect_code(r, ErrorCode::interrupted); });
  });
  EXPECT_LT(median, kBound) << "median of " << kTrials << ": " << median.count() / 1000 << " us";
}

TEST(Cancel, a_send_and_an_end_stream_waiting_for_room_return_within_10ms_of_their_stop) {
  FullChannel full;
  const std::vector<std::byte> payload(16, std::byte{1});
  const auto send = median_of(kTrials, [&] {
    std::stop_source stop;
    return time_to_cancel<Result<void>>(
        [&] { return full.tx.send(payload, {.stream = 0, .frame = 0}, stop.get_token()); },
        [&] { stop.request_stop(); }, [](const Result<void>& r) { expect_code(r, ErrorCode::interrupted); });
  });
  EXPECT_LT(send, kBound) << "send: median " << send.count() / 1000 << " us";
  const auto marker = median_of(kTrials, [&] {
    std::stop_source stop;
    return time_to_cancel<Result<void>>([&] { return full.tx.end_stream(0, 0, stop.get_token()); },
                                        [&] { stop.request_stop(); },
                                        [](const Result<void>& r) { expect_code(r, ErrorCode::interrupted); });
  });
  EXPECT_LT(marker, kBound) << "end_stream: median " << marker.count() / 1000 << " us";
}

TEST(Cancel, an_open_waiting_for_a_channel_returns_within_10ms_of_its_stop) {
  const std::string name = unique_name("cancel-open");
  ConsumerOptions options;
  options.wait = 60s;
  const auto median = median_of(kTrials, [&] {
    std::stop_source stop;
    return time_to_cancel<Result<void>>(
        [&]() -> Result<void> {
          auto c = Consumer::open(name, options, stop.get_token());
          if (!c) return tl::unexpected(c.error());
          return {};
        },
        [&] { stop.request_stop(); }, [](const Result<void>& r) { expect_code(r, ErrorCode::interrupted); });
  });
  EXPECT_LT(median, kBound) << "median of " << kTrials << ": " << median.count() / 1000 << " us";
  // The wait itself still works after cancelled ones: the channel's creation ends it.
  std::future<Result<Consumer>> opening = std::async(std::launch::async, [&] { return Consumer::open(name, options); });
  auto tx = Producer::create(name, testing::small_channel());
  ASSERT_TRUE(tx);
  ASSERT_EQ(opening.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(opening.get());
}

TEST(Cancel, the_handles_cancel_wakes_its_waits_within_10ms_by_the_same_mechanism) {
  const auto receive = median_of(kTrials, [&] {
    const std::string name = unique_name("cancel-handle");
    auto tx = Producer::create(name, testing::small_channel());
    auto rx = Consumer::open(name);
    EXPECT_TRUE(tx && rx);
    return time_to_cancel<Result<void>>(
        [&]() -> Result<void> {
          auto r = rx->receive();
          if (!r) return tl::unexpected(r.error());
          return {};
        },
        [&] { rx->cancel(); }, [](const Result<void>& r) { expect_code(r, ErrorCode::closed); });
  });
  EXPECT_LT(receive, kBound) << "receive: median " << receive.count() / 1000 << " us";
  const auto loan = median_of(kTrials, [&] {
    FullChannel full;
    return time_to_cancel<Result<void>>(
        [&]() -> Result<void> {
          auto l = full.tx.loan(16);
          if (!l) return tl::unexpected(l.error());
          return {};
        },
        [&] { full.tx.cancel(); }, [](const Result<void>& r) { expect_code(r, ErrorCode::closed); });
  });
  EXPECT_LT(loan, kBound) << "loan: median " << loan.count() / 1000 << " us";
}

TEST(Cancel, a_token_stopped_before_the_call_ends_it_without_waiting) {
  FullChannel full;
  std::stop_source stop;
  stop.request_stop();
  auto loan = full.tx.loan(16, stop.get_token());
  ASSERT_FALSE(loan);
  EXPECT_EQ(loan.error().code(), ErrorCode::interrupted);
  full.held.release();
  auto r = full.rx.receive(forever, stop.get_token());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::interrupted);
}

}  // namespace
}  // namespace framebus
