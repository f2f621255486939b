#include "decode/media.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>

namespace framebus::testing {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFfmpeg = "ffmpeg -nostdin -hide_banner -v error -y ";

bool exists(const std::string& path) { return fs::exists(path); }

std::string tmp_name(const std::string& path) { return path + ".tmp" + std::to_string(::getpid()); }

void check(int rc, const std::string& what) {
  if (rc != 0) throw std::runtime_error("making test media failed: " + what);
}

// Encodes `frames` frames of testsrc with `codec_args` into `path`, atomically.
void encode(const std::string& path, const std::string& size, int frames, const std::string& codec_args,
            const std::string& container_ext) {
  const std::string tmp = tmp_name(path) + container_ext;
  const std::string cmd = std::string(kFfmpeg) + "-f lavfi -i testsrc=size=" + size + ":rate=25 -frames:v " +
                          std::to_string(frames) + " " + codec_args + " '" + tmp + "'";
  check(run_shell(cmd), cmd);
  fs::rename(tmp, path);
}

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_atomically(const std::string& path, const std::vector<char>& bytes) {
  const std::string tmp = tmp_name(path);
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  fs::rename(tmp, path);
}

void make_images(const std::string& dir) {
  const std::string tmp = tmp_name(dir);
  fs::create_directories(tmp);
  struct Pic {
    const char* name;
    const char* size;
  };
  const Pic pics[] = {
      {"a0.png", "64x48"}, {"a1.jpg", "80x60"}, {"a2.bmp", "96x72"}, {"b0.png", "112x84"}, {"b1.jpg", "128x96"}};
  for (const auto& pic : pics) {
    const std::string cmd = std::string(kFfmpeg) + "-f lavfi -i testsrc=size=" + pic.size + ":rate=1 -frames:v 1 '" +
                            tmp + "/" + pic.name + "'";
    check(run_shell(cmd), cmd);
  }
  // Between the good ones by name: a PNG that is garbage, and an empty JPEG.
  std::vector<char> garbage(1000);
  std::mt19937 rng(7);
  for (auto& c : garbage) c = static_cast<char>(rng());
  write_atomically(tmp + "/a3_broken.png", garbage);
  write_atomically(tmp + "/a4_empty.jpg", {});
  std::error_code ec;
  fs::rename(tmp, dir, ec);  // another process may have won the race: its folder is as good
  if (ec) fs::remove_all(tmp);
}

}  // namespace

int run_shell(const std::string& command) {
  const int rc = std::system(command.c_str());
  return rc == -1 ? -1 : WEXITSTATUS(rc);
}

const std::string& media_dir() {
  static const std::string dir = [] {
    const std::string d = FRAMEBUS_TEST_MEDIA_DIR;
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

std::string media(const std::string& name) {
  static std::recursive_mutex mutex;  // derived media ask for their base
  const std::lock_guard lock(mutex);
  const std::string path = media_dir() + "/" + name;
  if (exists(path)) return path;
  if (name == "h264.mp4") {
    encode(path, "320x240", 50, "-c:v libx264 -pix_fmt yuv420p -preset veryfast", ".mp4");
  } else if (name == "long.mp4") {
    encode(path, "640x480", 150, "-c:v libx264 -pix_fmt yuv420p -preset veryfast -g 25", ".mp4");
  } else if (name == "hevc.mkv") {
    encode(path, "320x240", 30, "-c:v libx265 -pix_fmt yuv420p -preset ultrafast -x265-params log-level=error", ".mkv");
  } else if (name == "mpeg4.avi") {
    encode(path, "320x240", 30, "-c:v mpeg4", ".avi");
  } else if (name == "vp9.webm") {
    encode(path, "320x240", 30, "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 500k", ".webm");
  } else if (name == "mjpeg.avi") {
    encode(path, "320x240", 30, "-c:v mjpeg -q:v 3", ".avi");
  } else if (name == "faststart.mp4") {
    encode(path, "640x480", 150, "-c:v libx264 -pix_fmt yuv420p -preset veryfast -g 25 -movflags +faststart", ".mp4");
  } else if (name == "cut_in_half.mp4") {
    auto bytes = read_all(media("faststart.mp4"));
    bytes.resize(bytes.size() / 2);
    write_atomically(path, bytes);
  } else if (name == "truncated.mp4") {
    auto bytes = read_all(media("long.mp4"));
    bytes.resize(bytes.size() * 4 / 10);
    write_atomically(path, bytes);
  } else if (name == "corrupt.mp4") {
    auto bytes = read_all(media("long.mp4"));
    std::mt19937 rng(42);
    for (std::size_t i = bytes.size() * 3 / 10; i < bytes.size() * 6 / 10; ++i) bytes[i] = static_cast<char>(rng());
    write_atomically(path, bytes);
  } else if (name == "text.mp4") {
    const std::string text = "this is not a video, only text with a .mp4 name\n";
    write_atomically(path, {text.begin(), text.end()});
  } else if (name == "images") {
    make_images(path);
  } else {
    throw std::runtime_error("unknown test media " + name);
  }
  return path;
}

std::vector<std::uint8_t> reference_raw(const std::string& file, const std::string& pix_fmt, int frames,
                                        const std::string& size) {
  const std::string out = media_dir() + "/ref-" + std::to_string(::getpid()) + "-" + pix_fmt + ".raw";
  const std::string cmd = std::string(kFfmpeg) + "-i '" + file + "' -frames:v " + std::to_string(frames) +
                          " -pix_fmt " + pix_fmt + (size.empty() ? "" : " -s " + size) + " -f rawvideo '" + out + "'";
  check(run_shell(cmd), cmd);
  auto bytes = read_all(out);
  fs::remove(out);
  return {bytes.begin(), bytes.end()};
}

Collected collect(Consumer& consumer, const std::vector<std::uint32_t>& streams, std::chrono::milliseconds limit,
                  std::size_t keep_bytes) {
  Collected got;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto all_ended = [&] {
    for (auto id : streams) {
      if (got.end_markers[id] == 0) return false;
    }
    return true;
  };
  while (!all_ended() && std::chrono::steady_clock::now() < deadline) {
    auto received = consumer.receive(std::chrono::milliseconds(100));
    if (!received || received->status == Received::Status::end_of_channel) break;
    if (!received->has_message()) continue;
    const Message& sample = received->message;
    if (sample.is_end_of_stream()) {
      ++got.end_markers[sample.stream()];
      got.end_frame_count[sample.stream()] = sample.frame();
      continue;
    }
    Frame frame;
    frame.stream = sample.stream();
    frame.frame = sample.frame();
    frame.pts = sample.pts();
    frame.flags = sample.flags();
    frame.image = sample.image();
    auto& list = got.frames[frame.stream];
    if (list.size() < keep_bytes) {
      const auto* p = reinterpret_cast<const std::uint8_t*>(sample.data().data());
      frame.bytes.assign(p, p + sample.size());
    }
    list.push_back(std::move(frame));
  }
  got.complete = all_ended();
  return got;
}

ProducerOptions decoder_channel() {
  ProducerOptions options;
  options.slots = 8;
  options.slot_size = 2ULL << 20;
  options.linger = std::chrono::seconds(5);
  return options;
}

}  // namespace framebus::testing
