// `framebus decode`: the real binary, read by this process. Into one channel NAME, or with
// --channel-per-stream stream i into channel NAME.i; status lines, summary, exit status, and the
// network timeout flags.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "decode/channel_reader.hpp"
#include "decode/net.hpp"
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

TEST(DecodeCli, a_file_decodes_into_the_channel_with_live_status_lines_and_a_summary_and_exit_status_0) {
  const std::string name = unique_name("cliplain");
  const std::string log = testing::media_dir_path(name + ".log");
  const std::string file = media("h264.mp4");
  auto cli = start_cli({"decode", file, "--channel", name, "--group", "g", "--slots", "8", "--slot-size", "2MiB",
                        "--linger", "5", "--status-interval", "0.2"},
                       log);
  std::vector<Consumer> consumers;
  auto consumer = Consumer::open(name, ConsumerOptions{.group = "g", .wait = 30s});
  ASSERT_TRUE(consumer) << consumer.error().message();
  consumers.push_back(std::move(*consumer));
  const auto reads = testing::read_round_robin(consumers, true, 60s);
  const int exit_code = cli->wait(30s);
  const std::string output = slurp(log);
  EXPECT_EQ(exit_code, 0) << output;
  const auto& read = reads[0];
  EXPECT_TRUE(read.end_of_channel);
  EXPECT_EQ(read.end_markers, 1);
  ASSERT_EQ(read.frames.size(), 50U) << output;
  for (std::size_t f = 0; f < read.frames.size(); ++f) EXPECT_EQ(read.frames[f].frame, f);
  // The live status line of stream 0, then the summary: a header and one row per stream.
  EXPECT_NE(output.find("[0] "), std::string::npos) << output;
  for (const char* word : {" fps ", " frames ", " dropped ", " skipped ", " errors "}) {
    EXPECT_NE(output.find(word), std::string::npos) << "the status line shows" << word << ": " << output;
  }
  EXPECT_NE(output.find("stream  state         frames  dropped  skipped  errors  reconnects  source"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("     0  eof               50        0        0       0           0  " + file),
            std::string::npos)
      << output;
}

TEST(DecodeCli, connect_timeout_ends_a_stream_whose_server_never_answers_well_before_the_default) {
  testing::SilentServer silent;
  const std::string name = unique_name("clitimeout");
  const std::string log = testing::media_dir_path(name + ".log");
  const std::string url = "http://127.0.0.1:" + std::to_string(silent.port()) + "/cam";
  const auto start = std::chrono::steady_clock::now();
  auto cli = start_cli(
      {"decode", url, "--channel", name, "--connect-timeout", "0.5", "--linger", "0", "--status-interval", "0.1"}, log);
  const int exit_code = cli->wait(30s);
  const auto took = std::chrono::steady_clock::now() - start;
  const std::string output = slurp(log);
  EXPECT_EQ(exit_code, 1) << "the stream ended in error: " << output;
  EXPECT_GE(took, 450ms) << "it waited for the connection";
  EXPECT_LT(took, 4s) << "the default connect timeout is 5 s";
  EXPECT_NE(output.find("timed out"), std::string::npos) << output;
  EXPECT_NE(output.find(url), std::string::npos) << output;
}

TEST(DecodeCli, timeouts_must_be_positive) {
  const std::string name = unique_name("clibadtimeout");
  const std::string log = testing::media_dir_path(name + ".log");
  auto cli = start_cli({"decode", media("h264.mp4"), "--channel", name, "--read-timeout", "0"}, log);
  EXPECT_EQ(cli->wait(30s), 2) << "a usage error";
  const std::string output = slurp(log);
  EXPECT_NE(output.find("--read-timeout"), std::string::npos) << output;
  EXPECT_FALSE(std::filesystem::exists(channel_path(name)));
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
