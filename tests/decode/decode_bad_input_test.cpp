// Bad sources: each ends its own stream with an error naming it and what failed, sends its
// end-of-stream marker, and leaves the other streams alone.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "decode/rig.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::collect;
using testing::make_rig;
using testing::media;
using testing::media_dir_path;

struct BadCase {
  std::string name;
  std::string source;
  std::string reason;         // a piece of the expected message
  bool frames_first = false;  // the source decodes some frames before it fails
};

void expect_failure_contained(const BadCase& bad, std::uint32_t max_decode_errors = 0) {
  auto rig = make_rig("bad");
  auto good_before = rig.decoder.add_stream(media("h264.mp4"));
  StreamOptions options;
  options.max_decode_errors = max_decode_errors;
  auto bad_id = rig.decoder.add_stream(bad.source, options);
  auto good_after = rig.decoder.add_stream(media("mpeg4.avi"));
  ASSERT_TRUE(good_before && bad_id && good_after);

  auto got = collect(rig.consumer, {*good_before, *bad_id, *good_after});
  ASSERT_TRUE(got.complete) << bad.name << ": every stream sends its end-of-stream marker";
  EXPECT_EQ(got.end_markers[*bad_id], 1);
  EXPECT_EQ(got.frames[*good_before].size(), 50U) << bad.name;
  EXPECT_EQ(got.frames[*good_after].size(), 30U) << bad.name;

  ASSERT_TRUE(rig.decoder.wait(20s));
  auto status = rig.decoder.status(*bad_id);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, StreamState::error) << bad.name << ": " << status->message;
  EXPECT_NE(status->message.find(bad.source), std::string::npos) << "names the source: " << status->message;
  EXPECT_NE(status->message.find(bad.reason), std::string::npos) << "says what failed: " << status->message;
  ASSERT_TRUE(status->last_error.has_value());
  const auto& frames = got.frames[*bad_id];
  if (bad.frames_first) {
    EXPECT_GT(status->published, 0U) << bad.name << ": the frames before the failure are published";
  } else {
    EXPECT_EQ(status->published, 0U) << bad.name;
  }
  EXPECT_EQ(frames.size(), status->published) << bad.name;
  for (std::size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(frames[i].frame, i) << bad.name;
  EXPECT_EQ(got.end_frame_count[*bad_id], status->published) << bad.name;
  EXPECT_EQ(rig.decoder.status(*good_before)->state, StreamState::eof);
  EXPECT_EQ(rig.decoder.status(*good_after)->state, StreamState::eof);
}

TEST(DecodeBadInput, a_missing_file_reports_no_such_file) {
  expect_failure_contained({"missing", media_dir_path("does-not-exist.mp4"), "No such file or directory"});
}

TEST(DecodeBadInput, a_text_file_named_mp4_reports_invalid_data) {
  expect_failure_contained({"text", media("text.mp4"), "Invalid data found"});
}

TEST(DecodeBadInput, a_truncated_video_whose_index_was_cut_off_reports_why_it_cannot_be_opened) {
  expect_failure_contained({"truncated", media("truncated.mp4"), "cannot open"});
}

TEST(DecodeBadInput, a_video_cut_in_half_publishes_the_frames_before_the_cut_then_reports_that_it_ends_early) {
  expect_failure_contained({"cut", media("cut_in_half.mp4"), "the file ends early", true});
}

TEST(DecodeBadInput, a_video_cut_in_half_is_an_error_even_when_decode_errors_are_tolerated) {
  expect_failure_contained({"cut", media("cut_in_half.mp4"), "the file ends early", true}, 1000);
}

TEST(DecodeBadInput, the_whole_video_that_was_cut_plays_to_the_end) {
  auto rig = make_rig("uncut");
  auto id = rig.decoder.add_stream(media("faststart.mp4"));
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete);
  EXPECT_EQ(got.frames[*id].size(), 150U);
  ASSERT_TRUE(rig.decoder.wait(20s));
  EXPECT_EQ(rig.decoder.status(*id)->state, StreamState::eof) << rig.decoder.status(*id)->message;
}

TEST(DecodeBadInput, a_corrupted_video_reports_decode_errors_mid_stream) {
  expect_failure_contained({"corrupt", media("corrupt.mp4"), "decode error: Invalid data found", true});
}

TEST(DecodeBadInput, a_corrupted_video_with_tolerated_errors_plays_to_the_end_and_counts_them) {
  auto rig = make_rig("tolerant");
  StreamOptions options;
  options.max_decode_errors = 1000;
  auto id = rig.decoder.add_stream(media("corrupt.mp4"), options);
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete);
  ASSERT_TRUE(rig.decoder.wait(20s));
  auto status = rig.decoder.status(*id);
  EXPECT_EQ(status->state, StreamState::eof) << status->message;
  EXPECT_GT(status->decode_errors, 0U);
  ASSERT_TRUE(status->last_error.has_value());
  EXPECT_NE(status->last_error->message().find("corrupt.mp4"), std::string::npos);
  EXPECT_EQ(got.frames[*id].size(), status->published);
  for (std::size_t i = 0; i < got.frames[*id].size(); ++i) EXPECT_EQ(got.frames[*id][i].frame, i);
}

TEST(DecodeBadInput, a_file_without_read_permission_reports_permission_denied) {
  const std::string path = "/tmp/framebus-unreadable-" + std::to_string(::getpid()) + ".mp4";
  std::filesystem::copy_file(media("h264.mp4"), path, std::filesystem::copy_options::overwrite_existing);
  ::chmod(path.c_str(), 0);
  // Root reads any file: the decoder runs in a child that gives up root first.
  testing::Child child([&] {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 10;
    const auto name = testing::unique_name("unreadable");
    auto decoder = MultiDecoder::create(name, testing::decoder_channel());
    auto consumer = Consumer::open(name);
    if (!decoder || !consumer) return 11;
    auto id = decoder->add_stream(path);
    if (!id) return 12;
    auto got = collect(*consumer, {*id}, 20s);
    if (!got.complete || !got.frames[*id].empty()) return 13;
    auto status = decoder->status(*id);
    if (!status || status->state != StreamState::error) return 14;
    if (status->message.find(path) == std::string::npos) return 15;
    if (status->message.find("Permission denied") == std::string::npos) return 16;
    return 0;
  });
  EXPECT_EQ(child.wait(60s), 0) << "10: setuid, 11-12: setup, 13: marker, 14: state, 15: path, 16: reason";
  std::filesystem::remove(path);
}

TEST(DecodeBadInput, an_unreachable_url_fails_fast_with_connection_refused) {
  const auto start = std::chrono::steady_clock::now();
  expect_failure_contained({"unreachable", "http://127.0.0.1:1/x", "Connection refused"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
}

TEST(DecodeBadInput, a_zero_byte_image_given_as_a_stream_reports_it) {
  expect_failure_contained({"empty image", media("images") + "/a4_empty.jpg",
                            "cannot open: Invalid data found when "
                            "processing input (the file is empty)"});
}

TEST(DecodeBadInput, an_image_pattern_matching_nothing_reports_it) {
  expect_failure_contained({"noglob", media_dir_path("nothing-here-*.png"), "matches no file"});
}

}  // namespace
}  // namespace framebus
