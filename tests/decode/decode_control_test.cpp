// Loop, frame skip, pacing, removal while running, stop.
#include <gtest/gtest.h>

#include <future>
#include <stop_token>

#include "decode/rig.hpp"
#include "support/cancel_timing.hpp"

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

TEST(DecodeControl, loop_forever_restarts_at_every_end_until_the_stream_is_removed) {
  auto rig = make_rig("forever");
  StreamOptions options;
  options.loop = StreamOptions::kLoopForever;
  auto id = rig.decoder.add_stream(media("mpeg4.avi"), options);  // 30 frames a pass
  ASSERT_TRUE(id);
  // The channel blocks: the stream moves only as fast as this reader takes its frames.
  std::vector<testing::Frame> frames;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (frames.size() < 100 && std::chrono::steady_clock::now() < deadline) {
    auto received = rig.consumer.receive(100ms);
    ASSERT_TRUE(received) << received.error().message();
    if (!received->has_message()) continue;
    ASSERT_FALSE(received->message.is_end_of_stream()) << "a stream that loops forever never ends by itself";
    frames.push_back(
        testing::Frame{received->message.stream(), received->message.frame(), received->message.pts(), 0, {}, {}});
  }
  ASSERT_EQ(frames.size(), 100U) << "frames 90..99 come from the fourth pass";
  auto status = rig.decoder.status(*id);
  ASSERT_TRUE(status);
  EXPECT_GE(status->passes, 4U);
  EXPECT_EQ(status->state, StreamState::running) << status->message;

  auto removed = std::async(std::launch::async, [&] { return rig.decoder.remove_stream(*id); });
  auto rest = collect(rig.consumer, {*id});  // the frames in flight, then the marker
  ASSERT_EQ(removed.wait_for(30s), std::future_status::ready);
  EXPECT_TRUE(removed.get());
  ASSERT_TRUE(rest.complete) << "the removed stream sends its end-of-stream marker";
  for (const auto& f : rest.frames[*id]) frames.push_back(f);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].frame, i) << "ids keep counting across passes";
    EXPECT_EQ(frames[i].pts, static_cast<std::int64_t>(i) * 40000) << "each pass continues the timeline";
  }
  EXPECT_EQ(rest.end_frame_count[*id], frames.size());
  EXPECT_EQ(rig.decoder.status(*id).error().code(), ErrorCode::not_found);
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

// Seconds from add_stream until the stream's marker arrived, every frame read as it came.
double timed_run(const std::string& tag, const StreamOptions& options, std::size_t frames) {
  auto rig = make_rig(tag);
  const auto start = std::chrono::steady_clock::now();
  auto id = rig.decoder.add_stream(media("h264.mp4"), options);
  EXPECT_TRUE(id);
  if (!id) return 0;
  auto got = collect(rig.consumer, {*id});
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(got.complete) << tag;
  EXPECT_EQ(got.frames[*id].size(), frames) << tag;
  return took.count();
}

// Pacing is checked both ways: at least the nominal time, under a generous multiple of it, and
// clearly slower than the same decode unpaced (which a loaded machine slows down too).
TEST(DecodeControl, max_fps_paces_publishing_at_no_more_than_the_given_rate) {
  StreamOptions paced;
  paced.max_fps = 30;
  const double nominal = 49 / 30.0;  // 49 intervals of 33 ms
  const double unpaced_s = timed_run("unpaced", StreamOptions{}, 50);
  const double paced_s = timed_run("maxfps", paced, 50);
  EXPECT_GE(paced_s, nominal - 0.01);
  EXPECT_LT(paced_s, unpaced_s + 3 * nominal) << "pacing adds no more than the waits";
  EXPECT_LT(unpaced_s * 2, paced_s) << "unpaced " << unpaced_s << " s, paced " << paced_s << " s";
}

