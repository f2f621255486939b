#pragma once
/// @file decoder.hpp
/// MultiDecoder: decodes many video sources (files, network URLs, image folders) straight into
/// the slots of one channel (or of one channel per stream) with FFmpeg. Each decoded frame is converted once, by
/// swscale, into the loaned slot: no intermediate copy.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "framebus/channel/options.hpp"
#include "framebus/error.hpp"
#include "framebus/message.hpp"

namespace framebus {

namespace detail {
class DecoderCore;
}

/// Per-stream decoding options. The defaults decode once, as fast as possible, into BGR24 at the
/// source's own size.
struct StreamOptions {
  /// The channel this stream publishes into; empty: the decoder's own channel. A stream with its
  /// own channel fills only that channel's slots, so a reader that never reads it stalls only
  /// this stream. The channel is created (or joined) with the decoder's ProducerOptions when the
  /// stream is added, and stays open until the decoder closes.
  std::string channel;

  /// Number of passes over the source: 1 plays it once, 2 twice, ... kLoopForever (0) restarts
  /// at every end until the stream is removed or stopped. Frame ids keep counting across passes
  /// and reconnects, and pts keep increasing (each pass continues where the last frame ended).
  std::uint32_t loop = 1;
  static constexpr std::uint32_t kLoopForever = 0;

  /// Keep one decoded frame in frame_skip + 1 (0 keeps all). Skipped frames are never converted.
  std::uint32_t frame_skip = 0;

  /// Publish at most this many frames per second, waiting between frames (0 = no cap). A cap
  /// only: a source slower than this is not sped up. It also spaces the pts of image folders.
  double max_fps = 0.0;
  /// Pace frames by their pts, like a live camera: a file plays at its native rate (25 fps for a
  /// 25 fps file, whatever max_fps says). With both, each frame waits for the later of the two.
  bool realtime = false;

  /// Network sources only: when the connection is lost (read error, timeout or end of a live
  /// stream) or cannot be opened, reopen it after a backoff that doubles from reconnect_delay up
  /// to reconnect_max_delay. Each attempt is counted in StreamStatus::reconnects.
  bool reconnect = false;
  std::chrono::milliseconds reconnect_delay{250};
  std::chrono::milliseconds reconnect_max_delay{5000};
  /// Attempts before the stream gives up with an error (0 = never gives up).
  std::uint32_t max_reconnects = 0;

  /// Decoder threads (0 = FFmpeg picks from the CPU count; negative is refused). The frames are
  /// the same whatever the count: only the decoding speed changes.
  int threads = 0;

  /// Output pixel format: bgr24, rgb24, gray8, nv12 or yuv420p.
  PixelFormat format = PixelFormat::bgr24;
  /// Output size; 0 takes the size of each decoded frame (so a folder of images of different
  /// sizes keeps each size). Giving only one of them keeps the aspect ratio (even sizes).
  std::uint32_t width = 0;
  std::uint32_t height = 0;

  /// Network sources: how long opening (connect and probe) and each read may take.
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{5000};

  /// Video files and URLs: decode errors tolerated (counted, frame skipped) before the stream
  /// ends with an error. Image folders always skip an undecodable image and go on.
  std::uint32_t max_decode_errors = 0;
};

/// Where a stream is in its life.
enum class StreamState : std::uint32_t {
  opening = 0,       ///< Opening the source (connecting, probing).
  running = 1,       ///< Decoding and publishing.
  reconnecting = 2,  ///< A network source was lost; waiting to reopen it.
  eof = 3,           ///< Finished: the source ended (after all passes). End-of-stream sent.
  error = 4,         ///< Finished: a failure ended the stream (see message), e.g. a file cut
                     ///< short after its frames before the cut. End-of-stream sent.
  stopped = 5,       ///< Finished: remove_stream() or stop() ended it. End-of-stream sent.
};

std::string_view to_string(StreamState state) noexcept;

/// A snapshot of one stream.
struct StreamStatus {
  std::uint32_t id = 0;
  std::string source;
  std::string channel;  ///< The channel the stream publishes into.
  StreamState state = StreamState::opening;
  /// Why the stream is in its state (the error text for `error`), empty when there is nothing to say.
  std::string message;
  /// The source's own frame rate (0 when unknown) and the size of its last decoded frame.
  double native_fps = 0.0;
  std::uint32_t source_width = 0;
  std::uint32_t source_height = 0;
  std::uint64_t decoded = 0;  ///< Frames out of the decoder.
  /// Frames handed to the channel and queued for its consumers. Frame ids count every frame
  /// handed to the channel, so published + dropped ids were used (0 .. published+dropped-1).
  std::uint64_t published = 0;
  /// Frames handed to the channel that its drop policy discarded at once for want of a free slot
  /// (drop_newest with every group full); each kept its frame id. drop_oldest makes room by
  /// evicting a group's oldest queued frame instead: those frames count as published here and as
  /// dropped in the group's counters (`framebus ls`), and also show as gaps in the ids.
  std::uint64_t dropped = 0;
  std::uint64_t skipped = 0;        ///< Frames left out by frame_skip.
  std::uint64_t decode_errors = 0;  ///< Packets, frames or images that failed to decode.
  std::uint64_t reconnects = 0;     ///< Reopen attempts of a lost network source.
  std::uint32_t passes = 0;         ///< Passes over the source begun (see StreamOptions::loop).
  /// The most recent error, also one that was skipped (naming the file or URL and what failed).
  std::optional<Error> last_error;

