#include "framebus/error.hpp"

namespace framebus {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_argument:
      return "invalid_argument";
    case ErrorCode::invalid_name:
      return "invalid_name";
    case ErrorCode::not_found:
      return "not_found";
    case ErrorCode::already_exists:
      return "already_exists";
    case ErrorCode::permission_denied:
      return "permission_denied";
    case ErrorCode::corrupt:
      return "corrupt";
    case ErrorCode::version_mismatch:
      return "version_mismatch";
    case ErrorCode::payload_too_large:
      return "payload_too_large";
    case ErrorCode::timeout:
      return "timeout";
    case ErrorCode::limit_reached:
      return "limit_reached";
    case ErrorCode::closed:
      return "closed";
    case ErrorCode::interrupted:
      return "interrupted";
    case ErrorCode::system:
      return "system";
  }
  return "unknown";
}

}  // namespace framebus
