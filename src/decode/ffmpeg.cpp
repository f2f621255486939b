#include "decode/ffmpeg.hpp"

#include <array>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace framebus::detail {

std::string av_error_text(int code) {
  std::array<char, AV_ERROR_MAX_STRING_SIZE> text{};
  if (av_strerror(code, text.data(), text.size()) < 0) return "FFmpeg error " + std::to_string(code);
  return text.data();
}

Result<void> apply_ffmpeg_log_level() {
  // The names of the ffmpeg tool's -loglevel option.
  static constexpr std::array<std::pair<std::string_view, int>, 9> kLevels{{{"quiet", AV_LOG_QUIET},
                                                                            {"panic", AV_LOG_PANIC},
                                                                            {"fatal", AV_LOG_FATAL},
                                                                            {"error", AV_LOG_ERROR},
                                                                            {"warning", AV_LOG_WARNING},
                                                                            {"info", AV_LOG_INFO},
                                                                            {"verbose", AV_LOG_VERBOSE},
                                                                            {"debug", AV_LOG_DEBUG},
                                                                            {"trace", AV_LOG_TRACE}}};
  const char* value = std::getenv(kFfmpegLogVariable);
  if (value == nullptr || *value == '\0') return {};
  for (const auto& [name, level] : kLevels) {
    if (name == value) {
      av_log_set_level(level);
      return {};
    }
  }
  return make_error(ErrorCode::invalid_argument, std::string(kFfmpegLogVariable) + "='" + value +
                                                     "': expected quiet, panic, fatal, error, warning, info, verbose, "
                                                     "debug or trace");
}

}  // namespace framebus::detail
