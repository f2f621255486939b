#include "framebus_run.hpp"

#include <unistd.h>

#include <atomic>
#include <thread>

#include <framebus/channel/admin.hpp>
#include <framebus/channel/consumer.hpp>
#include <framebus/decode/decoder.hpp>

#include "process.hpp"

namespace framebus::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kSlots = 16;
constexpr std::uint64_t kSlotSize = 1920ULL * 1080ULL * 3ULL;  // one 1080p BGR24 frame
constexpr const char* kGroup = "bench";

// Unique per process and per run, so neither a concurrent benchmark nor a leftover of a crashed
// one can ever be joined by mistake.
std::string next_channel_name() {
  static std::atomic<unsigned> counter{0};
  return "decode_bench-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// Removes the channel's shared memory on every exit path; the decoder and consumer handles are
// gone or closed by then, and unlinking a mapped object is harmless for whoever still maps it.
class ChannelGuard {
 public:
  explicit ChannelGuard(std::string name) : name_(std::move(name)) {}
  ~ChannelGuard() { (void)remove_channel(name_); }
  ChannelGuard(const ChannelGuard&) = delete;
  ChannelGuard& operator=(const ChannelGuard&) = delete;

 private:
  std::string name_;
};

struct DrainResult {
  std::string error;
  std::uint64_t frames = 0;
  Clock::time_point last_marker{};
};

// Receives and releases every frame, reading only the header: the consumer must not add a
// copy that ffmpeg's `-f null` sink does not make either.
// `streams` is atomic because the main thread lowers it when an add_stream fails: the drainer
// must then stop waiting for markers that will never come.
void drain(Consumer& consumer, const std::atomic<std::size_t>& streams, Clock::time_point deadline, DrainResult& out) {
  std::size_t markers = 0;
  std::uint64_t checksum = 0;
  while (markers < streams.load()) {
    if (stop_requested()) {
      out.error = "interrupted";
      return;
    }
    if (Clock::now() > deadline) {
      out.error = "consumer timed out after " + std::to_string(markers) + " of " + std::to_string(streams.load()) +
                  " end-of-stream markers and " + std::to_string(out.frames) + " frames";
      return;
    }
    // A short receive timeout lets the loop check the deadline and the stop flag.
    auto received = consumer.receive(std::chrono::milliseconds(200));
    if (!received) {
      out.error = "receive failed: " + received.error().message();
      return;
    }
    if (received->status == Received::Status::end_of_channel) {
      out.error = "channel ended before every end-of-stream marker arrived";
      return;
    }
    if (!received->has_message()) continue;
    Message& sample = received->message;
    if (sample.is_end_of_stream()) {
      ++markers;
      out.last_marker = Clock::now();
    } else {
      checksum += sample.frame() + sample.stream();
      ++out.frames;
    }
    sample.release();
  }
  (void)checksum;  // computed only so the header reads cannot be optimised away
}

}  // namespace

RunResult run_framebus(const std::vector<std::string>& sources, int threads, std::uint64_t expected_frames,
                       std::chrono::seconds timeout) {
  RunResult result;
  const std::string channel = next_channel_name();
  ChannelGuard guard(channel);

  ProducerOptions producer;
  producer.slots = kSlots;
  producer.slot_size = kSlotSize;
  producer.groups = {GroupSpec{kGroup, std::nullopt}};
  // Bounded waits: a consumer that stops taking frames fails the streams instead of hanging them.
  producer.block_timeout = timeout;
  producer.linger = std::chrono::seconds(5);
  auto decoder = MultiDecoder::create(channel, producer);
  if (!decoder) {
    result.error = "MultiDecoder::create: " + decoder.error().message();
    return result;
  }
  ConsumerOptions consumer_options;
  consumer_options.group = kGroup;
  auto consumer = Consumer::open(channel, consumer_options);
  if (!consumer) {
    result.error = "Consumer::open: " + consumer.error().message();
    return result;
  }

  DrainResult drained;
  std::atomic<std::size_t> streams{sources.size()};
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  std::thread drainer([&] { drain(*consumer, streams, deadline, drained); });

  StreamOptions stream;
  stream.threads = threads;
  stream.format = PixelFormat::bgr24;
  std::size_t added = 0;
  for (const auto& source : sources) {
    auto id = decoder->add_stream(source, stream);
    if (!id) {
      result.error = "add_stream(" + source + "): " + id.error().message();
      break;
    }
    ++added;
  }
  if (!result.error.empty()) {
    streams.store(added);
    decoder->stop();  // sends the markers of the streams already running, so the drainer ends
  }
  drainer.join();
  decoder->stop();
  for (const auto& status : decoder->statuses()) {
    if (status.state == StreamState::error && result.error.empty()) {
      result.error = "stream " + status.source + ": " + status.message;
    }
  }
  (void)decoder->close();
  consumer->close();

  if (result.error.empty()) result.error = drained.error;
  if (result.error.empty() && drained.frames != expected_frames) {
    result.error =
        "received " + std::to_string(drained.frames) + " frames, expected " + std::to_string(expected_frames);
  }
  result.frames = drained.frames;
  result.seconds = std::chrono::duration<double>(drained.last_marker - start).count();
  result.ok = result.error.empty();
  return result;
}

}  // namespace framebus::bench