  [[nodiscard]] bool finished() const noexcept {
    return state == StreamState::eof || state == StreamState::error || state == StreamState::stopped;
  }
};

/// Decodes many sources into one channel, one decode thread per stream, so that a stream blocked
/// by back-pressure (or a slow network) never stalls the others. A stream may publish into a
/// channel of its own instead (StreamOptions::channel): then a consumer that reads stream by
/// stream, one channel each, is never stalled by a stream it does not read, since an unread
/// stream can only fill the slots of its own channel.
///
/// Each decoded frame is published with `MessageMeta.stream` = the stream id, `frame` = its
/// number among the frames this stream handed to the channel (0, 1, 2, ... also with frame_skip,
/// whose skipped frames never reach the channel), `pts` = the source pts in microseconds, `kind` =
/// image with a tightly packed ImageDesc. A frame that the channel's drop policy discards keeps
/// its number, so a reader sees the drop as a gap in the ids: ids arrive strictly increasing, and
/// contiguous when nothing was dropped. When a stream finishes (end of source, error, or removal)
/// its end-of-stream marker is sent, carrying in `frame` the number of frame ids the stream used
/// (StreamStatus::published + dropped), so a reader can also tell the drops after its last frame.
///
/// Threads: a stream's thread starts in add_stream() and ends when the stream finishes. Each
/// thread owns its own Producer handle on the channel (a channel allows 64 participants, so at
/// most about 60 streams run at once). The MultiDecoder itself holds one more Producer, so the
/// channel stays open between streams; consumers see the end of the channel after close().
///
/// Thread-safe: every method may be called from any thread. Not usable in a forked child.
class MultiDecoder {
 public:
  /// Creates or joins the channel `channel`. `options` applies to every stream's producer:
  /// its policy gives the back-pressure, block_timeout bounds a blocked frame (then the stream
  /// fails), and linger bounds how long a finishing stream waits for consumers to take its
  /// messages (and its end-of-stream marker).
  ///
  /// The environment variable FRAMEBUS_FFMPEG_LOG (quiet, panic, fatal, error, warning, info,
  /// verbose, debug, trace) sets FFmpeg's log level, for the whole process, here; unset leaves
  /// it alone. An unknown level fails with ErrorCode::invalid_argument. The level changes only
  /// what FFmpeg writes to stderr, never the frames.
  static Result<MultiDecoder> create(std::string_view channel, const ProducerOptions& options = {});

  MultiDecoder(MultiDecoder&&) noexcept;
  MultiDecoder& operator=(MultiDecoder&&) noexcept;
  MultiDecoder(const MultiDecoder&) = delete;
  MultiDecoder& operator=(const MultiDecoder&) = delete;
  /// close(): stops every stream and leaves the channel.
  ~MultiDecoder();

  /// Starts decoding `source` on its own thread and returns its stream id (0, 1, 2, ...).
  /// `source` is a video file, a URL FFmpeg reads (rtsp://, http://, udp://, ...; RTSP goes over
  /// TCP), a folder of images (JPEG, PNG, BMP, in sorted name order) or a glob pattern of
  /// images. Opening happens on the stream's thread: a source that cannot be opened ends in
  /// StreamState::error, seen through status(). A stream's own channel (StreamOptions::channel)
  /// is created or joined here, so consumers can open it as soon as this returns. Fails for
  /// invalid options, a channel that cannot be created or joined, or after close().
  Result<std::uint32_t> add_stream(std::string source, const StreamOptions& options = {});

  /// Stops stream `id` (interrupting a blocking read or a wait), sends its end-of-stream marker
  /// and forgets it. Blocks until its thread has ended: at most about twice
  /// ProducerOptions::linger when no consumer takes the stream's last messages.
  Result<void> remove_stream(std::uint32_t id);

  /// A snapshot of stream `id`; ErrorCode::not_found for an unknown (or removed) id.
  [[nodiscard]] Result<StreamStatus> status(std::uint32_t id) const;
  /// Snapshots of every stream, by id.
  [[nodiscard]] std::vector<StreamStatus> statuses() const;

  /// Waits until every stream added so far has finished; ErrorCode::timeout if `timeout` passes,
  /// ErrorCode::interrupted at once when `stop` is requested.
  Result<void> wait(Duration timeout = forever, std::stop_token stop = {});
  /// Waits until stream `id` has finished.
  Result<void> wait(std::uint32_t id, Duration timeout = forever, std::stop_token stop = {});

  /// Stops every stream (each sends its end-of-stream marker) and joins their threads.
  void stop();
  /// stop(), then closes the channel handles (the decoder's channel and the streams' own
  /// channels): once every producer of a channel is gone, its consumers see the end of the
  /// channel. Further add_stream() calls fail with ErrorCode::closed.
  Result<void> close();

  /// The name of the decoder's channel (streams with their own channel publish elsewhere).
  [[nodiscard]] const std::string& channel() const noexcept;

 private:
  explicit MultiDecoder(std::unique_ptr<detail::DecoderCore> core);
  std::unique_ptr<detail::DecoderCore> core_;
};

}  // namespace framebus
