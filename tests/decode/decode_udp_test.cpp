// UDP sources: the decoder binds udp://127.0.0.1:PORT and an ffmpeg process sends it MPEG-TS.
// When the sender stops, the read timeout ends the stream, or reconnect waits for the next one.
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

std::string udp_url(int port) { return "udp://127.0.0.1:" + std::to_string(port); }

// `ffmpeg -re -i FILE -c copy -f mpegts udp://127.0.0.1:PORT`, started once the decoder has bound
// the port (a datagram sent before that would be lost).
std::unique_ptr<Child> send_udp(const std::string& file, int port) {
  EXPECT_TRUE(testing::poll_until([&] { return testing::udp_bound(port); })) << "the decoder never bound port " << port;
  const std::string url = udp_url(port) + "?pkt_size=1316";
  return std::make_unique<Child>([&] {
    ::execlp("ffmpeg", "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", file.c_str(), "-c", "copy", "-f", "mpegts",
             url.c_str(), static_cast<char*>(nullptr));
    return 127;
  });
}

void expect_contiguous(const std::vector<testing::Frame>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].frame, i);
    EXPECT_EQ(frames[i].image.width, 320U);
    EXPECT_EQ(frames[i].image.height, 240U);
    if (i > 0) {
      EXPECT_GT(frames[i].pts, frames[i - 1].pts) << "frame " << i;
    }
  }
}

TEST(DecodeUdp, an_mpegts_stream_arrives_and_the_senders_silence_ends_it_after_the_read_timeout) {
  const int port = testing::free_udp_port();
  auto rig = make_rig("udp");
  StreamOptions options;
  options.connect_timeout = 20s;  // opening waits for the first datagrams
  options.read_timeout = 1s;
  const std::string url = udp_url(port);
  auto id = rig.decoder.add_stream(url, options);
  ASSERT_TRUE(id);
  auto collected = std::async(std::launch::async, [&] { return collect(rig.consumer, {*id}, 60s); });
  auto sender = send_udp(media("h264.mp4"), port);
  EXPECT_EQ(sender->wait(30s), 0);
  const auto sender_done = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::wait_for_status(
      rig.decoder, *id, [](const StreamStatus& s) { return s.finished(); }, 20s));
  EXPECT_LT(std::chrono::steady_clock::now() - sender_done, 1s + 4s) << "the read timeout ended the stream";

  auto got = collected.get();
  ASSERT_TRUE(got.complete);
  const auto& frames = got.frames[*id];
  // Loopback at the native rate loses nothing in practice; allow a few datagrams' worth.
  EXPECT_GE(frames.size(), 45U);
  EXPECT_LE(frames.size(), 50U);
  expect_contiguous(frames);
  auto status = rig.decoder.status(*id);
  EXPECT_EQ(status->state, StreamState::error);
  EXPECT_NE(status->message.find(url), std::string::npos) << status->message;
  EXPECT_NE(status->message.find("timed out"), std::string::npos) << status->message;
  EXPECT_EQ(status->last_error->code(), ErrorCode::timeout);
}

TEST(DecodeUdp, with_reconnect_a_silent_udp_source_waits_for_the_next_sender_and_ids_continue) {
  const int port = testing::free_udp_port();
  auto rig = make_rig("udp-reconnect");
  StreamOptions options;
  options.connect_timeout = 20s;
  options.read_timeout = 1s;
  options.reconnect = true;
  options.reconnect_delay = 100ms;
  auto id = rig.decoder.add_stream(udp_url(port), options);
  ASSERT_TRUE(id);
  auto collected = std::async(std::launch::async, [&] { return collect(rig.consumer, {*id}, 60s); });
  auto first = send_udp(media("h264.mp4"), port);
  EXPECT_EQ(first->wait(30s), 0);
  ASSERT_TRUE(testing::wait_for_status(rig.decoder, *id, [](const StreamStatus& s) { return s.reconnects >= 1; }));
  const std::uint64_t before = rig.decoder.status(*id)->published;
  EXPECT_GE(before, 45U);

  auto second = send_udp(media("h264.mp4"), port);
  EXPECT_EQ(second->wait(30s), 0);
  ASSERT_TRUE(testing::wait_for_status(rig.decoder, *id, [&](const StreamStatus& s) {
    return s.published >= before + 45;
  })) << rig.decoder.status(*id)->message;
  ASSERT_TRUE(rig.decoder.remove_stream(*id));
  auto got = collected.get();
  ASSERT_TRUE(got.complete);
  EXPECT_GE(got.frames[*id].size(), before + 45);
  expect_contiguous(got.frames[*id]);
}

}  // namespace
}  // namespace framebus
