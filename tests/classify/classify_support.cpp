#include "classify/classify_support.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

#include "support/child_process.hpp"

namespace framebus::testing {

std::string tiny_model() { return std::string(FRAMEBUS_TEST_MODEL_DIR) + "/tiny.onnx"; }
std::string tiny_labels() { return std::string(FRAMEBUS_TEST_MODEL_DIR) + "/tiny.txt"; }
std::string full_model() { return std::string(FRAMEBUS_TEST_MODEL_DIR) + "/resnet18.onnx"; }
std::string full_labels() { return std::string(FRAMEBUS_TEST_MODEL_DIR) + "/resnet18.txt"; }
std::string make_model_script() { return std::string(FRAMEBUS_SOURCE_DIR) + "/scripts/make-model"; }

int run_program(const std::vector<std::string>& argv) {
  Child child([&] {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    return 127;
  });
  return child.wait(std::chrono::seconds(300));
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + path);
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "framebus-classify-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

cv::Mat synthetic_bgr(int width, int height, std::uint32_t seed) {
  cv::RNG rng(seed * 7919U + 1U);
  cv::Mat img(height, width, CV_8UC3);
  const double a = rng.uniform(0.0, 3.0);
  const double b = rng.uniform(0.0, 3.0);
  const int base = rng.uniform(0, 255);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      img.at<cv::Vec3b>(y, x) = cv::Vec3b(cv::saturate_cast<uchar>(base + a * x * 255 / width),
                                          cv::saturate_cast<uchar>(255 - b * y * 255 / height),
                                          cv::saturate_cast<uchar>((x * y * (seed % 5 + 1)) % 256));
    }
  }
  for (int i = 0; i < 4; ++i) {
    const cv::Point centre(rng.uniform(0, width), rng.uniform(0, height));
    const cv::Scalar colour(rng.uniform(0, 256), rng.uniform(0, 256), rng.uniform(0, 256));
    if (i % 2 == 0) {
      cv::circle(img, centre, rng.uniform(width / 10 + 1, width / 3 + 2), colour, cv::FILLED);
    } else {
      cv::rectangle(img, cv::Rect(centre.x, centre.y, rng.uniform(4, width / 2 + 5), rng.uniform(4, height / 2 + 5)),
                    colour, cv::FILLED);
    }
  }
  cv::Mat noise(height, width, CV_8UC3);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 24);
  img += noise;
  return img;
}

ImageRef image_ref(const cv::Mat& mat, PixelFormat format) {
  ImageRef ref;
  ref.data = reinterpret_cast<const std::byte*>(mat.data);
  ref.desc.width = static_cast<std::uint32_t>(mat.cols);
  ref.desc.height = static_cast<std::uint32_t>(mat.rows);
  ref.desc.format = format;
  ref.desc.plane_count = 1;
  ref.desc.stride[0] = static_cast<std::uint32_t>(mat.step[0]);
  return ref;
}

ClassifierOptions tiny_options() {
  ClassifierOptions o;
  o.model = tiny_model();
  o.labels = tiny_labels();
  return o;
}

}  // namespace framebus::testing
