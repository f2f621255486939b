// A debug run behaves like a normal run: FFmpeg's log level raised to trace
// (FRAMEBUS_FFMPEG_LOG) changes what FFmpeg writes to stderr, never the frames, ids, pts or counts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <sstream>

#include "decode/rig.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::media;

std::uint64_t fnv1a(std::span<const std::byte> bytes) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (std::byte b : bytes) hash = (hash ^ static_cast<std::uint64_t>(b)) * 1099511628211ULL;
  return hash;
}

// Decodes the same sources each time (a video with B-frames, another codec, a folder with broken
// pictures, a corrupted video with tolerated errors) and describes everything that came out: one
// line per frame (stream, id, pts, flags, geometry, a hash of the pixels), then each status.
// Empty when the run went wrong (the caller's check then fails).
std::vector<std::string> decode_and_describe(const std::string& tag) {
  const auto name = testing::unique_name(tag);
  auto decoder = MultiDecoder::create(name, testing::decoder_channel());
  if (!decoder) return {"create: " + decoder.error().message()};
  auto consumer = Consumer::open(name);
  if (!consumer) return {"open: " + consumer.error().message()};
  StreamOptions tolerant;
  tolerant.max_decode_errors = 1000;
  tolerant.threads = 1;  // which damaged frames count as errors is then fixed by the bytes alone
  std::vector<std::uint32_t> ids;
  for (const auto& [source, options] :
       {std::pair{media("h264.mp4"), StreamOptions{}}, std::pair{media("hevc.mkv"), StreamOptions{}},
        std::pair{media("images"), StreamOptions{}}, std::pair{media("corrupt.mp4"), tolerant}}) {
    auto id = decoder->add_stream(source, options);
    if (!id) return {"add_stream: " + id.error().message()};
    ids.push_back(*id);
  }
  std::map<std::uint32_t, std::vector<std::string>> lines;
  std::size_t ended = 0;
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  while (ended < ids.size() && std::chrono::steady_clock::now() < deadline) {
    auto received = consumer->receive(100ms);
    if (!received || received->status == Received::Status::end_of_channel) break;
    if (!received->has_message()) continue;
    const Message& s = received->message;
    std::ostringstream line;
    if (s.is_end_of_stream()) {
      ++ended;
      line << "end " << s.stream() << ' ' << s.frame();
    } else {
      line << s.stream() << ' ' << s.frame() << ' ' << s.pts() << ' ' << s.flags() << ' ' << s.image().width << 'x'
           << s.image().height << ' ' << fnv1a(s.data());
    }
    lines[s.stream()].push_back(line.str());
  }
  if (ended < ids.size() || !decoder->wait(20s)) return {};
  std::vector<std::string> out;
  for (auto& [stream, list] : lines) out.insert(out.end(), list.begin(), list.end());
  for (const auto& st : decoder->statuses()) {
    std::ostringstream line;
    line << "status " << st.id << ' ' << to_string(st.state) << ' ' << st.decoded << ' ' << st.published << ' '
         << st.dropped << ' ' << st.skipped << ' ' << st.decode_errors << ' ' << st.passes << ' ' << st.message;
    out.push_back(line.str());
  }
  return out;
}

TEST(DecodeLog, a_run_with_ffmpeg_logging_at_trace_gives_exactly_the_frames_of_a_normal_run) {
  const std::string base = testing::media_dir_path("trace-" + std::to_string(::getpid()));
  const std::string result_path = base + ".lines";
  const std::string stderr_path = base + ".stderr";
  for (const char* name : {"h264.mp4", "hevc.mkv", "images", "corrupt.mp4"}) (void)media(name);  // made once, here
  // The traced run is a child of its own: the level is process-wide, and its stderr goes to a
  // file, both to keep the test log short and to check that FFmpeg really logged at trace.
  testing::Child traced([&] {
    const int fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::dup2(fd, STDERR_FILENO) < 0) return 10;
    ::close(fd);
    ::setenv("FRAMEBUS_FFMPEG_LOG", "trace", 1);
    const auto lines = decode_and_describe("traced");
    std::ofstream out(result_path);
    for (const auto& line : lines) out << line << '\n';
    return out ? 0 : 11;
  });
  const auto normal = decode_and_describe("normal");
  ASSERT_EQ(traced.wait(120s), 0) << "10: stderr, 11: writing the result";

  std::vector<std::string> traced_lines;
  {
    std::ifstream in(result_path);
    for (std::string line; std::getline(in, line);) traced_lines.push_back(line);
  }
  const std::string log = testing::read_text(stderr_path);
  std::filesystem::remove(result_path);
  std::filesystem::remove(stderr_path);

  ASSERT_GT(normal.size(), 50U + 30U + 5U) << "the normal run decoded every source";
  EXPECT_EQ(traced_lines, normal);
  // A line FFmpeg writes only at debug level and above.
  EXPECT_NE(log.find("avformat_find_stream_info()"), std::string::npos) << "FFmpeg logged at trace";
}

TEST(DecodeLog, an_unknown_ffmpeg_log_level_is_refused_naming_the_variable) {
  testing::Child child([] {
    ::setenv("FRAMEBUS_FFMPEG_LOG", "loud", 1);
    auto decoder = MultiDecoder::create(testing::unique_name("badlog"), testing::decoder_channel());
    if (decoder) return 10;
    if (decoder.error().code() != ErrorCode::invalid_argument) return 11;
    if (decoder.error().message().find("FRAMEBUS_FFMPEG_LOG='loud'") == std::string::npos) return 12;
    return 0;
  });
  EXPECT_EQ(child.wait(30s), 0) << "10: created, 11: code, 12: message";
}

}  // namespace
}  // namespace framebus
