#include "decode/converter.hpp"

#include <array>
#include <string>

namespace framebus::detail {

namespace {

// The JPEG ("J") formats are the plain YUV formats at full range; swscale wants the plain ones
// and the range said separately.
AVPixelFormat without_jpeg_range(AVPixelFormat format, bool& full_range) noexcept {
  switch (format) {
    case AV_PIX_FMT_YUVJ420P:
      full_range = true;
      return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
      full_range = true;
      return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
      full_range = true;
      return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
      full_range = true;
      return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
      full_range = true;
      return AV_PIX_FMT_YUV411P;
    default:
      return format;
  }
}

std::uint32_t even(double value) noexcept {
  const auto v = static_cast<std::uint32_t>(value + 0.5);
  return v < 2 ? 2 : v & ~1U;
}

}  // namespace

AVPixelFormat to_av_pixel_format(PixelFormat format) noexcept {
  switch (format) {
    case PixelFormat::bgr24:
      return AV_PIX_FMT_BGR24;
    case PixelFormat::rgb24:
      return AV_PIX_FMT_RGB24;
    case PixelFormat::gray8:
      return AV_PIX_FMT_GRAY8;
    case PixelFormat::nv12:
      return AV_PIX_FMT_NV12;
    case PixelFormat::yuv420p:
      return AV_PIX_FMT_YUV420P;
    case PixelFormat::unknown:
      break;
  }
  return AV_PIX_FMT_NONE;
}

ImageDesc Converter::describe(const AVFrame& frame) const noexcept {
  const auto src_w = static_cast<std::uint32_t>(frame.width);
  const auto src_h = static_cast<std::uint32_t>(frame.height);
  std::uint32_t w = width_;
  std::uint32_t h = height_;
  if (w == 0 && h == 0) {
    w = src_w;
    h = src_h;
  } else if (w == 0) {
    w = even(static_cast<double>(src_w) * h / src_h);
  } else if (h == 0) {
    h = even(static_cast<double>(src_h) * w / src_w);
  }
  return ImageDesc::packed(w, h, format_);
}

Result<void> Converter::prepare(const AVFrame& frame, const ImageDesc& desc) {
  bool full_range = frame.color_range == AVCOL_RANGE_JPEG;
  const AVPixelFormat src_format = without_jpeg_range(static_cast<AVPixelFormat>(frame.format), full_range);
  const int space = frame.colorspace;
  if (sws_ && src_width_ == frame.width && src_height_ == frame.height && src_format_ == src_format &&
      src_range_ == static_cast<int>(full_range) && src_space_ == space && dst_width_ == desc.width &&
      dst_height_ == desc.height) {
    return {};
  }
  sws_.reset(sws_getContext(frame.width, frame.height, src_format, static_cast<int>(desc.width),
                            static_cast<int>(desc.height), to_av_pixel_format(format_), kSwsFlags, nullptr, nullptr,
                            nullptr));
  if (!sws_) {
    const char* name = av_get_pix_fmt_name(src_format);
    return make_error(ErrorCode::invalid_argument,
                      std::string("cannot convert ") + (name != nullptr ? name : "an unknown pixel format") + " " +
                          std::to_string(frame.width) + "x" + std::to_string(frame.height) + " to " +
                          std::string(to_string(format_)) + " " + std::to_string(desc.width) + "x" +
                          std::to_string(desc.height));
  }
  // The source's matrix (BT.601 when unspecified, as ffmpeg assumes) and range; YUV outputs
  // stay limited range, RGB outputs are full range by nature.
  // Left alone when both are the defaults, so the pixels are those of the ffmpeg tool.
  const bool default_matrix = space == AVCOL_SPC_UNSPECIFIED || space == AVCOL_SPC_RGB || space == AVCOL_SPC_BT470BG ||
                              space == AVCOL_SPC_SMPTE170M;
  if (full_range || !default_matrix) {
    const int* coefficients = sws_getCoefficients(default_matrix ? SWS_CS_DEFAULT : space);
    (void)sws_setColorspaceDetails(sws_.get(), coefficients, full_range ? 1 : 0, coefficients, 0, 0, 1 << 16, 1 << 16);
  }
  src_width_ = frame.width;
  src_height_ = frame.height;
  src_format_ = src_format;
  src_range_ = static_cast<int>(full_range);
  src_space_ = space;
  dst_width_ = desc.width;
  dst_height_ = desc.height;
  return {};
}

Result<void> Converter::convert(const AVFrame& frame, const ImageDesc& desc, std::span<std::byte> out) {
  if (out.size() < desc.byte_size()) {
    return make_error(ErrorCode::invalid_argument, "converter: the destination is smaller than the image");
  }
  if (auto ok = prepare(frame, desc); !ok) return ok;
  std::array<std::uint8_t*, 4> planes{};
  std::array<int, 4> strides{};
  auto* base = reinterpret_cast<std::uint8_t*>(out.data());
  for (std::uint32_t i = 0; i < desc.plane_count; ++i) {
    planes[i] = base + desc.plane_offset[i];
    strides[i] = static_cast<int>(desc.stride[i]);
  }
  const int rows = sws_scale(sws_.get(), frame.data, frame.linesize, 0, frame.height, planes.data(), strides.data());
  if (rows <= 0) return make_error(ErrorCode::invalid_argument, "sws_scale failed: " + av_error_text(rows));
  return {};
}

}  // namespace framebus::detail
