// collect_batch: full batches, the batch timeout, end markers and the end of the channel.

#include <gtest/gtest.h>

#include <chrono>
#include <stop_token>

#include "framebus/channel/producer.hpp"
#include "framebus/pipeline/batch.hpp"
#include "support/cancel_timing.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::unique_name;

struct Rig {
  std::string name = unique_name("batch");
  Producer tx;
  Consumer rx;
  Rig() {
    auto p = Producer::create(name, testing::small_channel(16));
    auto c = Consumer::open(name);
    EXPECT_TRUE(p && c);
    tx = std::move(*p);
    rx = std::move(*c);
  }
};

TEST(CollectBatch, a_batch_holds_at_most_max_frames_across_streams) {
  Rig rig;
  for (std::uint64_t f = 0; f < 5; ++f) ASSERT_TRUE(testing::send_frame(rig.tx, static_cast<std::uint32_t>(f % 2), f));
  auto batch = collect_batch(rig.rx, 4, 10s);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->frames.size(), 4U) << "full before the timeout: it returns at once";
  EXPECT_EQ(batch->frames[0].stream(), 0U);
  EXPECT_EQ(batch->frames[1].stream(), 1U);
  auto rest = collect_batch(rig.rx, 4, 50ms);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->frames.size(), 1U) << "a partial batch comes back once the batch timeout has passed";
  EXPECT_FALSE(rest->end_of_channel);
}

TEST(CollectBatch, an_end_marker_ends_the_batch_at_once) {
  Rig rig;
  ASSERT_TRUE(testing::send_frame(rig.tx, 0, 0));
  ASSERT_TRUE(rig.tx.end_stream(0, 1));
  ASSERT_TRUE(testing::send_frame(rig.tx, 1, 0));
  const auto start = std::chrono::steady_clock::now();
  auto batch = collect_batch(rig.rx, 8, 30s);
  ASSERT_TRUE(batch);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s) << "it did not wait out the batch timeout";
  ASSERT_EQ(batch->frames.size(), 1U);
  ASSERT_EQ(batch->end_markers.size(), 1U);
  EXPECT_EQ(batch->end_markers[0].frame(), 1U) << "the marker carries the stream's frame count";
  auto rest = collect_batch(rig.rx, 8, 10ms);  // the frame behind the marker waits for the next batch
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->frames.size(), 1U);
}

TEST(CollectBatch, the_end_of_the_channel_is_reported_with_the_last_frames) {
  Rig rig;
  ASSERT_TRUE(testing::send_frame(rig.tx, 0, 0));
  auto closing = testing::close_in_background(rig.tx);  // close() lingers until the frame is taken
  auto batch = collect_batch(rig.rx, 8, 30s);
  ASSERT_TRUE(batch);
  EXPECT_TRUE(closing.get());
  EXPECT_EQ(batch->frames.size(), 1U);
  EXPECT_TRUE(batch->end_of_channel);
  EXPECT_EQ(batch->reason, EndReason::closed);
}

TEST(CollectBatch, a_stop_returns_an_empty_batch_within_10ms_while_waiting_for_the_first_frame) {
  Rig rig;
  const auto median = testing::median_of(5, [&] {
    std::stop_source stop;
    return testing::time_to_cancel<Result<Batch>>([&] { return collect_batch(rig.rx, 4, 10ms, stop.get_token()); },
                                                  [&] { stop.request_stop(); },
                                                  [](const Result<Batch>& batch) {
                                                    ASSERT_TRUE(batch) << batch.error().message();
                                                    EXPECT_TRUE(batch->frames.empty());
                                                    EXPECT_FALSE(batch->end_of_channel);
                                                  });
  });
  EXPECT_LT(median, 10ms) << "median of 5: " << median.count() / 1000 << " us";
}

TEST(CollectBatch, a_stop_while_the_batch_fills_returns_the_frames_taken) {
  Rig rig;
  ASSERT_TRUE(testing::send_frame(rig.tx, 0, 0));
  std::stop_source stop;
  const auto took = testing::time_to_cancel<Result<Batch>>(
      [&] { return collect_batch(rig.rx, 4, 60s, stop.get_token()); }, [&] { stop.request_stop(); },
      [](const Result<Batch>& batch) {
        ASSERT_TRUE(batch) << batch.error().message();
        EXPECT_EQ(batch->frames.size(), 1U) << "the frame taken before the stop stays in the batch";
      });
  EXPECT_LT(took, 1s) << "not the 60 s batch timeout";
}

TEST(CollectBatch, a_zero_batch_is_refused) {
  Rig rig;
  auto batch = collect_batch(rig.rx, 0, 10ms);
  ASSERT_FALSE(batch);
  EXPECT_EQ(batch.error().code(), ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace framebus
