// framebus read-frames SOURCE --stream N: a reader of the `queue` baseline of `framebus run`.
// Decodes with OpenCV (cv::VideoCapture, or cv::imread over a folder of images), as the
// pipelines framebus replaces do, and writes each BGR frame down stdout.

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "commands.hpp"
#include "common/clock.hpp"
#include "run/frame_pipe.hpp"

namespace framebus::cli {
namespace {

// The rate MultiDecoder gives image folders by default.
constexpr double kPictureFps = 25.0;

namespace fs = std::filesystem;

struct ReaderArgs {
  std::string source;
  std::uint32_t stream = 0;
  std::uint32_t loop = 1;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
};

bool write_all(const void* data, std::size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(STDOUT_FILENO, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool send_frame(const ReaderArgs& a, cv::Mat frame, std::uint64_t index, std::int64_t pts_us) {
  if (a.width && a.height) cv::resize(frame, frame, cv::Size(static_cast<int>(a.width), static_cast<int>(a.height)));
  if (!frame.isContinuous()) frame = frame.clone();
  FramePipeHeader h;
  h.stream = a.stream;
  h.width = static_cast<std::uint32_t>(frame.cols);
  h.height = static_cast<std::uint32_t>(frame.rows);
  h.frame = index;
  h.pts_us = pts_us;
  h.published_ns = detail::monotonic_ns();
  h.bytes = frame.total() * frame.elemSize();
  return write_all(&h, sizeof h) && write_all(frame.data, h.bytes);
}

std::vector<std::string> image_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    auto ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

int read_frames(const ReaderArgs& a) {
  std::uint64_t index = 0;
  std::int64_t last_pts_us = -1;
  int status = kExitOk;
  for (std::uint32_t pass = 0; pass < std::max(1U, a.loop); ++pass) {
    std::error_code ec;
    if (fs::is_directory(a.source, ec)) {
      for (const auto& file : image_files(a.source)) {
        cv::Mat image = cv::imread(file, cv::IMREAD_COLOR);
        if (image.empty()) {
          std::cerr << "framebus read-frames: cannot decode image '" << file << "'\n";
          continue;
        }
        // Pictures are timed as MultiDecoder times them: 25 per second, on across passes.
        if (!send_frame(a, image, index, std::llround(static_cast<double>(index) * 1e6 / kPictureFps))) return kExitFailure;
        ++index;
      }
      continue;
    }
    cv::VideoCapture capture(a.source);
    if (!capture.isOpened()) {
      std::cerr << "framebus read-frames: cannot open '" << a.source << "'\n";
      status = kExitFailure;
      break;
    }
    const double fps = capture.get(cv::CAP_PROP_FPS);
    const std::int64_t frame_us = fps > 0 ? std::llround(1e6 / fps) : 1;
    cv::Mat frame;
    while (capture.read(frame)) {
      auto pts_us = static_cast<std::int64_t>(capture.get(cv::CAP_PROP_POS_MSEC) * 1000.0);
      // OpenCV's FFmpeg backend says 0 for the last frames of a file (those drained from the
      // decoder), and each pass starts again from 0: go on from the previous frame instead, as
      // MultiDecoder's pts do, so that pts increase along the stream.
      if (last_pts_us >= 0 && pts_us <= last_pts_us) pts_us = last_pts_us + frame_us;
      last_pts_us = pts_us;
      if (!send_frame(a, frame, index, pts_us)) return kExitFailure;
      ++index;
    }
  }
  FramePipeHeader end;
  end.stream = a.stream;
  end.end_of_stream = 1;
  end.frame = index;
  if (!write_all(&end, sizeof end)) return kExitFailure;
  return status;
}

}  // namespace

void add_read_frames_command(CLI::App& app, int& status) {
  auto a = std::make_shared<ReaderArgs>();
  CLI::App* cmd = app.add_subcommand("read-frames", "Decode a source with OpenCV and write its frames to stdout (the queue baseline of 'run').");
  cmd->group("");  // internal: started by `framebus run --topology queue`
  cmd->add_option("source", a->source, "Video file, URL or image folder")->required();
  cmd->add_option("--stream", a->stream, "Stream number written with each frame");
  cmd->add_option("--loop", a->loop, "Passes over the source");
  cmd->add_option("--width", a->width, "Output width (with --height)");
  cmd->add_option("--height", a->height, "Output height (with --width)");
  cmd->callback([a, &status] { status = read_frames(*a); });
}

}  // namespace framebus::cli
