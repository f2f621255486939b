// Streams with channels of their own (StreamOptions::channel): a reader that reads channel by
// channel, in turn, gets every frame of every pass, and a channel nobody reads stalls only its
// own stream.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "decode/channel_reader.hpp"
#include "decode/rig.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::ChannelRead;
using testing::Child;
using testing::media;
using testing::Pipe;
using testing::unique_name;

struct Source {
  std::string file;
  std::uint64_t frames_per_pass;
  std::uint32_t width;
};

// Every frame of every pass, once, in order, with contiguous ids and increasing pts; one
// end-of-stream marker, and nothing from any other stream.
void expect_whole_stream(const ChannelRead& read, std::uint32_t stream, std::uint64_t frames, std::uint32_t width) {
  EXPECT_FALSE(read.failed) << "stream " << stream;
  EXPECT_EQ(read.end_markers, 1) << "stream " << stream;
  ASSERT_EQ(read.frames.size(), frames) << "stream " << stream;
  for (std::size_t i = 0; i < read.frames.size(); ++i) {
    const auto& f = read.frames[i];
    EXPECT_EQ(f.stream, stream);
    EXPECT_EQ(f.frame, i) << "stream " << stream;
    EXPECT_EQ(f.image.width, width) << "stream " << stream << " frame " << i;
    if (i > 0) {
      EXPECT_GT(f.pts, read.frames[i - 1].pts) << "stream " << stream << " frame " << i;
    }
  }
}

// Three streams, loop=2, each into its own channel; one reader process reads the three channels
// in turn with short receives until each has ended.
void round_robin_scenario(const std::string& tag) {
  const std::vector<Source> sources = {
      {media("h264.mp4"), 50, 320}, {media("mpeg4.avi"), 30, 320}, {media("mjpeg.avi"), 30, 320}};
  const std::string base = unique_name(tag);
  std::vector<std::string> channels;
  for (std::size_t i = 0; i < sources.size(); ++i) channels.push_back(base + "." + std::to_string(i));

  // The reader is forked before the decoder starts any thread; it waits for the channels.
  Pipe results;
  Child reader([&] {
    results.close_read();
    std::vector<Consumer> consumers;
    for (const auto& name : channels) {
      auto consumer = Consumer::open(name, ConsumerOptions{.group = "g", .wait = 30s});
      if (!consumer) return 2;
      consumers.push_back(std::move(*consumer));
    }
    for (const auto& read : testing::read_round_robin(consumers, true, 90s)) results.send(testing::encode_read(read));
    return 0;
  });
  results.close_write();

  ProducerOptions channel = testing::decoder_channel();
  channel.groups = {GroupSpec{"g", std::nullopt}};
  auto decoder = MultiDecoder::create(base + ".main", channel);
  ASSERT_TRUE(decoder) << decoder.error().message();
  for (std::size_t i = 0; i < sources.size(); ++i) {
    StreamOptions options;
    options.loop = 2;
    options.channel = channels[i];
    auto id = decoder->add_stream(sources[i].file, options);
    ASSERT_TRUE(id) << id.error().message();
    ASSERT_EQ(*id, i);
  }
  ASSERT_TRUE(decoder->wait(40s));
  for (std::uint32_t i = 0; i < sources.size(); ++i) {
    auto status = decoder->status(i);
    EXPECT_EQ(status->state, StreamState::eof) << status->message;
    EXPECT_EQ(status->channel, channels[i]);
    EXPECT_EQ(status->passes, 2U);
    EXPECT_EQ(status->published, 2 * sources[i].frames_per_pass);
  }
  // Each channel ends once the decoder closes: the reader stops at every end of channel.
  ASSERT_TRUE(decoder->close());

  for (std::uint32_t i = 0; i < sources.size(); ++i) {
    auto line = results.receive(60s);
    ASSERT_TRUE(line) << "the reader reported no result for channel " << i;
    const ChannelRead read = testing::decode_read(*line);
    EXPECT_TRUE(read.end_of_channel) << "channel " << i;
    expect_whole_stream(read, i, 2 * sources[i].frames_per_pass, sources[i].width);
  }
  EXPECT_EQ(reader.wait(30s), 0);
}

TEST(DecodeChannels, a_reader_taking_turns_on_three_channels_gets_every_frame_of_both_passes_twice_over) {
  // The whole scenario twice in one process: a second decoder must work as the first did.
  round_robin_scenario("rr-first");
  if (HasFatalFailure()) return;
  round_robin_scenario("rr-second");
}

