// Video files into a channel: frame counts, ids, pts, pixels, status, end of stream, codecs.
#include <gtest/gtest.h>

#include <algorithm>

#include "decode/rig.hpp"
#include "framebus/framebus.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::collect;
using testing::decoder_channel;
using testing::make_rig;
using testing::media;

TEST(DecodeFile, an_h264_file_arrives_as_bgr24_frames_with_ids_pts_and_an_end_marker) {
  auto rig = make_rig("h264");
  auto id = rig.decoder.add_stream(media("h264.mp4"));
  ASSERT_TRUE(id) << id.error().message();
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete);
  const auto& frames = got.frames[*id];
  ASSERT_EQ(frames.size(), 50U);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].stream, *id);
    EXPECT_EQ(frames[i].frame, i);
    EXPECT_EQ(frames[i].pts, static_cast<std::int64_t>(i) * 40000) << "pts in microseconds at 25 fps";
    EXPECT_EQ(frames[i].image.width, 320U);
    EXPECT_EQ(frames[i].image.height, 240U);
    EXPECT_EQ(frames[i].image.format, PixelFormat::bgr24);
    EXPECT_EQ(frames[i].image.stride[0], 960U);
  }
  EXPECT_NE(frames[0].flags & flags::kKeyFrame, 0U);
  EXPECT_EQ(got.end_markers[*id], 1);
  EXPECT_EQ(got.end_frame_count[*id], 50U) << "the marker tells how many frames the stream numbered";

  ASSERT_TRUE(rig.decoder.wait(*id, 20s));
  auto status = rig.decoder.status(*id);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, StreamState::eof) << status->message;
  EXPECT_EQ(status->decoded, 50U);
  EXPECT_EQ(status->published, 50U);
  EXPECT_EQ(status->dropped, 0U);
  EXPECT_EQ(status->skipped, 0U);
  EXPECT_EQ(status->decode_errors, 0U);
  EXPECT_DOUBLE_EQ(status->native_fps, 25.0);
  EXPECT_EQ(status->source_width, 320U);
  EXPECT_EQ(status->source_height, 240U);
  EXPECT_EQ(status->passes, 1U);
}

TEST(DecodeFile, bgr24_pixels_equal_those_of_the_ffmpeg_tool_byte_for_byte) {
  auto rig = make_rig("pixels");
  auto id = rig.decoder.add_stream(media("h264.mp4"));
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id}, 60s, 5);
  ASSERT_TRUE(got.complete);
  const auto reference = testing::reference_raw(media("h264.mp4"), "bgr24", 5);
  const std::size_t frame_bytes = 320 * 240 * 3;
  ASSERT_EQ(reference.size(), 5 * frame_bytes);
  for (std::size_t i = 0; i < 5; ++i) {
    const auto& bytes = got.frames[*id][i].bytes;
    ASSERT_EQ(bytes.size(), frame_bytes);
    EXPECT_TRUE(
        std::equal(bytes.begin(), bytes.end(), reference.begin() + static_cast<std::ptrdiff_t>(i * frame_bytes)))
        << "frame " << i << " differs from ffmpeg's";
  }
}

// True when `bytes` equals frame `index` of `reference` (frames of `frame_bytes` bytes each).
bool same_as_reference(const std::vector<std::uint8_t>& bytes, const std::vector<std::uint8_t>& reference,
                       std::size_t index, std::size_t frame_bytes) {
  if (bytes.size() != frame_bytes || reference.size() < (index + 1) * frame_bytes) return false;
  return std::equal(bytes.begin(), bytes.end(), reference.begin() + static_cast<std::ptrdiff_t>(index * frame_bytes));
}

TEST(DecodeFile, every_decoder_thread_count_gives_the_same_frames_as_ffmpeg) {
  auto rig = make_rig("threads");
  StreamOptions one;
  one.threads = 1;
  StreamOptions four;
  four.threads = 4;
  auto a = rig.decoder.add_stream(media("h264.mp4"), one);
  auto b = rig.decoder.add_stream(media("h264.mp4"), four);
  ASSERT_TRUE(a && b);
  auto got = collect(rig.consumer, {*a, *b}, 60s, 50);
  ASSERT_TRUE(got.complete);
  const std::size_t frame_bytes = 320 * 240 * 3;
  const auto reference = testing::reference_raw(media("h264.mp4"), "bgr24", 1);
  for (auto id : {*a, *b}) {
    const auto& frames = got.frames[id];
    ASSERT_EQ(frames.size(), 50U) << "stream " << id;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      EXPECT_EQ(frames[i].frame, i) << "stream " << id;
      EXPECT_EQ(frames[i].pts, static_cast<std::int64_t>(i) * 40000) << "stream " << id;
    }
    EXPECT_TRUE(same_as_reference(frames[0].bytes, reference, 0, frame_bytes)) << "stream " << id << ": first frame";
    ASSERT_TRUE(rig.decoder.wait(id, 20s));
    EXPECT_EQ(rig.decoder.status(id)->state, StreamState::eof) << rig.decoder.status(id)->message;
  }
  for (std::size_t i = 0; i < 50; ++i) {
    EXPECT_EQ(got.frames[*a][i].bytes, got.frames[*b][i].bytes) << "frame " << i << ": 1 thread and 4 threads differ";
  }
}

