#pragma once
// Converts decoded frames, once, by swscale, straight into a loaned channel slot: the
// destination pointers of sws_scale are the loan's planes, so no intermediate picture exists.

#include <cstdint>
#include <span>

#include "decode/ffmpeg.hpp"
#include "framebus/error.hpp"
#include "framebus/message.hpp"

namespace framebus::detail {

/// swscale flags used for every conversion: ffmpeg's own default (bicubic), so a frame is
/// byte-for-byte what `ffmpeg -i FILE -pix_fmt bgr24` gives, and swscale keeps its fast
/// YUV-to-RGB paths (accurate rounding and full chroma interpolation cost about 2.5x here).
inline constexpr int kSwsFlags = SWS_BICUBIC;

/// The FFmpeg pixel format of an output format; AV_PIX_FMT_NONE for PixelFormat::unknown.
AVPixelFormat to_av_pixel_format(PixelFormat format) noexcept;

/// One stream's converter. Thread-compatible (one decode thread uses it).
class Converter {
 public:
  /// Output `format`; `width`/`height` 0 take the frame's own (one of them 0 keeps the aspect).
  Converter(PixelFormat format, std::uint32_t width, std::uint32_t height) noexcept
      : format_(format), width_(width), height_(height) {}

  /// The packed output geometry for `frame`.
  [[nodiscard]] ImageDesc describe(const AVFrame& frame) const noexcept;
  /// Writes `frame` converted as `desc` into `out` (at least desc.byte_size() bytes).
  Result<void> convert(const AVFrame& frame, const ImageDesc& desc, std::span<std::byte> out);

 private:
  Result<void> prepare(const AVFrame& frame, const ImageDesc& desc);

  PixelFormat format_;
  std::uint32_t width_;
  std::uint32_t height_;
  SwsContextPtr sws_;
  // What sws_ was set up for: a new context only when the input or output changes.
  int src_width_ = 0, src_height_ = 0, src_format_ = -1, src_range_ = -1, src_space_ = -1;
  std::uint32_t dst_width_ = 0, dst_height_ = 0;
};

}  // namespace framebus::detail
