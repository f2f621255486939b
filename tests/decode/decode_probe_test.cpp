// probe_source: what a source is (size, rate, length) before a stream exists for it, and a
// clear, quick error naming a source that cannot be read.
#include <gtest/gtest.h>

#include <chrono>

#include "decode/media.hpp"
#include "framebus/decode/probe.hpp"

namespace framebus {
namespace {

using testing::media;
using testing::media_dir_path;

TEST(Probe, a_video_file_reports_its_size_rate_and_frame_count) {
  auto info = probe_source(media("h264.mp4"));
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->kind, "file");
  EXPECT_EQ(info->width, 320U);
  EXPECT_EQ(info->height, 240U);
  EXPECT_DOUBLE_EQ(info->native_fps, 25.0);
  EXPECT_EQ(info->frames, 50U);
  EXPECT_EQ(info->source, media("h264.mp4"));
}

TEST(Probe, a_folder_reports_its_first_good_picture_and_its_picture_count) {
  auto info = probe_source(media("images"));
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->kind, "image_folder");
  EXPECT_EQ(info->width, 64U);
  EXPECT_EQ(info->height, 48U);
  EXPECT_EQ(info->frames, 7U) << "the count of picture files, also the broken ones (each may be read)";
}

TEST(Probe, a_missing_file_is_not_found_naming_it_within_a_second) {
  const std::string missing = media_dir_path("no-such-video.mp4");
  const auto started = std::chrono::steady_clock::now();
  auto info = probe_source(missing);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::not_found);
  EXPECT_NE(info.error().message().find(missing), std::string::npos) << info.error().message();
  EXPECT_LT(took, std::chrono::seconds(1));
}

TEST(Probe, a_file_that_holds_no_video_is_refused_naming_it) {
  auto info = probe_source(media("text.mp4"));
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message().find(media("text.mp4")), std::string::npos) << info.error().message();
}

TEST(Probe, an_empty_source_is_an_invalid_argument) {
  auto info = probe_source("");
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace framebus