TEST(DecodeFile, a_negative_thread_count_is_refused_naming_the_option) {
  auto rig = make_rig("badthreads");
  StreamOptions options;
  options.threads = -1;
  auto id = rig.decoder.add_stream(media("h264.mp4"), options);
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code(), ErrorCode::invalid_argument);
  EXPECT_NE(id.error().message().find("threads"), std::string::npos) << id.error().message();
  EXPECT_TRUE(rig.decoder.statuses().empty()) << "no stream was started";
}

class DecodeCodec : public ::testing::TestWithParam<std::string> {};

TEST_P(DecodeCodec, every_frame_arrives_in_order_and_the_first_and_last_equal_ffmpegs) {
  auto rig = make_rig("codec");
  auto id = rig.decoder.add_stream(media(GetParam()));
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id}, 60s, 30);
  ASSERT_TRUE(got.complete);
  const auto& frames = got.frames[*id];
  ASSERT_EQ(frames.size(), 30U);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].frame, i);
    if (i > 0) {
      EXPECT_GT(frames[i].pts, frames[i - 1].pts);
    }
    EXPECT_EQ(frames[i].image.width, 320U);
  }
  const std::size_t frame_bytes = 320 * 240 * 3;
  const auto reference = testing::reference_raw(media(GetParam()), "bgr24", 30);
  ASSERT_EQ(reference.size(), 30 * frame_bytes);
  EXPECT_TRUE(same_as_reference(frames.front().bytes, reference, 0, frame_bytes))
      << "first frame differs from ffmpeg's";
  EXPECT_TRUE(same_as_reference(frames.back().bytes, reference, 29, frame_bytes)) << "last frame differs from ffmpeg's";
  ASSERT_TRUE(rig.decoder.wait(*id, 20s));
  EXPECT_EQ(rig.decoder.status(*id)->state, StreamState::eof) << rig.decoder.status(*id)->message;
}

INSTANTIATE_TEST_SUITE_P(Codecs, DecodeCodec, ::testing::Values("hevc.mkv", "mpeg4.avi", "vp9.webm", "mjpeg.avi"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param.substr(0, param.param.find('.'));
                         });

TEST(DecodeFile, several_files_decode_side_by_side_into_one_channel) {
  auto rig = make_rig("side");
  auto a = rig.decoder.add_stream(media("h264.mp4"));
  auto b = rig.decoder.add_stream(media("mpeg4.avi"));
  auto c = rig.decoder.add_stream(media("h264.mp4"));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, 0U);
  EXPECT_EQ(*b, 1U);
  EXPECT_EQ(*c, 2U);
  auto got = collect(rig.consumer, {*a, *b, *c});
  ASSERT_TRUE(got.complete);
  EXPECT_EQ(got.frames[*a].size(), 50U);
  EXPECT_EQ(got.frames[*b].size(), 30U);
  EXPECT_EQ(got.frames[*c].size(), 50U);
  ASSERT_TRUE(rig.decoder.wait(20s));
  EXPECT_EQ(rig.decoder.statuses().size(), 3U);
}

TEST(DecodeFile, consumers_see_the_end_of_the_channel_after_close) {
  auto rig = make_rig("close");
  auto id = rig.decoder.add_stream(media("mpeg4.avi"));
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete);
  ASSERT_TRUE(rig.decoder.close());
  auto end = rig.consumer.receive(5s);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, Received::Status::end_of_channel);
  EXPECT_FALSE(rig.decoder.add_stream(media("mpeg4.avi")));
}

TEST(DecodeFile, invalid_options_are_refused_at_add_stream) {
  auto rig = make_rig("invalid");
  StreamOptions options;
  options.format = PixelFormat::unknown;
  auto id = rig.decoder.add_stream(media("h264.mp4"), options);
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code(), ErrorCode::invalid_argument);
  EXPECT_FALSE(rig.decoder.add_stream(""));
  EXPECT_EQ(rig.decoder.status(99).error().code(), ErrorCode::not_found);
}

}  // namespace
}  // namespace framebus
