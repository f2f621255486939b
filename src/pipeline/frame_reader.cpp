// A reader of the `queue` topology (`framebus read-frames SOURCE --stream N`). Decodes with
// OpenCV (cv::VideoCapture, or cv::imread over a folder of images), as the pipelines framebus
// replaces do, and writes each BGR frame down a pipe.

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "common/clock.hpp"
#include "framebus/pipeline/children.hpp"
#include "pipeline/frame_pipe.hpp"

namespace framebus {
namespace {

using pipeline_detail::FramePipeHeader;
using pipeline_detail::kFramePipeMagic;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;

// The rate MultiDecoder gives image folders by default.
constexpr double kPictureFps = 25.0;

namespace fs = std::filesystem;

bool write_all(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool send_frame(const FrameReaderOptions& a, int fd, cv::Mat frame, std::uint64_t index, std::int64_t pts_us) {
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
  return write_all(fd, &h, sizeof h) && write_all(fd, frame.data, h.bytes);
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

}  // namespace

int run_frame_reader(const FrameReaderOptions& a, int fd) {
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
        if (!send_frame(a, fd, image, index, std::llround(static_cast<double>(index) * 1e6 / kPictureFps)))
          return kExitFailure;
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
      if (!send_frame(a, fd, frame, index, pts_us)) return kExitFailure;
      ++index;
    }
  }
  FramePipeHeader end;
  end.stream = a.stream;
  end.end_of_stream = 1;
  end.frame = index;
  if (!write_all(fd, &end, sizeof end)) return kExitFailure;
  return status;
}

}  // namespace framebus
