// A folder or glob of pictures decodes as one stream in name order; bad pictures are skipped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "decode/rig.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::collect;
using testing::make_rig;
using testing::media;

TEST(DecodeImageFolder, pictures_arrive_in_name_order_and_bad_ones_are_counted_and_skipped) {
  auto rig = make_rig("images");
  auto id = rig.decoder.add_stream(media("images"));
  auto video = rig.decoder.add_stream(media("mpeg4.avi"));
  ASSERT_TRUE(id && video);
  auto got = collect(rig.consumer, {*id, *video});
  ASSERT_TRUE(got.complete);
  const auto& frames = got.frames[*id];
  // a0.png a1.jpg a2.bmp [a3_broken.png a4_empty.jpg] b0.png b1.jpg
  const std::uint32_t widths[] = {64, 80, 96, 112, 128};
  ASSERT_EQ(frames.size(), 5U);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].frame, i);
    EXPECT_EQ(frames[i].image.width, widths[i]) << "picture " << i << " comes in name order, at its own size";
    EXPECT_EQ(frames[i].image.height, widths[i] * 3 / 4);
    EXPECT_EQ(frames[i].image.format, PixelFormat::bgr24);
  }
  EXPECT_EQ(frames[0].pts, 0);
  EXPECT_EQ(frames[1].pts, 40000);
  EXPECT_EQ(frames[3].pts, 5 * 40000) << "a picture's place in the folder gives its time, skipped ones included";
  EXPECT_EQ(got.frames[*video].size(), 30U);

  ASSERT_TRUE(rig.decoder.wait(20s));
  auto status = rig.decoder.status(*id);
  EXPECT_EQ(status->state, StreamState::eof) << status->message;
  EXPECT_EQ(status->decode_errors, 2U);
  EXPECT_EQ(status->published, 5U);
  ASSERT_TRUE(status->last_error.has_value());
  EXPECT_NE(status->last_error->message().find("a4_empty.jpg"), std::string::npos) << status->last_error->message();
}

TEST(DecodeImageFolder, each_picture_equals_ffmpegs_own_decode_of_that_file) {
  auto rig = make_rig("imagepixels");
  auto id = rig.decoder.add_stream(media("images"));
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id}, 60s, 5);
  ASSERT_TRUE(got.complete);
  const auto& frames = got.frames[*id];
  ASSERT_EQ(frames.size(), 5U);
  // PNG and BMP are RGB; JPEG is full-range YUV, converted as ffmpeg converts it.
  const char* files[] = {"a0.png", "a1.jpg", "a2.bmp", "b0.png", "b1.jpg"};
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto reference = testing::reference_raw(media("images") + "/" + files[i], "bgr24", 1);
    EXPECT_EQ(frames[i].bytes.size(), reference.size()) << files[i];
    EXPECT_TRUE(frames[i].bytes == reference) << files[i] << " differs from ffmpeg's decode of it";
  }
}

TEST(DecodeImageFolder, a_glob_selects_pictures_and_a_size_scales_them_all) {
  auto rig = make_rig("glob");
  StreamOptions options;
  options.width = 32;
  options.height = 24;
  options.format = PixelFormat::gray8;
  auto id = rig.decoder.add_stream(media("images") + "/[ab][0-9].png", options);
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete);
  ASSERT_EQ(got.frames[*id].size(), 2U);  // a0.png b0.png
  for (const auto& frame : got.frames[*id]) {
    EXPECT_EQ(frame.image.width, 32U);
    EXPECT_EQ(frame.image.height, 24U);
    EXPECT_EQ(frame.image.format, PixelFormat::gray8);
  }
  ASSERT_TRUE(rig.decoder.wait(20s));
  EXPECT_EQ(rig.decoder.status(*id)->decode_errors, 0U);
}

TEST(DecodeImageFolder, a_folder_without_pictures_is_an_error) {
  auto rig = make_rig("emptyfolder");
  const std::string empty = testing::media_dir_path("empty-folder-" + std::to_string(::getpid()));
  std::filesystem::create_directories(empty);
  auto id = rig.decoder.add_stream(empty);
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete);
  ASSERT_TRUE(rig.decoder.wait(20s));
  auto status = rig.decoder.status(*id);
  EXPECT_EQ(status->state, StreamState::error);
  EXPECT_NE(status->message.find(empty), std::string::npos) << status->message;
  std::filesystem::remove_all(empty);
}

}  // namespace
}  // namespace framebus
