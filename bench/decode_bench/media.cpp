#include "media.hpp"

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <stdexcept>
#include <system_error>

#include "process.hpp"

namespace framebus::bench {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "decode_bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("cannot create a temporary directory " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ignored;  // a destructor must not throw; a leftover is the worst outcome
  std::filesystem::remove_all(path_, ignored);
}

Media generate_media(const std::filesystem::path& dir, std::uint32_t frames, std::chrono::seconds timeout) {
  Media media;
  media.video_frames = frames;
  const std::string count = std::to_string(frames);
  // Different patterns and noise seeds per stream: identical streams would share cache-hot
  // content and flatter both systems alike. The temporal noise gives a camera-like bitrate,
  // so decoding costs what real footage costs rather than what a static test card costs.
  const std::array<const char*, kVideoStreams> patterns{"testsrc2", "testsrc", "testsrc2", "testsrc"};
  std::vector<std::vector<std::string>> commands;
  for (std::uint32_t i = 0; i < kVideoStreams; ++i) {
    // Appending instead of `"s" + std::to_string(i)` sidesteps GCC 12's false -Wrestrict.
    std::string name = "s";
    name += std::to_string(i);
    name += ".mp4";
    std::string noise = "noise=alls=8:allf=t:all_seed=";
    noise += std::to_string(i + 1);
    const std::string file = (dir / name).string();
    media.videos.push_back(file);
    commands.push_back({"ffmpeg",   "-v",       "error",
                        "-nostdin", "-y",       "-f",
                        "lavfi",    "-i",       std::string(patterns[i]) + "=size=1920x1080:rate=25",
                        "-vf",      noise,      "-frames:v",
                        count,      "-c:v",     "libx264",
                        "-preset",  "veryfast", "-pix_fmt",
                        "yuv420p",  file});
  }
  const auto image_dir = dir / "images";
  std::filesystem::create_directory(image_dir);
  media.image_dir = image_dir.string();
  media.image_pattern = (image_dir / "img_%03d.jpg").string();
  media.image_count = kImageCount;
  commands.push_back({"ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25",
                      "-frames:v", std::to_string(kImageCount), media.image_pattern});
  // All encodes at once: the machine's cores are the limit either way, and this is set-up time.
  const auto outcome = run_all(commands, timeout);
  if (!outcome.ok) throw std::runtime_error("generating the media failed: " + outcome.error);
  return media;
}

}  // namespace framebus::bench
