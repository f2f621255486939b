// RTSP sources over TCP, from a GStreamer RTSP server the test runs on 127.0.0.1
// (tests/decode/rtsp_server.py): frames, a server that goes away and comes back, and URLs
// that cannot be reached.
#include <gtest/gtest.h>

#include <future>

#include "decode/net.hpp"
#include "decode/rig.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::collect;
using testing::make_rig;
using testing::media;

// Frame ids 0..n-1 and strictly increasing pts, all at the given size.
void expect_contiguous(const std::vector<testing::Frame>& frames, std::uint32_t width, std::uint32_t height) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].frame, i);
    EXPECT_EQ(frames[i].image.width, width);
    EXPECT_EQ(frames[i].image.height, height);
    if (i > 0) {
      EXPECT_GT(frames[i].pts, frames[i - 1].pts) << "frame " << i;
    }
  }
}

TEST(DecodeRtsp, an_rtsp_stream_over_tcp_arrives_in_order_with_pixels_equal_to_ffmpegs) {
  const int port = testing::free_tcp_port();
  auto server = testing::serve_rtsp(media("h264.mp4"), port);
  auto rig = make_rig("rtsp");
  StreamOptions options;
  options.connect_timeout = 10s;
  options.read_timeout = 3s;
  auto id = rig.decoder.add_stream(testing::rtsp_url(port), options);
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id}, 60s, 1);
  ASSERT_TRUE(got.complete);
  const auto& frames = got.frames[*id];
  // RTP over TCP loses nothing: every one of the 50 frames, in order.
  ASSERT_EQ(frames.size(), 50U);
  expect_contiguous(frames, 320, 240);
  // The same H.264 bitstream decoded and converted: the first frame is byte-equal to ffmpeg's.
  EXPECT_EQ(frames[0].bytes, testing::reference_raw(media("h264.mp4"), "bgr24", 1));
  auto status = rig.decoder.status(*id);
  EXPECT_EQ(status->published, 50U);
  EXPECT_EQ(status->source_width, 320U);
  EXPECT_TRUE(status->finished());
  EXPECT_NE(status->state, StreamState::error) << "the server's end of stream is a normal end: " << status->message;
}

TEST(DecodeRtsp, a_stream_whose_server_dies_reconnects_when_it_is_back_and_frames_continue) {
  const int port = testing::free_tcp_port();
  auto server = testing::serve_rtsp(media("long.mp4"), port);
  auto rig = make_rig("rtsp-reconnect");
  StreamOptions options;
  options.reconnect = true;
  options.reconnect_delay = 100ms;
  options.reconnect_max_delay = 400ms;
  options.connect_timeout = 5s;
  options.read_timeout = 2s;
  auto id = rig.decoder.add_stream(testing::rtsp_url(port), options);
  ASSERT_TRUE(id);
  auto collected = std::async(std::launch::async, [&] { return collect(rig.consumer, {*id}, 90s); });
  auto published = [&] { return rig.decoder.status(*id)->published; };
  ASSERT_TRUE(testing::wait_for_status(rig.decoder, *id, [](const StreamStatus& s) { return s.published >= 10; }));

  server->kill9();
  ASSERT_TRUE(testing::wait_for_status(rig.decoder, *id, [](const StreamStatus& s) {
    return s.state == StreamState::reconnecting && s.reconnects >= 1;
  })) << rig.decoder.status(*id)->message;
  auto lost = rig.decoder.status(*id);
  EXPECT_NE(lost->message.find(testing::rtsp_url(port)), std::string::npos) << lost->message;
  const std::uint64_t before = published();

  server = testing::serve_rtsp(media("long.mp4"), port);
  ASSERT_TRUE(testing::wait_for_status(rig.decoder, *id, [&](const StreamStatus& s) {
    return s.state == StreamState::running && s.published >= before + 25;
  })) << rig.decoder.status(*id)->message;
  ASSERT_TRUE(rig.decoder.remove_stream(*id));

  auto got = collected.get();
  ASSERT_TRUE(got.complete);
  const auto& frames = got.frames[*id];
  EXPECT_GE(frames.size(), before + 25);
  expect_contiguous(frames, 640, 480);
}

TEST(DecodeRtsp, an_rtsp_url_where_nothing_listens_fails_naming_it_within_the_connect_timeout) {
  const int port = testing::free_tcp_port();
  auto rig = make_rig("rtsp-refused");
  StreamOptions options;
  options.connect_timeout = 2s;
  const std::string url = testing::rtsp_url(port);
  const auto start = std::chrono::steady_clock::now();
  auto id = rig.decoder.add_stream(url, options);
  ASSERT_TRUE(id);
  // The state, not wait(): a finished stream lingers until its end-of-stream marker is taken.
  ASSERT_TRUE(testing::wait_for_status(
      rig.decoder, *id, [](const StreamStatus& s) { return s.state == StreamState::error; }, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s + 3s);
  auto status = rig.decoder.status(*id);
  EXPECT_NE(status->message.find(url), std::string::npos) << status->message;
  EXPECT_NE(status->message.find("cannot open"), std::string::npos) << status->message;
  EXPECT_TRUE(collect(rig.consumer, {*id}, 10s).complete) << "the end-of-stream marker is sent";
}

TEST(DecodeRtsp, an_rtsp_server_that_never_answers_times_out_after_the_connect_timeout) {
  testing::SilentServer silent;
  auto rig = make_rig("rtsp-silent");
  StreamOptions options;
  options.connect_timeout = 1s;
  options.read_timeout = 30s;  // the connect timeout alone bounds the opening
  const std::string url = testing::rtsp_url(silent.port());
  const auto start = std::chrono::steady_clock::now();
  auto id = rig.decoder.add_stream(url, options);
  ASSERT_TRUE(id);
  ASSERT_TRUE(testing::wait_for_status(
      rig.decoder, *id, [](const StreamStatus& s) { return s.state == StreamState::error; }, 10s));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 1s);
  EXPECT_LT(took, 1s + 3s);
  auto status = rig.decoder.status(*id);
  EXPECT_NE(status->message.find(url), std::string::npos) << status->message;
  EXPECT_NE(status->message.find("timed out"), std::string::npos) << status->message;
  EXPECT_EQ(status->last_error->code(), ErrorCode::timeout);
  EXPECT_TRUE(collect(rig.consumer, {*id}, 10s).complete) << "the end-of-stream marker is sent";
}

}  // namespace
}  // namespace framebus
