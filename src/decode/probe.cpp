// probe_source: the first steps of a stream (open, decode one frame) without a channel, so that
// callers can check a source and size what they create for it before a stream exists.
#include "framebus/decode/probe.hpp"

#include <optional>
#include <stop_token>

#include "common/enum_names.hpp"
#include "decode/ffmpeg.hpp"
#include "decode/source.hpp"

namespace framebus {
namespace {

// In SourceKind's order.
constexpr detail::EnumNames<detail::SourceKind, 4> kSourceKindNames{{"file", "network", "image_folder", "image_glob"}};
static_assert(static_cast<std::size_t>(detail::SourceKind::image_glob) + 1 == kSourceKindNames.names.size());

}  // namespace

std::string_view source_kind(const std::string& source) {
  return detail::name_in(kSourceKindNames, detail::classify_source(source));
}

Result<SourceInfo> probe_source(const std::string& source, const ProbeOptions& options) {
  if (source.empty()) return make_error(ErrorCode::invalid_argument, "no source given (an empty path or URL)");
  detail::SourceConfig config;
  config.source = source;
  config.kind = detail::classify_source(source);
  config.threads = 1;  // one frame: more threads would only cost their start-up
  config.connect_timeout = options.connect_timeout;
  config.read_timeout = options.read_timeout;
  std::stop_source never_stopped;
  detail::Interrupter interrupter(never_stopped.get_token());
  auto opened = detail::open_frame_source(config, interrupter);
  if (!opened) return tl::unexpected(opened.error());
  detail::FrameSource& frames = **opened;

  detail::FramePtr frame(av_frame_alloc());
  if (!frame) return make_error(ErrorCode::system, "'" + source + "': out of memory");
  std::optional<Error> last_problem;
  // A video may start with a few undecodable packets (a cut before a key frame); a folder skips
  // unreadable pictures. Either way the first good frame answers.
  for (int bad = 0; bad < 16;) {
    auto pulled = frames.next(frame.get());
    const detail::FrameUnref unref(frame.get());
    if (!pulled) return tl::unexpected(pulled.error());
    if (pulled->kind == detail::Pulled::Kind::bad) {
      last_problem = pulled->problem;
      ++bad;
      continue;
    }
    if (pulled->kind == detail::Pulled::Kind::end) break;
    SourceInfo info;
    info.source = source;
    info.kind = std::string(detail::name_in(kSourceKindNames, config.kind));
    info.width = static_cast<std::uint32_t>(frame->width);
    info.height = static_cast<std::uint32_t>(frame->height);
    info.native_fps = frames.native_fps();
    info.frames = frames.frame_count();
    return info;
  }
  if (last_problem) {
    return make_error(ErrorCode::corrupt, "'" + source + "': no decodable frame (" + last_problem->message() + ")");
  }
  return make_error(ErrorCode::invalid_argument, "'" + source + "': has no frame");
}

}  // namespace framebus
