// Loop, frame skip, pacing, removal while running, stop.
#include <gtest/gtest.h>

#include <future>

#include "decode/rig.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::collect;
using testing::make_rig;
using testing::media;

TEST(DecodeControl, loop_two_plays_the_file_twice_with_contiguous_ids_and_rising_pts) {
  auto rig = make_rig("loop");
  StreamOptions options;
  options.loop = 2;
  auto id = rig.decoder.add_stream(media("h264.mp4"), options);
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete);
  const auto& frames = got.frames[*id];
  ASSERT_EQ(frames.size(), 100U);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].frame, i);
    EXPECT_EQ(frames[i].pts, static_cast<std::int64_t>(i) * 40000) << "the second pass continues the timeline";
  }
  ASSERT_TRUE(rig.decoder.wait(20s));
  auto status = rig.decoder.status(*id);
  EXPECT_EQ(status->passes, 2U);
  EXPECT_EQ(status->state, StreamState::eof);
}

TEST(DecodeControl, frame_skip_keeps_one_frame_in_n_plus_one_with_contiguous_ids) {
  auto rig = make_rig("skip");
  StreamOptions options;
  options.frame_skip = 1;
  auto id = rig.decoder.add_stream(media("h264.mp4"), options);
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete);
  const auto& frames = got.frames[*id];
  ASSERT_EQ(frames.size(), 25U);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].frame, i);
    EXPECT_EQ(frames[i].pts, static_cast<std::int64_t>(i) * 80000) << "every other source frame";
  }
  ASSERT_TRUE(rig.decoder.wait(20s));
  auto status = rig.decoder.status(*id);
  EXPECT_EQ(status->decoded, 50U);
  EXPECT_EQ(status->skipped, 25U);
  EXPECT_EQ(status->published, 25U);
}

TEST(DecodeControl, max_fps_paces_publishing_at_no_more_than_the_given_rate) {
  auto rig = make_rig("maxfps");
  StreamOptions options;
  options.max_fps = 100;
  const auto start = std::chrono::steady_clock::now();
  auto id = rig.decoder.add_stream(media("h264.mp4"), options);
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete);
  ASSERT_EQ(got.frames[*id].size(), 50U);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 490ms) << "49 intervals of 10 ms at least";
}

TEST(DecodeControl, realtime_plays_a_file_at_its_native_rate) {
  auto rig = make_rig("realtime");
  StreamOptions options;
  options.realtime = true;
  options.frame_skip = 4;  // 10 frames, still 2 s of video
  const auto start = std::chrono::steady_clock::now();
  auto id = rig.decoder.add_stream(media("h264.mp4"), options);
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete);
  ASSERT_EQ(got.frames[*id].size(), 10U);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1800ms) << "the last kept frame is at 1.8 s";
}

TEST(DecodeControl, remove_stream_stops_a_running_stream_which_sends_its_marker_while_others_go_on) {
  auto rig = make_rig("remove");
  StreamOptions endless;
  endless.loop = StreamOptions::kLoopForever;
  endless.realtime = true;
  auto doomed = rig.decoder.add_stream(media("h264.mp4"), endless);
  auto other = rig.decoder.add_stream(media("h264.mp4"));
  ASSERT_TRUE(doomed && other);
  // The streams share the channel's slots: someone must read for either to progress.
  auto collected = std::async(std::launch::async, [&] { return collect(rig.consumer, {*doomed, *other}); });
  ASSERT_TRUE(testing::wait_for_status(rig.decoder, *doomed, [](const StreamStatus& s) { return s.published >= 3; }));
  EXPECT_EQ(rig.decoder.status(*doomed)->state, StreamState::running);
  ASSERT_TRUE(rig.decoder.remove_stream(*doomed));
  ASSERT_EQ(collected.wait_for(30s), std::future_status::ready);
  auto got = collected.get();
  ASSERT_TRUE(got.complete);
  EXPECT_EQ(got.frames[*other].size(), 50U);
  const auto& frames = got.frames[*doomed];
  for (std::size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(frames[i].frame, i);
  EXPECT_EQ(rig.decoder.status(*doomed).error().code(), ErrorCode::not_found);
  EXPECT_EQ(rig.decoder.remove_stream(*doomed).error().code(), ErrorCode::not_found);
}

TEST(DecodeControl, stop_ends_every_stream_as_stopped_and_wait_returns) {
  auto rig = make_rig("stop");
  StreamOptions endless;
  endless.loop = StreamOptions::kLoopForever;
  endless.max_fps = 50;
  auto a = rig.decoder.add_stream(media("h264.mp4"), endless);
  auto b = rig.decoder.add_stream(media("images"), endless);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(rig.decoder.wait(100ms).error().code(), ErrorCode::timeout);
  auto stopped = std::async(std::launch::async, [&] { rig.decoder.stop(); });
  auto got = collect(rig.consumer, {*a, *b});
  ASSERT_TRUE(got.complete);
  ASSERT_EQ(stopped.wait_for(20s), std::future_status::ready);
  ASSERT_TRUE(rig.decoder.wait(5s));
  EXPECT_EQ(rig.decoder.status(*a)->state, StreamState::stopped);
  EXPECT_EQ(rig.decoder.status(*b)->state, StreamState::stopped);
}

TEST(DecodeControl, a_drop_policy_counts_dropped_frames_and_never_blocks_the_decoder) {
  ProducerOptions dropping = testing::decoder_channel();
  dropping.policy = Policy::drop_newest;
  dropping.slots = 4;
  auto rig = make_rig("drop", dropping);
  auto id = rig.decoder.add_stream(media("h264.mp4"));
  ASSERT_TRUE(id);
  // The state is final before the marker is sent (the marker waits for room: it is never dropped).
  ASSERT_TRUE(testing::wait_for_status(rig.decoder, *id, [](const StreamStatus& s) { return s.finished(); }))
      << "finishes although nobody reads";
  auto status = rig.decoder.status(*id);
  EXPECT_EQ(status->state, StreamState::eof);
  EXPECT_GT(status->dropped, 0U);
  EXPECT_EQ(status->published + status->dropped, 50U);
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete) << "the marker is never dropped";
  EXPECT_EQ(got.frames[*id].size(), status->published);
}

}  // namespace
}  // namespace framebus
