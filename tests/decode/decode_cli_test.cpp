// `framebus decode ... --channel NAME --channel-per-stream`: the real binary, stream i into
// channel NAME.i, read by this process.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "decode/channel_reader.hpp"
#include "decode/rig.hpp"

#ifndef FRAMEBUS_CLI_PATH
#error "FRAMEBUS_CLI_PATH must name the framebus binary"
#endif

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::media;
using testing::unique_name;

// The framebus tool with `args`, its stdout and stderr written to `log`.
std::unique_ptr<Child> start_cli(const std::vector<std::string>& args, const std::string& log) {
  return testing::start_program(FRAMEBUS_CLI_PATH, args, log);
}

std::string slurp(const std::string& path) {
  std::string text = testing::read_text(path);
  std::filesystem::remove(path);
  return text;
}

TEST(DecodeCli, channel_per_stream_publishes_stream_i_into_channel_name_dot_i) {
  const std::string base = unique_name("cli");
  const std::string log = testing::media_dir_path(base + ".log");
  const std::string a = media("h264.mp4");
  const std::string b = media("mpeg4.avi");
  auto cli = start_cli({"decode", a, b, "--channel", base, "--channel-per-stream", "--group", "g", "--slots", "8",
                        "--slot-size", "2MiB", "--linger", "5", "--status-interval", "0.2"},
                       log);
  std::vector<Consumer> consumers;
  for (const char* suffix : {".0", ".1"}) {
    auto consumer = Consumer::open(base + suffix, ConsumerOptions{.group = "g", .wait = 30s});
    ASSERT_TRUE(consumer) << consumer.error().message();
    consumers.push_back(std::move(*consumer));
  }
  const auto reads = testing::read_round_robin(consumers, true, 60s);
  const int exit_code = cli->wait(30s);
  const std::string output = slurp(log);
  EXPECT_EQ(exit_code, 0) << output;
  const std::uint64_t expected[] = {50, 30};
  for (std::uint32_t i = 0; i < 2; ++i) {
    const auto& read = reads[i];
    EXPECT_FALSE(read.failed) << "channel " << i;
    EXPECT_TRUE(read.end_of_channel) << "channel " << i;
    EXPECT_EQ(read.end_markers, 1);
    ASSERT_EQ(read.frames.size(), expected[i]) << output;
    for (std::size_t f = 0; f < read.frames.size(); ++f) {
      EXPECT_EQ(read.frames[f].stream, i) << "stream " << i << " arrived only in its own channel";
      EXPECT_EQ(read.frames[f].frame, f);
    }
  }
  EXPECT_FALSE(std::filesystem::exists(channel_path(base))) << "no channel named NAME itself";
}

TEST(DecodeCli, channel_per_stream_refuses_a_name_whose_stream_channels_would_be_invalid) {
  const std::string base = unique_name("clibad");
  const std::string log = testing::media_dir_path(base + ".log");
  // Valid by itself, but NAME.0 is one character over the limit of 200.
  const std::string name = base + std::string(199 - base.size(), 'x');
  auto cli = start_cli({"decode", media("h264.mp4"), "--channel", name, "--channel-per-stream"}, log);
  EXPECT_EQ(cli->wait(30s), 1);
  const std::string output = slurp(log);
  EXPECT_NE(output.find("stream 0"), std::string::npos) << output;
  EXPECT_NE(output.find(name + ".0"), std::string::npos) << output;
  EXPECT_NE(output.find("at most 200"), std::string::npos) << output;
  EXPECT_FALSE(std::filesystem::exists(channel_path(name + ".0")));
}

}  // namespace
}  // namespace framebus
