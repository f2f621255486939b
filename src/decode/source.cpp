#include "decode/source.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <string_view>

#include "common/clock.hpp"
#include "decode/image_folder.hpp"

namespace framebus::detail {

SourceKind classify_source(const std::string& source) {
  const auto scheme_end = source.find("://");
  if (scheme_end != std::string::npos && source.compare(0, 5, "file:") != 0) return SourceKind::network;
  struct stat st {};
  const bool exists = ::stat(source.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) return SourceKind::image_folder;
  if (!exists && source.find_first_of("*?[") != std::string::npos) return SourceKind::image_glob;
  return SourceKind::file;
}

// ---------------------------------------------------------------------------------------------

void Interrupter::arm(std::chrono::milliseconds timeout) noexcept {
  if (timeout.count() <= 0) {
    disarm();
    return;
  }
  deadline_ns_.store(monotonic_ns() + std::chrono::nanoseconds(timeout).count(), std::memory_order_relaxed);
}

bool Interrupter::deadline_passed() const noexcept {
  const std::int64_t deadline = deadline_ns_.load(std::memory_order_relaxed);
  return deadline >= 0 && monotonic_ns() >= deadline;
}

int Interrupter::check(void* self) noexcept {
  const auto* interrupter = static_cast<const Interrupter*>(self);
  return interrupter->stop_requested() || interrupter->deadline_passed() ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<FrameSource>> open_frame_source(const SourceConfig& config, Interrupter& interrupter) {
  switch (config.kind) {
    case SourceKind::image_folder:
    case SourceKind::image_glob: {
      auto folder = ImageFolderSource::open(config, interrupter);
      if (!folder) return tl::unexpected(folder.error());
      return std::unique_ptr<FrameSource>(std::move(*folder));
    }
    case SourceKind::file:
    case SourceKind::network:
      break;
  }
  auto media = MediaSource::open(config, interrupter);
  if (!media) return tl::unexpected(media.error());
  return std::unique_ptr<FrameSource>(std::move(*media));
}

// ---------------------------------------------------------------------------------------------

MediaSource::MediaSource(const SourceConfig& config, Interrupter& interrupter)
    : config_(config), interrupter_(interrupter) {}

Result<std::unique_ptr<MediaSource>> MediaSource::open(const SourceConfig& config, Interrupter& interrupter) {
  std::unique_ptr<MediaSource> source(new MediaSource(config, interrupter));
  if (auto ok = source->open_input(); !ok) return tl::unexpected(ok.error());
  if (auto ok = source->find_video_stream(); !ok) return tl::unexpected(ok.error());
  if (auto ok = source->open_decoder(); !ok) return tl::unexpected(ok.error());
  source->measure_index();
  source->packet_.reset(av_packet_alloc());
  if (!source->packet_) return tl::unexpected(source->failure(ErrorCode::system, "allocate a packet", AVERROR(ENOMEM)));
  interrupter.disarm();
  return source;
}

std::uint64_t MediaSource::frame_count() const noexcept {
  if (config_.kind == SourceKind::network || stream_index_ < 0) return 0;  // live: no end to count to
  const AVStream* stream = format_->streams[stream_index_];
  if (stream->nb_frames > 0) return static_cast<std::uint64_t>(stream->nb_frames);
  double seconds = 0.0;
  if (stream->duration > 0) {
    seconds = static_cast<double>(stream->duration) * av_q2d(stream->time_base);
  } else if (format_->duration > 0) {
    seconds = static_cast<double>(format_->duration) / AV_TIME_BASE;
  }
  const double frames = seconds * native_fps_;
  return frames > 0.0 ? static_cast<std::uint64_t>(frames + 0.5) : 0;
}

Error MediaSource::failure(ErrorCode code, const std::string& step, int av_code) const {
  std::string reason;
  // Some demuxers (RTSP) turn an interrupted read into a plain "invalid data": a deadline that
  // has passed says what really happened.
  const bool interrupted = av_code == kAvExit || interrupter_.deadline_passed();
  if (interrupted && interrupter_.stop_requested()) {
    reason = "stopped";
  } else if (interrupted || (av_code == AVERROR(ETIMEDOUT))) {
    reason = "timed out";
    code = ErrorCode::timeout;
  } else {
    reason = av_error_text(av_code);
  }
  const char* what = config_.single_image ? "image" : (config_.kind == SourceKind::network ? "stream" : "video");
  return Error(code, std::string(what) + " '" + config_.source + "': " + step + ": " + reason);
}

Result<void> MediaSource::open_input() {
  AVFormatContext* raw = avformat_alloc_context();
  if (raw == nullptr) return tl::unexpected(failure(ErrorCode::system, "allocate a demuxer", AVERROR(ENOMEM)));
  raw->interrupt_callback = interrupter_.callback();

  // Socket-level timeouts (microseconds) make a dead peer fail inside FFmpeg; the interrupter's
  // deadline also bounds name resolution and any protocol that ignores them.
  AVDictionary* raw_options = nullptr;
  if (config_.kind == SourceKind::network) {
    const auto read_us = std::to_string(std::chrono::microseconds(config_.read_timeout).count());
    av_dict_set(&raw_options, "rw_timeout", read_us.c_str(), 0);
    av_dict_set(&raw_options, "timeout", read_us.c_str(), 0);
    if (config_.source.rfind("rtsp://", 0) == 0 || config_.source.rfind("rtsps://", 0) == 0) {
      av_dict_set(&raw_options, "rtsp_transport", "tcp", 0);
    }
  }
  if (config_.single_image) av_dict_set(&raw_options, "pattern_type", "none", 0);
  std::unique_ptr<AVDictionary, DictionaryFree> options(raw_options);

  interrupter_.arm(config_.kind == SourceKind::network ? config_.connect_timeout : std::chrono::milliseconds(0));
  AVDictionary* options_in = options.release();
  // On failure avformat_open_input frees the context itself.
  const int rc = avformat_open_input(&raw, config_.source.c_str(), nullptr, &options_in);
  options.reset(options_in);
  if (rc < 0) {
    // FFmpeg calls an empty file "invalid data": say plainly what it is.
    struct stat st {};
    if (config_.kind == SourceKind::file && ::stat(config_.source.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size == 0) {
      return tl::unexpected(
          Error(ErrorCode::invalid_argument,
                failure(ErrorCode::invalid_argument, "cannot open", rc).message() + " (the file is empty)"));
    }
    return tl::unexpected(failure(ErrorCode::not_found, "cannot open", rc));
  }
  format_.reset(raw);
  return {};
}

Result<void> MediaSource::find_video_stream() {
  interrupter_.arm(config_.kind == SourceKind::network ? config_.read_timeout : std::chrono::milliseconds(0));
  if (const int rc = avformat_find_stream_info(format_.get(), nullptr); rc < 0) {
    return tl::unexpected(failure(ErrorCode::invalid_argument, "cannot read stream information", rc));
  }
  const int index = av_find_best_stream(format_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (index < 0) return tl::unexpected(failure(ErrorCode::invalid_argument, "no video stream", index));
  stream_index_ = index;
  AVStream* stream = format_->streams[index];
  time_base_ = stream->time_base;
  const AVRational rate = av_guess_frame_rate(format_.get(), stream, nullptr);
  native_fps_ = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;
  // Other streams (audio, data) are never read into packets the decoder would only discard.
  for (unsigned i = 0; i < format_->nb_streams; ++i) {
    if (static_cast<int>(i) != index) format_->streams[i]->discard = AVDISCARD_ALL;
  }
  return {};
}

Result<void> MediaSource::open_decoder() {
  const AVCodecParameters* params = format_->streams[stream_index_]->codecpar;
  const AVCodec* codec = avcodec_find_decoder(params->codec_id);
  if (codec == nullptr) {
    return tl::unexpected(failure(ErrorCode::invalid_argument,
                                  std::string("no decoder for codec ") + avcodec_get_name(params->codec_id),
                                  AVERROR_DECODER_NOT_FOUND));
  }
  codec_.reset(avcodec_alloc_context3(codec));
  if (!codec_) return tl::unexpected(failure(ErrorCode::system, "allocate a decoder", AVERROR(ENOMEM)));
  if (const int rc = avcodec_parameters_to_context(codec_.get(), params); rc < 0) {
    return tl::unexpected(failure(ErrorCode::invalid_argument, "decoder parameters", rc));
  }
  codec_->thread_count = config_.threads;
  codec_->pkt_timebase = time_base_;
  if (const int rc = avcodec_open2(codec_.get(), codec, nullptr); rc < 0) {
    return tl::unexpected(failure(ErrorCode::invalid_argument, std::string("cannot open decoder ") + codec->name, rc));
  }
  return {};
}

// A file whose index (an mp4's sample table) points past its end was cut short. FFmpeg's mov
// demuxer logs "partial file", hands over the last sample half-read (flagged corrupt) and then
// reports a plain end of input, so only the index tells a cut file from a short one. Formats
// read front to back without an index (MPEG-TS, ...) end where the data ends: nothing says so.
void MediaSource::measure_index() {
  if (config_.kind != SourceKind::file || config_.single_image || format_->pb == nullptr) return;
  const std::int64_t size = avio_size(format_->pb);
  if (size <= 0) return;
  AVStream* stream = format_->streams[stream_index_];
  std::int64_t end = 0;
  const int entries = avformat_index_get_entries_count(stream);
  for (int i = 0; i < entries; ++i) {
    const AVIndexEntry* entry = avformat_index_get_entry(stream, i);
    if (entry != nullptr && entry->pos >= 0) end = std::max<std::int64_t>(end, entry->pos + entry->size);
  }
  if (end > size) {
    file_bytes_ = size;
    index_end_ = end;
  }
}

Error MediaSource::cut_error() const {
  return Error(ErrorCode::corrupt, "video '" + config_.source + "': the file ends early (partial file): it has " +
                                       std::to_string(file_bytes_) + " bytes, its index needs " +
                                       std::to_string(index_end_));
}

Result<bool> MediaSource::read_video_packet() {
  for (;;) {
    interrupter_.arm(config_.kind == SourceKind::network ? config_.read_timeout : std::chrono::milliseconds(0));
    const int rc = av_read_frame(format_.get(), packet_.get());
    // A protocol's own timeout (rw_timeout) fails with a plain I/O error, or reads as the end of
    // the input; the deadline, which was armed first, tells that silence ended the read.
    const bool timed_out = interrupter_.deadline_passed() && !interrupter_.stop_requested();
    interrupter_.disarm();
    if (rc == kAvEof && !timed_out) return false;
    if (rc < 0) return tl::unexpected(failure(ErrorCode::system, "read error", timed_out ? AVERROR(ETIMEDOUT) : rc));
    if (packet_->stream_index == stream_index_) {
      // The sample the cut runs through: half a picture is no frame, and the end is reported
      // once the frames before it are out.
      const bool cut = index_end_ > 0 && (packet_->flags & AV_PKT_FLAG_CORRUPT) != 0 && packet_->pos >= 0 &&
                       packet_->pos + packet_->size >= file_bytes_;
      if (!cut) return true;
      av_packet_unref(packet_.get());
      return false;
    }
    av_packet_unref(packet_.get());
  }
}

Pulled MediaSource::take_frame(AVFrame* frame) {
  Pulled pulled;
  pulled.kind = Pulled::Kind::frame;
  pulled.key_frame = frame->key_frame != 0;
  const std::int64_t ts = frame->best_effort_timestamp != kNoPts ? frame->best_effort_timestamp : frame->pts;
  const std::int64_t step_us = native_fps_ > 0 ? std::llround(1e6 / native_fps_) : 40000;
  pulled.pts_us = ts != kNoPts ? av_rescale_q(ts, time_base_, kMicroseconds) : next_pts_us_;
  next_pts_us_ = pulled.pts_us + step_us;
  return pulled;
}

// The decode loop of doc/examples/demux_decode.c, turned inside out to yield one frame per call:
// EAGAIN asks for the next packet, the end of the input sends the null packet that flushes the
// decoder, and AVERROR_EOF from the decoder ends the pass.
Result<Pulled> MediaSource::next(AVFrame* frame) {
  for (;;) {
    const int received = avcodec_receive_frame(codec_.get(), frame);
    if (received == 0) {
      if ((frame->flags & AV_FRAME_FLAG_CORRUPT) != 0 || frame->decode_error_flags != 0) {
        av_frame_unref(frame);
        return Pulled{Pulled::Kind::bad, 0, false, failure(ErrorCode::corrupt, "corrupt frame", AVERROR_INVALIDDATA)};
      }
      return take_frame(frame);
    }
    if (received == kAvEof) {
      if (index_end_ > 0) return tl::unexpected(cut_error());
      return Pulled{};
    }
    if (received != kAvAgain) {
      return Pulled{Pulled::Kind::bad, 0, false, failure(ErrorCode::corrupt, "decode error", received)};
    }
    if (flushing_) {  // a flushed decoder never asks for more input
      if (index_end_ > 0) return tl::unexpected(cut_error());
      return Pulled{};
    }

    auto got_packet = read_video_packet();
    if (!got_packet) return tl::unexpected(got_packet.error());
    if (!*got_packet) {
      flushing_ = true;
      (void)avcodec_send_packet(codec_.get(), nullptr);
      continue;
    }
    const PacketUnref unref(packet_.get());
    const int sent = avcodec_send_packet(codec_.get(), packet_.get());
    if (sent < 0 && sent != kAvAgain) {
      return Pulled{Pulled::Kind::bad, 0, false, failure(ErrorCode::corrupt, "decode error", sent)};
    }
  }
}

}  // namespace framebus::detail