TEST(DecodeControl, realtime_plays_a_file_at_its_native_rate) {
  StreamOptions unpaced;
  unpaced.frame_skip = 4;  // 10 frames, still 2 s of video
  StreamOptions realtime = unpaced;
  realtime.realtime = true;
  const double nominal = 1.8;  // the last kept frame is at 1.8 s
  const double unpaced_s = timed_run("unpacedskip", unpaced, 10);
  const double paced_s = timed_run("realtime", realtime, 10);
  EXPECT_GE(paced_s, nominal - 0.01);
  EXPECT_LT(paced_s, unpaced_s + 3 * nominal) << "pacing adds no more than the waits";
  EXPECT_LT(unpaced_s * 2, paced_s) << "unpaced " << unpaced_s << " s, realtime " << paced_s << " s";
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

TEST(DecodeControl, drop_newest_counts_dropped_frames_which_keep_their_ids_and_never_blocks_the_decoder) {
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
  EXPECT_EQ(status->published + status->dropped, 50U) << "every frame is handed to the channel";
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete) << "the marker is never dropped";
  const auto& frames = got.frames[*id];
  ASSERT_EQ(frames.size(), status->published);
  // Nobody read while the slots were full, so the first frames were kept and the rest dropped:
  // their ids were used all the same, and the marker says how many.
  for (std::size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(frames[i].frame, i);
  EXPECT_EQ(got.end_frame_count[*id], 50U) << "a discarded frame keeps its id: the reader sees the gap";
  EXPECT_EQ(got.end_frame_count[*id] - frames.size(), status->dropped);
}

TEST(DecodeControl, drop_oldest_keeps_the_newest_frames_and_the_evicted_ones_show_as_gaps_in_the_ids) {
  ProducerOptions dropping = testing::decoder_channel();
  dropping.policy = Policy::drop_oldest;
  dropping.slots = 4;
  auto rig = make_rig("dropoldest", dropping);
  auto id = rig.decoder.add_stream(media("h264.mp4"));
  ASSERT_TRUE(id);
  ASSERT_TRUE(testing::wait_for_status(rig.decoder, *id, [](const StreamStatus& s) { return s.finished(); }))
      << "finishes although nobody reads";
  auto status = rig.decoder.status(*id);
  EXPECT_EQ(status->state, StreamState::eof);
  EXPECT_EQ(status->published, 50U) << "every frame was queued; older ones were evicted later";
  EXPECT_EQ(status->dropped, 0U) << "a queued frame could always be evicted to make room";
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete) << "the marker is never dropped";
  const auto& frames = got.frames[*id];
  ASSERT_FALSE(frames.empty());
  EXPECT_LT(frames.size(), 4U + 1) << "no more than the slots hold";
  for (std::size_t i = 1; i < frames.size(); ++i) EXPECT_GT(frames[i].frame, frames[i - 1].frame);
  EXPECT_EQ(frames.back().frame, 49U) << "the newest frame survives";
  EXPECT_GT(frames.front().frame, 0U) << "the oldest ones were evicted: a gap before the first received id";
  EXPECT_EQ(got.end_frame_count[*id], 50U);
}

}  // namespace
}  // namespace framebus

namespace framebus {
namespace {

TEST(DecodeControl, wait_returns_within_10ms_of_its_stop_while_the_streams_run) {
  auto rig = testing::make_rig("wait-stop");
  StreamOptions options;
  options.loop = StreamOptions::kLoopForever;  // nobody reads: the stream soon waits for room
  ASSERT_TRUE(rig.decoder.add_stream(testing::media("mpeg4.avi"), options));
  const auto median = testing::median_of(5, [&] {
    std::stop_source stop;
    return testing::time_to_cancel<Result<void>>(
        [&] { return rig.decoder.wait(forever, stop.get_token()); }, [&] { stop.request_stop(); },
        [](const Result<void>& r) {
          ASSERT_FALSE(r) << "the streams loop forever";
          EXPECT_EQ(r.error().code(), ErrorCode::interrupted) << r.error().message();
        });
  });
  EXPECT_LT(median, std::chrono::milliseconds(10)) << "median of 5: " << median.count() / 1000 << " us";
}

}  // namespace
}  // namespace framebus
