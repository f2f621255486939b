#pragma once
// Where decoded frames come from. A FrameSource hides whether frames are demuxed and decoded from
// a video file or URL (MediaSource, here) or from a folder of images (image_folder.hpp); the
// stream worker only pulls frames. Every blocking FFmpeg call is bounded by an Interrupter.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "decode/ffmpeg.hpp"
#include "framebus/error.hpp"

namespace framebus::detail {

/// What kind of source a string names.
enum class SourceKind { file, network, image_folder, image_glob };

/// A URL with a scheme (other than file:) is a network source; an existing directory is an image
/// folder; a pattern with * ? or [ that is not an existing file is an image glob.
SourceKind classify_source(const std::string& source);

/// FFmpeg's AVIOInterruptCB for one stream: it fires when the stream is asked to stop, or when the
/// armed deadline passes, so no connect, read or probe can hang forever.
class Interrupter {
 public:
  explicit Interrupter(std::stop_token stop) noexcept : stop_(std::move(stop)) {}
  Interrupter(const Interrupter&) = delete;
  Interrupter& operator=(const Interrupter&) = delete;

  /// The next blocking call must finish within `timeout` (a zero timeout disarms).
  void arm(std::chrono::milliseconds timeout) noexcept;
  void disarm() noexcept { deadline_ns_.store(-1, std::memory_order_relaxed); }
  [[nodiscard]] bool stop_requested() const noexcept { return stop_.stop_requested(); }
  /// True when the last interruption came from the deadline rather than a stop request.
  [[nodiscard]] bool deadline_passed() const noexcept;
  [[nodiscard]] AVIOInterruptCB callback() noexcept { return {&Interrupter::check, this}; }

 private:
  static int check(void* self) noexcept;
  const std::stop_token stop_;  // FFmpeg asks the callback; it cannot be woken otherwise
  std::atomic<std::int64_t> deadline_ns_{-1};
};

/// One pull from a source.
struct Pulled {
  enum class Kind {
    frame,  ///< The frame argument holds a decoded picture; pts_us is set.
    bad,    ///< Something failed to decode and was skipped; `problem` says what.
    end,    ///< No more frames in this pass.
  };
  Kind kind = Kind::end;
  std::int64_t pts_us = 0;
  bool key_frame = false;
  std::optional<Error> problem{};
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  /// Decodes the next frame into `frame` (which the caller unrefs after use). An Error means the
  /// source cannot go on (read failure, timeout, stop request).
  virtual Result<Pulled> next(AVFrame* frame) = 0;
  /// The source's own frame rate; 0 when unknown.
  [[nodiscard]] virtual double native_fps() const noexcept = 0;
  /// Frames in one pass, as far as the source can tell before decoding them; 0 when unknown.
  [[nodiscard]] virtual std::uint64_t frame_count() const noexcept = 0;
};

/// How to open a source.
struct SourceConfig {
  std::string source;
  SourceKind kind = SourceKind::file;
  int threads = 0;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{5000};
  /// Frame rate given to image folders (whose pictures have no time of their own).
  double image_fps = 25.0;
  /// One picture file of an image folder: its name is never read as a numbered-sequence pattern.
  bool single_image = false;
};

/// Opens `config.source` as its kind says.
Result<std::unique_ptr<FrameSource>> open_frame_source(const SourceConfig& config, Interrupter& interrupter);

/// A video file or URL: demuxes the best video stream and decodes it.
class MediaSource final : public FrameSource {
 public:
  static Result<std::unique_ptr<MediaSource>> open(const SourceConfig& config, Interrupter& interrupter);
  Result<Pulled> next(AVFrame* frame) override;
  [[nodiscard]] double native_fps() const noexcept override { return native_fps_; }
  /// The container's frame count, else its duration times the frame rate.
  [[nodiscard]] std::uint64_t frame_count() const noexcept override;

 private:
  MediaSource(const SourceConfig& config, Interrupter& interrupter);
  Result<void> open_input();
  Result<void> find_video_stream();
  Result<void> open_decoder();
  /// Notes whether the file is shorter than its index says (a cut file), see cut_error().
  void measure_index();
  /// The error that ends a cut file once the frames before the cut are out.
  [[nodiscard]] Error cut_error() const;
  /// Reads the next packet of the video stream; false at the end of the input.
  Result<bool> read_video_packet();
  Pulled take_frame(AVFrame* frame);
  Error failure(ErrorCode code, const std::string& step, int av_code) const;

  SourceConfig config_;
  Interrupter& interrupter_;
  FormatContextPtr format_;
  CodecContextPtr codec_;
  PacketPtr packet_;
  int stream_index_ = -1;
  AVRational time_base_{1, 1};
  double native_fps_ = 0.0;
  bool flushing_ = false;  // the null packet was sent: only buffered frames are left
  // A file cut short: its size, and where its index says the video data ends (0 when whole).
  std::int64_t file_bytes_ = 0;
  std::int64_t index_end_ = 0;
  std::int64_t next_pts_us_ = 0;  // for frames without a timestamp
};

}  // namespace framebus::detail