TEST(DecodeChannels, a_channel_nobody_reads_blocks_only_its_own_stream_and_the_stream_can_be_removed) {
  ProducerOptions channel;
  channel.slots = 4;
  channel.slot_size = 2ULL << 20;
  channel.policy = Policy::block;
  channel.groups = {GroupSpec{"g", std::nullopt}};  // queues from the first frame, read or not
  channel.linger = 1s;
  const std::string base = unique_name("fair");
  auto decoder = MultiDecoder::create(base + ".main", channel);
  ASSERT_TRUE(decoder) << decoder.error().message();

  StreamOptions unread;
  unread.loop = StreamOptions::kLoopForever;
  unread.channel = base + ".unread";
  auto blocked = decoder->add_stream(media("long.mp4"), unread);
  ASSERT_TRUE(blocked) << blocked.error().message();
  // The unread stream fills its four slots and then waits for room that never comes.
  ASSERT_TRUE(testing::wait_for_status(*decoder, *blocked, [](const StreamStatus& s) { return s.published == 4; }));

  const std::vector<Source> sources = {{media("h264.mp4"), 50, 320}, {media("mpeg4.avi"), 30, 320}};
  std::vector<Consumer> consumers;
  std::vector<std::uint32_t> ids;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    StreamOptions options;
    options.channel = base + ".read" + std::to_string(i);
    auto id = decoder->add_stream(sources[i].file, options);
    ASSERT_TRUE(id) << id.error().message();
    ids.push_back(*id);
    // add_stream has created the channel: it can be opened at once.
    auto consumer = Consumer::open(options.channel, ConsumerOptions{.group = "g"});
    ASSERT_TRUE(consumer) << consumer.error().message();
    consumers.push_back(std::move(*consumer));
  }
  const auto reads = testing::read_round_robin(consumers, false, 60s);
  for (std::size_t i = 0; i < sources.size(); ++i) {
    expect_whole_stream(reads[i], ids[i], sources[i].frames_per_pass, sources[i].width);
    ASSERT_TRUE(decoder->wait(ids[i], 20s));
    EXPECT_EQ(decoder->status(ids[i])->state, StreamState::eof);
  }

  auto stuck = decoder->status(*blocked);
  EXPECT_EQ(stuck->state, StreamState::running) << stuck->message;
  EXPECT_EQ(stuck->published, 4U) << "no frame went past the full channel";
  // Removal interrupts the blocked loan; the marker, which has no room either, waits one linger.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(decoder->remove_stream(*blocked));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(decoder->status(*blocked).error().code(), ErrorCode::not_found);
  ASSERT_TRUE(decoder->close());
}

TEST(DecodeChannels, streams_without_a_channel_of_their_own_share_the_decoders_and_statuses_say_which) {
  auto rig = testing::make_rig("shared");
  StreamOptions own;
  own.channel = rig.decoder.channel() + ".own";
  auto shared_id = rig.decoder.add_stream(media("mpeg4.avi"));
  auto named_main = StreamOptions{};
  named_main.channel = rig.decoder.channel();  // naming the decoder's channel is the same as none
  auto main_id = rig.decoder.add_stream(media("mjpeg.avi"), named_main);
  auto own_id = rig.decoder.add_stream(media("h264.mp4"), own);
  ASSERT_TRUE(shared_id && main_id && own_id);
  auto own_consumer = Consumer::open(own.channel);
  ASSERT_TRUE(own_consumer);
  auto got = testing::collect(rig.consumer, {*shared_id, *main_id});
  ASSERT_TRUE(got.complete);
  EXPECT_EQ(got.frames[*shared_id].size(), 30U);
  EXPECT_EQ(got.frames[*main_id].size(), 30U);
  EXPECT_EQ(got.frames.count(*own_id), 0U) << "the own-channel stream stays out of the decoder's channel";
  auto own_got = testing::collect(*own_consumer, {*own_id});
  ASSERT_TRUE(own_got.complete);
  EXPECT_EQ(own_got.frames[*own_id].size(), 50U);
  EXPECT_EQ(rig.decoder.status(*shared_id)->channel, rig.decoder.channel());
  EXPECT_EQ(rig.decoder.status(*main_id)->channel, rig.decoder.channel());
  EXPECT_EQ(rig.decoder.status(*own_id)->channel, own.channel);
}

TEST(DecodeChannels, an_invalid_stream_channel_is_refused_by_add_stream_naming_it) {
  auto rig = testing::make_rig("badname");
  StreamOptions options;
  options.channel = "no/slashes";
  auto id = rig.decoder.add_stream(media("h264.mp4"), options);
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code(), ErrorCode::invalid_name);
  EXPECT_NE(id.error().message().find("no/slashes"), std::string::npos) << id.error().message();
  EXPECT_TRUE(rig.decoder.statuses().empty());
}

TEST(DecodeChannels, a_streams_channel_ends_for_its_consumers_only_when_the_decoder_closes) {
  auto rig = testing::make_rig("keepalive");
  StreamOptions options;
  options.channel = rig.decoder.channel() + ".own";
  auto first = rig.decoder.add_stream(media("mpeg4.avi"), options);
  ASSERT_TRUE(first);
  auto consumer = Consumer::open(options.channel);
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(testing::collect(*consumer, {*first}).complete);
  ASSERT_TRUE(rig.decoder.wait(*first, 20s));
  // The stream has left; the decoder's own producer keeps the channel open for the next one.
  auto between = consumer->receive(200ms);
  ASSERT_TRUE(between);
  EXPECT_EQ(between->status, Received::Status::timeout);
  auto second = rig.decoder.add_stream(media("mjpeg.avi"), options);
  ASSERT_TRUE(second);
  auto got = testing::collect(*consumer, {*second});
  ASSERT_TRUE(got.complete);
  EXPECT_EQ(got.frames[*second].size(), 30U);
  ASSERT_TRUE(rig.decoder.close());
  auto end = consumer->receive(5s);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, Received::Status::end_of_channel);
  EXPECT_EQ(end->reason, EndReason::closed);
}

}  // namespace
}  // namespace framebus
