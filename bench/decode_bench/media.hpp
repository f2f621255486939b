#pragma once
// The benchmark's input media, generated at start with the ffmpeg CLI so that the run depends on
// no checked-in files and every machine decodes exactly the same content.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace framebus::bench {

/// A private temporary directory, removed with everything in it when this object dies (also when
/// the run fails), so a benchmark never leaves its media behind.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

struct Media {
  std::vector<std::string> videos;  ///< H.264 1080p files, one per stream.
  std::uint32_t video_frames = 0;   ///< Frames in each video.
  std::string image_dir;            ///< Folder of JPEG images only (MultiDecoder reads folders).
  std::string image_pattern;        ///< The same images as an ffmpeg image2 pattern.
  std::uint32_t image_count = 0;
};

inline constexpr std::uint32_t kVideoStreams = 4;
inline constexpr std::uint32_t kImageCount = 100;

/// Encodes the videos and images into `dir`. Throws std::runtime_error naming the failed command.
Media generate_media(const std::filesystem::path& dir, std::uint32_t frames, std::chrono::seconds timeout);

}  // namespace framebus::bench
