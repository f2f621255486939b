#include "classify/preprocess.hpp"

#include <cmath>
#include <cstring>
#include <string>

#include <opencv2/imgproc.hpp>

namespace framebus::detail {
namespace {

tl::unexpected<Error> bad_image(std::string_view image, const std::string& what) {
  return make_error(ErrorCode::invalid_argument, std::string(image) + ": " + what);
}

struct PlaneNeed {
  std::uint32_t count = 0;
  std::array<std::uint64_t, 3> row_bytes{};
};

PlaneNeed planes_needed(const ImageDesc& d) {
  const std::uint64_t w = d.width;
  const std::uint64_t half_w = (w + 1) / 2;
  switch (d.format) {
    case PixelFormat::bgr24:
    case PixelFormat::rgb24:
      return {1, {w * 3, 0, 0}};
    case PixelFormat::gray8:
      return {1, {w, 0, 0}};
    case PixelFormat::nv12:
      return {2, {w, half_w * 2, 0}};
    case PixelFormat::yuv420p:
      return {3, {w, half_w, half_w}};
    case PixelFormat::unknown:
      break;
  }
  return {};
}

// A header over plane `i` (no copy). OpenCV's Mat takes a non-const pointer; it is only read.
cv::Mat plane(const ImageRef& image, std::size_t i, int rows, int cols, int type) {
  auto* p = const_cast<std::byte*>(image.data + image.desc.plane_offset[i]);  // NOLINT: read-only use
  return {rows, cols, type, p, static_cast<std::size_t>(image.desc.stride[i])};
}

}  // namespace

Result<Normalization> make_normalization(const ClassifierOptions& options) {
  Normalization n;
  for (int c = 0; c < 3; ++c) {
    const int colour = options.swap_rb ? c : 2 - c;  // RGB models take R first; BGR models B first
    const float mean = options.mean[static_cast<std::size_t>(colour)];
    const float stdev = options.std[static_cast<std::size_t>(colour)];
    if (!(stdev > 0.0F) || !std::isfinite(stdev) || !std::isfinite(mean)) {
      return make_error(ErrorCode::invalid_argument,
                        "classifier options: std and mean must be finite and std > 0 (got "
                        "mean " +
                            std::to_string(mean) + ", std " + std::to_string(stdev) + " for " + "RGB"[colour] + ")");
    }
    const auto i = static_cast<std::size_t>(c);
    n.scale[i] = 1.0F / (255.0F * stdev);
    n.offset[i] = -mean / stdev;
    n.colour[i] = colour;
  }
  return n;
}

Result<void> check_image(const ImageRef& image, std::string_view what, std::optional<std::size_t> payload_size) {
  const ImageDesc& d = image.desc;
  const PlaneNeed need = planes_needed(d);
  if (need.count == 0) {
    return bad_image(what, "pixel format '" + std::string(to_string(d.format)) +
                               "' is not supported (bgr24, rgb24, gray8, nv12 or yuv420p)");
  }
  if (image.data == nullptr) return bad_image(what, "no pixel data (null pointer)");
  if (d.width == 0 || d.height == 0) {
    return bad_image(what, "empty picture (" + std::to_string(d.width) + "x" + std::to_string(d.height) + ")");
  }
  if (d.width > kMaxImageSide || d.height > kMaxImageSide) {
    return bad_image(what, std::to_string(d.width) + "x" + std::to_string(d.height) + " is larger than " +
                               std::to_string(kMaxImageSide) + " on a side");
  }
  const bool yuv = d.format == PixelFormat::nv12 || d.format == PixelFormat::yuv420p;
  if (yuv && (d.width < 2 || d.height < 2)) {
    return bad_image(what, std::string(to_string(d.format)) + " needs at least 2x2 pixels");
  }
  if (d.plane_count < need.count || d.plane_count > kMaxPlanes) {
    return bad_image(what, std::string(to_string(d.format)) + " has " + std::to_string(need.count) +
                               " planes, the description says " + std::to_string(d.plane_count));
  }
  for (std::uint32_t i = 0; i < need.count; ++i) {
    if (d.stride[i] < need.row_bytes[i]) {
      return bad_image(what, "plane " + std::to_string(i) + " stride " + std::to_string(d.stride[i]) +
                                 " is less than its row of " + std::to_string(need.row_bytes[i]) + " bytes");
    }
  }
  if (payload_size && d.byte_size() > *payload_size) {
    return bad_image(what, "the description needs " + std::to_string(d.byte_size()) + " bytes, the payload has " +
                               std::to_string(*payload_size));
  }
  return {};
}

Result<void> Preprocessor::run(const ImageRef& image, std::size_t index, float* dst) {
  const std::string name = "image " + std::to_string(index);
  if (auto ok = check_image(image, name); !ok) return ok;
  const ImageDesc& d = image.desc;
  const int w = static_cast<int>(d.width);
  const int h = static_cast<int>(d.height);

  // 1. A colour (or gray) view of the picture, in place when it already is one.
  cv::Mat view;
  bool bgr = true;  // channel order of `view` when it has 3 channels
  try {
    switch (d.format) {
      case PixelFormat::bgr24:
        view = plane(image, 0, h, w, CV_8UC3);
        break;
      case PixelFormat::rgb24:
        view = plane(image, 0, h, w, CV_8UC3);
        bgr = false;
        break;
      case PixelFormat::gray8:
        view = plane(image, 0, h, w, CV_8UC1);
        break;
      case PixelFormat::nv12: {
        // OpenCV converts 4:2:0 in whole 2x2 blocks: an odd last row or column is left out.
        const int ew = w & ~1;
        const int eh = h & ~1;
        cv::cvtColorTwoPlane(plane(image, 0, eh, ew, CV_8UC1), plane(image, 1, eh / 2, ew / 2, CV_8UC2), converted_,
                             cv::COLOR_YUV2BGR_NV12);
        view = converted_;
        break;
      }
      case PixelFormat::yuv420p: {
        // cvtColor wants the three planes back to back with no padding: one copy of 1.5 bytes per
        // pixel (the colour conversion itself writes 3).
        const auto ew = static_cast<std::size_t>(w & ~1);
        const auto eh = static_cast<std::size_t>(h & ~1);
        packed_.resize(ew * eh * 3 / 2);
        std::uint8_t* out = packed_.data();
        auto copy_plane = [&](std::size_t i, std::size_t rows, std::size_t cols) {
          const std::byte* src = image.data + d.plane_offset[i];
          for (std::size_t y = 0; y < rows; ++y, out += cols) std::memcpy(out, src + y * d.stride[i], cols);
        };
        copy_plane(0, eh, ew);
        copy_plane(1, eh / 2, ew / 2);
        copy_plane(2, eh / 2, ew / 2);
        const cv::Mat yuv(static_cast<int>(eh * 3 / 2), static_cast<int>(ew), CV_8UC1, packed_.data());
        cv::cvtColor(yuv, converted_, cv::COLOR_YUV2BGR_I420);
        view = converted_;
        break;
      }
      case PixelFormat::unknown:
        break;  // refused by check_image
    }

    // 2. One resize to the model's size (none when the picture already has it).
    if (view.cols != static_cast<int>(width_) || view.rows != static_cast<int>(height_)) {
      cv::resize(view, resized_, cv::Size(static_cast<int>(width_), static_cast<int>(height_)), 0, 0, cv::INTER_LINEAR);
      view = resized_;
    }
  } catch (const cv::Exception& e) {
    return bad_image(name, std::string("OpenCV could not convert it: ") + e.what());
  }

  // 3. One pass: channel order, scale, mean/std, HWC -> CHW.
  const std::size_t plane_size = std::size_t{width_} * height_;
  float* out0 = dst;
  float* out1 = dst + plane_size;
  float* out2 = dst + 2 * plane_size;
  const auto [s0, s1, s2] = norm_.scale;
  const auto [o0, o1, o2] = norm_.offset;
  if (view.channels() == 1) {
    for (int y = 0; y < view.rows; ++y) {
      const std::uint8_t* row = view.ptr<std::uint8_t>(y);
      const std::size_t base = static_cast<std::size_t>(y) * width_;
      for (std::size_t x = 0; x < width_; ++x) {
        const float v = row[x];
        out0[base + x] = v * s0 + o0;
        out1[base + x] = v * s1 + o1;
        out2[base + x] = v * s2 + o2;
      }
    }
    return {};
  }
  // Offset of each model channel's colour within a pixel of `view`.
  std::array<std::size_t, 3> at{};
  for (std::size_t c = 0; c < 3; ++c) at[c] = static_cast<std::size_t>(bgr ? 2 - norm_.colour[c] : norm_.colour[c]);
  for (int y = 0; y < view.rows; ++y) {
    const std::uint8_t* row = view.ptr<std::uint8_t>(y);
    const std::size_t base = static_cast<std::size_t>(y) * width_;
    for (std::size_t x = 0; x < width_; ++x) {
      const std::uint8_t* px = row + 3 * x;
      out0[base + x] = static_cast<float>(px[at[0]]) * s0 + o0;
      out1[base + x] = static_cast<float>(px[at[1]]) * s1 + o1;
      out2[base + x] = static_cast<float>(px[at[2]]) * s2 + o2;
    }
  }
  return {};
}

}  // namespace framebus::detail
