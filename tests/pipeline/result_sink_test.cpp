// ResultSink: order, exactly once, duplicates from redelivery, gaps from drops.

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "framebus/pipeline/result_sink.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kSecond = 1'000'000'000;

InferenceResult frame_result(std::uint32_t stream, std::uint64_t frame, bool redelivered = false) {
  InferenceResult r;
  r.stream = stream;
  r.frame = frame;
  r.published_ns = 1;
  r.redelivered = redelivered;
  r.top = {{static_cast<std::uint32_t>(frame % 7), 0.5F}};
  return r;
}

InferenceResult end_marker(std::uint32_t stream, std::uint64_t count) {
  InferenceResult r;
  r.kind = InferenceResult::Kind::end_of_stream;
  r.stream = stream;
  r.frame = count;
  return r;
}

struct Recorder {
  std::vector<SinkEntry> entries;
  ResultSink sink;
  explicit Recorder(Duration gap_timeout = 10s)
      : sink(SinkOptions{gap_timeout}, [this](const SinkEntry& e) { entries.push_back(e); }) {}
  std::vector<std::uint64_t> frames_of(std::uint32_t stream, bool gaps) const {
    std::vector<std::uint64_t> out;
    for (const auto& e : entries) {
      if (e.stream == stream && e.gap == gaps) out.push_back(e.frame);
    }
    return out;
  }
};

TEST(ResultSink, results_arriving_out_of_order_are_emitted_in_frame_order_per_stream) {
  Recorder r;
  for (std::uint64_t f : {2, 0, 3, 1}) r.sink.add(frame_result(0, f), 10);
  for (std::uint64_t f : {1, 0}) r.sink.add(frame_result(1, f), 10);
  EXPECT_EQ(r.frames_of(0, false), (std::vector<std::uint64_t>{0, 1, 2, 3}));
  EXPECT_EQ(r.frames_of(1, false), (std::vector<std::uint64_t>{0, 1}));
  // Each frame is emitted with its own result.
  for (const auto& e : r.entries) {
    EXPECT_EQ(e.result.frame, e.frame);
    EXPECT_EQ(e.result.top.at(0).class_id, e.frame % 7);
  }
}

TEST(ResultSink, nothing_is_emitted_past_a_missing_frame_until_it_arrives) {
  Recorder r;
  r.sink.add(frame_result(0, 1), 10);
  r.sink.add(frame_result(0, 2), 10);
  EXPECT_TRUE(r.entries.empty());
  r.sink.tick(10 + 9 * kSecond);
  EXPECT_TRUE(r.entries.empty()) << "before the gap timeout the frame is still awaited";
  r.sink.add(frame_result(0, 0), 11);
  EXPECT_EQ(r.frames_of(0, false), (std::vector<std::uint64_t>{0, 1, 2}));
}

TEST(ResultSink, a_redelivered_frame_classified_twice_is_emitted_once) {
  Recorder r;
  r.sink.add(frame_result(0, 0), 10);
  r.sink.add(frame_result(0, 2), 10);
  r.sink.add(frame_result(0, 2, true), 10);  // held, then redelivered
  r.sink.add(frame_result(0, 1, true), 10);
  r.sink.add(frame_result(0, 0, true), 10);  // already emitted
  EXPECT_EQ(r.frames_of(0, false), (std::vector<std::uint64_t>{0, 1, 2}));
  const auto& tally = r.sink.streams().at(0);
  EXPECT_EQ(tally.duplicates, 2U);
  EXPECT_EQ(tally.redelivered, 1U);
  EXPECT_EQ(tally.emitted, 3U);
}

TEST(ResultSink, a_frame_missing_past_the_gap_timeout_becomes_a_gap_and_later_frames_flow) {
  Recorder r(2s);
  r.sink.add(frame_result(0, 0), 0);
  r.sink.add(frame_result(0, 3), 1 * kSecond);
  r.sink.tick(2 * kSecond);
  EXPECT_EQ(r.entries.size(), 1U) << "1 and 2 are awaited for the timeout";
  r.sink.tick(3 * kSecond + 1);
  EXPECT_EQ(r.frames_of(0, true), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(r.frames_of(0, false), (std::vector<std::uint64_t>{0, 3}));
  // A result for a frame declared a gap is not emitted a second time.
  r.sink.add(frame_result(0, 2), 4 * kSecond);
  EXPECT_EQ(r.entries.size(), 4U);
  EXPECT_EQ(r.sink.streams().at(0).late, 1U);
  EXPECT_EQ(r.sink.streams().at(0).gaps, 2U);
  // Entries come out in frame order, gaps included.
  for (std::size_t i = 0; i < r.entries.size(); ++i) EXPECT_EQ(r.entries[i].frame, i);
}

TEST(ResultSink, the_end_marker_tells_how_many_frames_to_expect) {
  Recorder r(1s);
  r.sink.add(frame_result(0, 0), 0);
  r.sink.add(end_marker(0, 3), 0);
  EXPECT_FALSE(r.sink.all_finished()) << "frames 1 and 2 are still out";
  r.sink.add(frame_result(0, 1), 0);
  r.sink.tick(2 * kSecond);
  EXPECT_EQ(r.frames_of(0, true), (std::vector<std::uint64_t>{2})) << "the last frame never came";
  EXPECT_TRUE(r.sink.all_finished());
  r.sink.add(frame_result(0, 5), 3 * kSecond);
  EXPECT_EQ(r.sink.streams().at(0).duplicates, 1U) << "a frame beyond the count is refused";
  EXPECT_EQ(r.entries.size(), 3U);
}

TEST(ResultSink, an_end_marker_taken_before_the_last_frames_does_not_cut_them_off) {
  Recorder r;
  r.sink.add(end_marker(0, 2), 0);  // another worker still classifies 0 and 1
  EXPECT_FALSE(r.sink.all_finished());
  r.sink.add(frame_result(0, 1), 1);
  r.sink.add(frame_result(0, 0), 2);
  EXPECT_TRUE(r.sink.all_finished());
  EXPECT_EQ(r.frames_of(0, false), (std::vector<std::uint64_t>{0, 1}));
  EXPECT_TRUE(r.frames_of(0, true).empty());
}

TEST(ResultSink, finish_declares_every_frame_still_missing) {
  Recorder r;
  r.sink.add(frame_result(0, 1), 0);
  r.sink.add(end_marker(0, 4), 0);
  r.sink.add(frame_result(1, 2), 0);  // stream 1 never sent its marker
  r.sink.finish(5);
  EXPECT_EQ(r.frames_of(0, true), (std::vector<std::uint64_t>{0, 2, 3}));
  EXPECT_EQ(r.frames_of(0, false), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(r.frames_of(1, true), (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(r.frames_of(1, false), (std::vector<std::uint64_t>{2}));
  EXPECT_FALSE(r.sink.all_finished()) << "stream 1's end is unknown";
}

TEST(ResultSink, latency_is_measured_from_publish_to_arrival) {
  Recorder r;
  auto result = frame_result(0, 0);
  result.published_ns = 1'000'000;
  r.sink.add(result, 6'000'000);
  ASSERT_EQ(r.sink.streams().at(0).latency.count(), 1U);
  EXPECT_NEAR(r.sink.streams().at(0).latency.percentile(50), 5.0, 0.05);
}

}  // namespace
}  // namespace framebus
