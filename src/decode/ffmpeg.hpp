#pragma once
// The FFmpeg C API seen from C++: owning pointers that free each object with its own function,
// error codes as named constants, and error text. Every other decode file includes FFmpeg here.

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include <cstdint>
#include <memory>
#include <string>

#include "framebus/error.hpp"

namespace framebus::detail {

// AVERROR_EOF and AVERROR(EAGAIN) expand to C casts; name them once here.
inline const int kAvEof = AVERROR_EOF;
inline const int kAvAgain = AVERROR(EAGAIN);
inline const int kAvExit = AVERROR_EXIT;
inline const std::int64_t kNoPts = AV_NOPTS_VALUE;
/// Microseconds, the unit of MessageMeta::pts.
inline constexpr AVRational kMicroseconds{1, 1000000};

/// av_strerror's text for an FFmpeg error code, e.g. "Invalid data found when processing input".
std::string av_error_text(int code);

/// The environment variable that sets FFmpeg's log level (see apply_ffmpeg_log_level()).
inline constexpr const char* kFfmpegLogVariable = "FRAMEBUS_FFMPEG_LOG";

/// Sets FFmpeg's process-wide log level from FRAMEBUS_FFMPEG_LOG (quiet, panic, fatal, error,
/// warning, info, verbose, debug or trace); unset or empty leaves the level as it is, so a host
/// program's own av_log_set_level() stands. An unknown name is ErrorCode::invalid_argument.
Result<void> apply_ffmpeg_log_level();

struct FormatContextClose {
  void operator()(AVFormatContext* ctx) const noexcept { avformat_close_input(&ctx); }
};
struct CodecContextFree {
  void operator()(AVCodecContext* ctx) const noexcept { avcodec_free_context(&ctx); }
};
struct FrameFree {
  void operator()(AVFrame* frame) const noexcept { av_frame_free(&frame); }
};
struct PacketFree {
  void operator()(AVPacket* packet) const noexcept { av_packet_free(&packet); }
};
struct SwsFree {
  void operator()(SwsContext* ctx) const noexcept { sws_freeContext(ctx); }
};
struct DictionaryFree {
  void operator()(AVDictionary* dict) const noexcept { av_dict_free(&dict); }
};

using FormatContextPtr = std::unique_ptr<AVFormatContext, FormatContextClose>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextFree>;
using FramePtr = std::unique_ptr<AVFrame, FrameFree>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFree>;
using SwsContextPtr = std::unique_ptr<SwsContext, SwsFree>;

/// Calls `unref` on an FFmpeg object when the scope ends, whichever way it leaves: a frame when a
/// decode pass is over, a packet once it has been handed to the decoder (or skipped).
template <typename T, void (*unref)(T*)>
class ScopedUnref {
 public:
  explicit ScopedUnref(T* object) noexcept : object_(object) {}
  ScopedUnref(const ScopedUnref&) = delete;
  ScopedUnref& operator=(const ScopedUnref&) = delete;
  ~ScopedUnref() { unref(object_); }

 private:
  T* object_;
};
using FrameUnref = ScopedUnref<AVFrame, av_frame_unref>;
using PacketUnref = ScopedUnref<AVPacket, av_packet_unref>;

}  // namespace framebus::detail
