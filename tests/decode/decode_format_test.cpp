// Output pixel formats and sizes, checked against the ffmpeg tool's conversion.
#include <gtest/gtest.h>

#include <algorithm>

#include "decode/rig.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::collect;
using testing::make_rig;
using testing::media;

struct FormatCase {
  PixelFormat format;
  const char* ffmpeg_name;
  std::uint32_t width, height;  // asked for; 0 = source
  std::uint32_t out_width, out_height;
  std::uint32_t planes;
};

class DecodeFormat : public ::testing::TestWithParam<FormatCase> {};

TEST_P(DecodeFormat, frames_have_the_asked_format_and_size_and_match_ffmpeg) {
  const FormatCase c = GetParam();
  auto rig = make_rig("format");
  StreamOptions options;
  options.format = c.format;
  options.width = c.width;
  options.height = c.height;
  auto id = rig.decoder.add_stream(media("h264.mp4"), options);
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id}, 60s, 3);
  ASSERT_TRUE(got.complete);
  ASSERT_EQ(got.frames[*id].size(), 50U);
  const ImageDesc expected = ImageDesc::packed(c.out_width, c.out_height, c.format);
  const auto& first = got.frames[*id][0];
  EXPECT_EQ(first.image.format, c.format);
  EXPECT_EQ(first.image.width, c.out_width);
  EXPECT_EQ(first.image.height, c.out_height);
  EXPECT_EQ(first.image.plane_count, c.planes);
  EXPECT_EQ(first.bytes.size(), expected.byte_size());

  const std::string size =
      c.width == 0 && c.height == 0 ? "" : std::to_string(c.out_width) + "x" + std::to_string(c.out_height);
  const auto reference = testing::reference_raw(media("h264.mp4"), c.ffmpeg_name, 3, size);
  ASSERT_EQ(reference.size(), 3 * expected.byte_size());
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& bytes = got.frames[*id][i].bytes;
    const auto* ref = reference.data() + i * expected.byte_size();
    std::size_t worst = 0;
    for (std::size_t b = 0; b < bytes.size(); ++b) {
      worst = std::max<std::size_t>(worst, static_cast<std::size_t>(std::abs(int{bytes[b]} - int{ref[b]})));
    }
    EXPECT_EQ(worst, 0U) << "frame " << i << ": largest difference from ffmpeg's pixels";
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, DecodeFormat,
                         ::testing::Values(FormatCase{PixelFormat::bgr24, "bgr24", 0, 0, 320, 240, 1},
                                           FormatCase{PixelFormat::rgb24, "rgb24", 0, 0, 320, 240, 1},
                                           FormatCase{PixelFormat::gray8, "gray", 0, 0, 320, 240, 1},
                                           FormatCase{PixelFormat::nv12, "nv12", 0, 0, 320, 240, 2},
                                           FormatCase{PixelFormat::yuv420p, "yuv420p", 0, 0, 320, 240, 3},
                                           FormatCase{PixelFormat::bgr24, "bgr24", 160, 120, 160, 120, 1},
                                           FormatCase{PixelFormat::rgb24, "rgb24", 640, 360, 640, 360, 1},
                                           FormatCase{PixelFormat::yuv420p, "yuv420p", 176, 144, 176, 144, 3},
                                           FormatCase{PixelFormat::bgr24, "bgr24", 160, 0, 160, 120, 1},
                                           FormatCase{PixelFormat::gray8, "gray", 0, 60, 80, 60, 1}),
                         [](const ::testing::TestParamInfo<FormatCase>& param) {
                           const FormatCase& c = param.param;
                           return std::string(c.ffmpeg_name) + "_" + std::to_string(c.out_width) + "x" +
                                  std::to_string(c.out_height) +
                                  (c.width == 0 && c.height == 0   ? "_source_size"
                                   : c.width == 0 || c.height == 0 ? "_keep_aspect"
                                                                   : "");
                         });

TEST(DecodeFormat, a_frame_larger_than_a_slot_ends_the_stream_with_an_error_naming_the_sizes) {
  ProducerOptions tiny = testing::decoder_channel();
  tiny.slot_size = 64 * 1024;
  auto rig = make_rig("toolarge", tiny);
  auto id = rig.decoder.add_stream(media("h264.mp4"));
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete) << "the end-of-stream marker arrives";
  EXPECT_TRUE(got.frames[*id].empty());
  ASSERT_TRUE(rig.decoder.wait(*id, 20s));
  auto status = rig.decoder.status(*id);
  EXPECT_EQ(status->state, StreamState::error);
  EXPECT_NE(status->message.find("230400"), std::string::npos) << status->message;
  EXPECT_NE(status->message.find("h264.mp4"), std::string::npos) << status->message;
}

}  // namespace
}  // namespace framebus
