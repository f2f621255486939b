#include "decode/ffmpeg.hpp"

#include <array>

namespace framebus::detail {

std::string av_error_text(int code) {
  std::array<char, AV_ERROR_MAX_STRING_SIZE> text{};
  if (av_strerror(code, text.data(), text.size()) < 0) return "FFmpeg error " + std::to_string(code);
  return text.data();
}

}  // namespace framebus::detail
