#pragma once
// Test media made at test time with the ffmpeg command-line tool, and a reader that collects what
// a MultiDecoder publishes through a real Consumer.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "framebus/framebus.hpp"

namespace framebus::testing {

/// The folder of generated media (created on first use; shared by the test processes of one
/// build, each file made once and renamed into place so parallel tests never see half a file).
const std::string& media_dir();

/// The path of a named test file, generated if missing:
///   h264.mp4 (320x240, 25 fps, 50 frames), hevc.mkv, mpeg4.avi, vp9.webm, mjpeg.avi (30 frames),
///   long.mp4 (640x480, 150 frames), truncated.mp4 (first 40% of long.mp4, whose index is at
///   its end, so it cannot be opened), faststart.mp4 (long.mp4 with its index first),
///   cut_in_half.mp4 (first half of faststart.mp4: it opens, then ends early), corrupt.mp4
///   (long.mp4 with garbage over its middle), text.mp4 (a text file), images/ (a folder: 5 good
///   pictures of sizes 64x48, 80x60, 96x72, 112x84, 128x96 as PNG, JPEG, BMP, PNG, JPEG, plus
///   broken.png and empty.jpg placed between them by name).
std::string media(const std::string& name);

/// `ffmpeg -i <file> -pix_fmt <fmt> [-s WxH] -f rawvideo` (ffmpeg's default conversion), read back.
std::vector<std::uint8_t> reference_raw(const std::string& file, const std::string& pix_fmt, int frames,
                                        const std::string& size = "");

/// A path inside media_dir() (nothing is generated).
inline std::string media_dir_path(const std::string& name) { return media_dir() + "/" + name; }

/// Runs a shell command; its exit status.
int run_shell(const std::string& command);

/// A received message, with a copy of its payload when asked for.
struct Frame {
  std::uint32_t stream = 0;
  std::uint64_t frame = 0;
  std::int64_t pts = 0;
  std::uint32_t flags = 0;
  ImageDesc image{};
  std::vector<std::uint8_t> bytes;
};

/// What a consumer saw per stream, until every expected stream sent its end-of-stream marker.
struct Collected {
  std::map<std::uint32_t, std::vector<Frame>> frames;
  std::map<std::uint32_t, int> end_markers;
  /// The frame count each stream's end-of-stream marker carried.
  std::map<std::uint32_t, std::uint64_t> end_frame_count;
  bool complete = false;  ///< Every expected marker arrived before the deadline.
};

/// Receives until each of `streams` has sent its end-of-stream marker or `limit` passes.
/// Payloads of the first `keep_bytes` frames per stream are copied.
Collected collect(Consumer& consumer, const std::vector<std::uint32_t>& streams,
                  std::chrono::milliseconds limit = std::chrono::seconds(60), std::size_t keep_bytes = 0);

/// Options of a small test channel (8 slots of 2 MiB, short linger).
ProducerOptions decoder_channel();

/// Waits (bounded) until the decoder's stream reaches a state satisfying `pred`.
template <typename Pred>
bool wait_for_status(MultiDecoder& decoder, std::uint32_t id, Pred pred,
                     std::chrono::milliseconds limit = std::chrono::seconds(30));

}  // namespace framebus::testing

#include <thread>
template <typename Pred>
bool framebus::testing::wait_for_status(MultiDecoder& decoder, std::uint32_t id, Pred pred,
                                        std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto status = decoder.status(id);
    if (status && pred(*status)) return true;
    // Polling a condition with a bound, not sleeping for synchronisation.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}
