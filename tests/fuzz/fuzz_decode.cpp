// Fuzz target: the decoder's sources opened on arbitrary bytes.
//
// Each input is written twice, as a video file (input.mp4) and as the only picture of an image
// folder (images/frame.jpg, .png or .bmp, chosen by byte 0), and a MultiDecoder decodes both
// into a channel that this process drains. Every stream must end, within a bound, in `eof`
// (something decoded) or `error` (with a message naming the source), and send its end-of-stream
// marker; a crash, a sanitizer report or a stream that does not finish is a bug. FFmpeg itself is
// not instrumented: what is fuzzed is framebus's handling of whatever FFmpeg makes of the bytes.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

extern "C" {
#include <libavutil/log.h>
}

#include "framebus/framebus.hpp"

namespace {

using namespace framebus;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Generous for a few KiB of input on a loaded 2-core machine under ASan; a stream still running
// after this is taken for a hang.
constexpr auto kStreamBound = 30s;

std::filesystem::path g_dir;
std::optional<MultiDecoder> g_decoder;
std::optional<Consumer> g_consumer;

void write_file(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) std::abort();
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_decode: %s\n", what.c_str());
  std::abort();
}

void cleanup() {
  g_consumer.reset();
  g_decoder.reset();
  std::error_code ignored;
  std::filesystem::remove_all(g_dir, ignored);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  av_log_set_level(AV_LOG_QUIET);  // every input is a broken file: FFmpeg would say so each time
  // scripts/fuzz names the run (FRAMEBUS_FUZZ_TAG) so that it can clean up after a crash.
  const char* tag = std::getenv("FRAMEBUS_FUZZ_TAG");
  const std::string name = "fuzz-decode-" + (tag != nullptr ? std::string(tag) : std::to_string(::getpid()));
  g_dir = std::filesystem::temp_directory_path() / ("framebus-" + name);
  std::filesystem::create_directories(g_dir / "images");
  ProducerOptions po;
  po.slots = 4;
  po.slot_size = 1ULL << 20;
  po.block_timeout = 10s;
  po.linger = 1s;
  auto decoder = MultiDecoder::create(name, po);
  if (!decoder) fail("MultiDecoder::create: " + decoder.error().message());
  g_decoder.emplace(std::move(*decoder));
  auto consumer = Consumer::open(name);
  if (!consumer) fail("Consumer::open: " + consumer.error().message());
  g_consumer.emplace(std::move(*consumer));
  std::atexit(cleanup);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* const kImageNames[] = {"frame.jpg", "frame.png", "frame.bmp"};
  const auto video = g_dir / "input.mp4";
  const auto images = g_dir / "images";
  for (const auto& entry : std::filesystem::directory_iterator(images)) std::filesystem::remove(entry.path());
  write_file(video, data, size);
  // The picture's name follows its magic number, so that seeds are read as what they are.
  std::size_t kind = data[0] % 3;
  if (size >= 2 && data[0] == 0xFF && data[1] == 0xD8) kind = 0;
  if (size >= 2 && data[0] == 0x89 && data[1] == 'P') kind = 1;
  if (size >= 2 && data[0] == 'B' && data[1] == 'M') kind = 2;
  write_file(images / kImageNames[kind], data, size);

  StreamOptions options;
  options.max_decode_errors = 3;
  if ((data[0] & 4) == 0) {
    // Small output most of the time; otherwise the source's own size, which may not fit a slot.
    options.width = 64;
    options.height = 48;
  }
  auto video_id = g_decoder->add_stream(video.string(), options);
  auto images_id = g_decoder->add_stream(images.string(), options);
  if (!video_id || !images_id) fail("add_stream refused a file path");

  // Drain the channel while the streams run, so that back-pressure never stalls them.
  const auto deadline = Clock::now() + kStreamBound;
  for (;;) {
    auto got = g_consumer->receive(20ms);
    if (!got) fail("receive: " + got.error().message());
    if (got->has_message()) {
      const Message& s = got->message;
      if (!s.is_end_of_stream() && s.image().byte_size() > s.size()) fail("an image larger than its payload");
      continue;
    }
    const auto a = g_decoder->status(*video_id);
    const auto b = g_decoder->status(*images_id);
    if (!a || !b) fail("status of a stream that was not removed");
    if (a->finished() && b->finished()) {
      for (const StreamStatus* st : {&*a, &*b}) {
        if (st->state == StreamState::error && st->message.empty()) fail("an error without a message: " + st->source);
      }
      break;
    }
    if (Clock::now() > deadline) {
      fail("a stream did not finish within " + std::to_string(kStreamBound.count()) + " s: " + a->source + " is " +
           std::string(to_string(a->state)) + ", " + b->source + " is " + std::string(to_string(b->state)));
    }
  }
  (void)g_decoder->remove_stream(*video_id);
  (void)g_decoder->remove_stream(*images_id);
  // The end-of-stream markers and anything still queued.
  while (auto more = g_consumer->receive(Duration::zero())) {
    if (!more->has_message()) break;
  }
  return 0;
}
