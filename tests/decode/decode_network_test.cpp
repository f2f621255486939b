// Network sources: an HTTP server run by the test with the ffmpeg tool, a silent server, an
// unreachable one, and a server that goes away and comes back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <future>

#include "decode/net.hpp"
#include "decode/rig.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::collect;
using testing::make_rig;
using testing::media;
using testing::SilentServer;

int free_port() { return testing::free_tcp_port(); }

// `ffmpeg [-re] -i FILE -c copy -f FORMAT -listen 1 http://127.0.0.1:PORT`, up once it listens.
std::unique_ptr<Child> serve_http(const std::string& file, int port, bool native_rate,
                                  const std::string& format = "mpegts") {
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto child = std::make_unique<Child>([&] {
    if (native_rate) {
      ::execlp("ffmpeg", "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", file.c_str(), "-c", "copy", "-f",
               format.c_str(), "-listen", "1", url.c_str(), static_cast<char*>(nullptr));
    } else {
      ::execlp("ffmpeg", "ffmpeg", "-nostdin", "-v", "error", "-i", file.c_str(), "-c", "copy", "-f", format.c_str(),
               "-listen", "1", url.c_str(), static_cast<char*>(nullptr));
    }
    return 127;
  });
  EXPECT_TRUE(testing::poll_until([&] { return testing::tcp_listening(port); }))
      << "ffmpeg's HTTP server did not come up";
  return child;
}

TEST(DecodeNetwork, an_http_stream_from_a_live_ffmpeg_server_arrives_whole) {
  const int port = free_port();
  auto server = serve_http(media("h264.mp4"), port, true);
  auto rig = make_rig("http");
  StreamOptions options;
  options.connect_timeout = 5s;
  options.read_timeout = 5s;
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto id = rig.decoder.add_stream(url, options);
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id});
  ASSERT_TRUE(got.complete);
  const auto& frames = got.frames[*id];
  ASSERT_EQ(frames.size(), 50U);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].frame, i);
    if (i > 0) {
      EXPECT_EQ(frames[i].pts - frames[i - 1].pts, 40000);
    }
  }
  ASSERT_TRUE(rig.decoder.wait(20s));
  auto status = rig.decoder.status(*id);
  EXPECT_EQ(status->state, StreamState::eof) << status->message;
  EXPECT_DOUBLE_EQ(status->native_fps, 25.0);
  EXPECT_EQ(server->wait(20s), 0);
}

TEST(DecodeNetwork, a_server_that_never_answers_times_out_with_the_url_named) {
  SilentServer silent;
  auto rig = make_rig("silent");
  StreamOptions options;
  options.connect_timeout = 1s;
  options.read_timeout = 500ms;
  const std::string url = "http://127.0.0.1:" + std::to_string(silent.port()) + "/cam";
  const auto start = std::chrono::steady_clock::now();
  auto id = rig.decoder.add_stream(url, options);
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id}, 20s);
  ASSERT_TRUE(got.complete);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  auto status = rig.decoder.status(*id);
  EXPECT_EQ(status->state, StreamState::error);
  EXPECT_NE(status->message.find(url), std::string::npos) << status->message;
  EXPECT_NE(status->message.find("timed out"), std::string::npos) << status->message;
  EXPECT_EQ(status->last_error->code(), ErrorCode::timeout);
}

TEST(DecodeNetwork, remove_stream_interrupts_a_blocked_connection_at_once) {
  SilentServer silent;
  auto rig = make_rig("interrupt");
  StreamOptions options;
  options.connect_timeout = 60s;
  options.read_timeout = 60s;
  auto id = rig.decoder.add_stream("http://127.0.0.1:" + std::to_string(silent.port()) + "/cam", options);
  ASSERT_TRUE(id);
  auto collected = std::async(std::launch::async, [&] { return collect(rig.consumer, {*id}, 30s); });
  ASSERT_TRUE(testing::wait_for_status(rig.decoder, *id,
                                       [](const StreamStatus& s) { return s.state == StreamState::opening; }));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(rig.decoder.remove_stream(*id));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(collected.get().complete);
}

TEST(DecodeNetwork, a_lost_stream_reconnects_when_the_server_comes_back_and_ids_stay_contiguous) {
  const int port = free_port();
  auto rig = make_rig("reconnect");
  StreamOptions options;
  options.reconnect = true;
  // Eight refused attempts take about 6.5 s: room for a second server that starts slowly on a
  // loaded machine; after it, eight more end the stream.
  options.reconnect_delay = 250ms;
  options.reconnect_max_delay = 1s;
  options.max_reconnects = 8;
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto first = serve_http(media("h264.mp4"), port, false);
  auto id = rig.decoder.add_stream(url, options);
  ASSERT_TRUE(id);
  auto collected = std::async(std::launch::async, [&] { return collect(rig.consumer, {*id}, 60s); });
  ASSERT_TRUE(testing::wait_for_status(rig.decoder, *id,
                                       [](const StreamStatus& s) { return s.published == 50 && s.reconnects >= 1; }));
  EXPECT_EQ(first->wait(20s), 0);
  auto second = serve_http(media("h264.mp4"), port, false);
  auto got = collected.get();
  ASSERT_TRUE(got.complete);
  const auto& frames = got.frames[*id];
  ASSERT_EQ(frames.size(), 100U);
  for (std::size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(frames[i].frame, i);
  auto status = rig.decoder.status(*id);
  EXPECT_EQ(status->state, StreamState::error) << "gave up after the last attempts";
  EXPECT_GE(status->reconnects, 9U);
  EXPECT_NE(status->message.find(url), std::string::npos) << status->message;
  EXPECT_EQ(second->wait(20s), 0);
}

TEST(DecodeNetwork, undecodable_data_on_a_reconnecting_stream_is_a_lost_connection_not_the_end) {
  // A server killed mid-packet leaves a truncated packet that fails to decode: for a live source
  // that reconnects, that is the connection lost, not a broken stream. Corrupt packets relayed
  // over HTTP as they are (Matroska keeps H.264's length-prefixed units, which then fail to
  // parse) make the same happen every time.
  const int port = free_port();
  auto rig = make_rig("undecodable");
  StreamOptions options;
  options.reconnect = true;
  options.reconnect_delay = 50ms;
  options.max_reconnects = 2;
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto server = serve_http(media("corrupt.mp4"), port, false, "matroska");
  auto id = rig.decoder.add_stream(url, options);
  ASSERT_TRUE(id);
  auto got = collect(rig.consumer, {*id}, 60s);
  ASSERT_TRUE(got.complete);
  auto status = rig.decoder.status(*id);
  EXPECT_GE(status->decode_errors, 1U);
  EXPECT_GE(status->reconnects, 1U) << "a decode error ended the stream instead of reconnecting: " << status->message;
  EXPECT_EQ(server->wait(20s), 0);
}

}  // namespace
}  // namespace framebus
