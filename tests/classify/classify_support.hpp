#pragma once
// What the classifier tests share: the generated models, temporary files, synthetic pictures,
// and a runner for the model generator.

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "framebus/classify/classifier.hpp"

namespace framebus::testing {

/// The models written by the ctest fixture (scripts/make-model) into the build tree:
/// tiny: ResNet-18 of width 8, 10 classes, 64x64; full: the real ResNet-18, 1000 classes, 224x224.
std::string tiny_model();
std::string tiny_labels();
std::string full_model();
std::string full_labels();
/// scripts/make-model in the source tree.
std::string make_model_script();

/// Runs `argv` (argv[0] a path) in a child process; its exit status, -1 after 300 s.
int run_program(const std::vector<std::string>& argv);
/// The whole file as bytes (empty if unreadable).
std::string slurp(const std::string& path);
/// Writes `bytes` to `path`.
void write_bytes(const std::string& path, const std::string& bytes);

/// A fresh directory under /tmp, removed with everything in it by the destructor.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// A BGR picture that differs with `seed`: a colour gradient, a few filled shapes, some noise.
cv::Mat synthetic_bgr(int width, int height, std::uint32_t seed);

/// An ImageRef over a cv::Mat of 8-bit pixels (one plane, its step as stride).
ImageRef image_ref(const cv::Mat& mat, PixelFormat format);

/// Options for the tiny model with its labels.
ClassifierOptions tiny_options();

}  // namespace framebus::testing
