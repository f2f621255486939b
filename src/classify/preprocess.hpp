#pragma once
// Turning frames into the model's input tensor: each picture is read in place (a cv::Mat header
// over the slot memory, strides honoured), converted to colour if it is YUV, resized once to the
// model's size, then one loop reorders the channels, scales to [0, 1], applies mean and std and
// writes the planes (HWC -> CHW) straight into the batch tensor.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "framebus/classify/classifier.hpp"

namespace framebus::detail {

/// The input size used when neither the options nor the model give one (ImageNet models' size).
inline constexpr std::uint32_t kDefaultInputSize = 224;
/// Largest accepted width or height (OpenCV sizes are ints; no video frame comes near).
inline constexpr std::uint32_t kMaxImageSide = 1U << 15U;

/// What the loop computes per model channel c: value = pixel(colour of c) * scale[c] + offset[c].
struct Normalization {
  std::array<float, 3> scale{};
  std::array<float, 3> offset{};
  /// Colour of each model channel: 0 = R, 1 = G, 2 = B.
  std::array<int, 3> colour{};
};

/// From ClassifierOptions' mean, std and swap_rb; invalid_argument for a std that is not > 0.
Result<Normalization> make_normalization(const ClassifierOptions& options);

/// Checks that `image` describes a picture that can be read: data, size, format, plane count and
/// strides, and (when `payload_size` is given) that every plane lies within the payload.
/// invalid_argument starting with `what` ("image 3") and naming the fault.
Result<void> check_image(const ImageRef& image, std::string_view what, std::optional<std::size_t> payload_size = {});

/// Writes images into a batch tensor. Keeps its scratch pictures between calls.
class Preprocessor {
 public:
  Preprocessor(Normalization norm, std::uint32_t width, std::uint32_t height)
      : norm_(norm), width_(width), height_(height) {}

  /// Writes the 3 x height x width planes of `image` (checked with check_image first) at `dst`.
  Result<void> run(const ImageRef& image, std::size_t index, float* dst);

  [[nodiscard]] std::size_t floats_per_image() const noexcept { return std::size_t{3} * width_ * height_; }

 private:
  Normalization norm_;
  std::uint32_t width_;
  std::uint32_t height_;
  cv::Mat converted_;  // colour version of a YUV picture
  cv::Mat resized_;
  std::vector<std::uint8_t> packed_;  // yuv420p planes made contiguous for cv::cvtColor
};

}  // namespace framebus::detail
