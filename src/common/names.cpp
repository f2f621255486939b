#include <string>

#include "common/names.hpp"
#include "framebus/channel/admin.hpp"

namespace framebus {

Result<void> validate_name(std::string_view name) {
  if (name.empty()) return make_error(ErrorCode::invalid_name, "channel name is empty");
  if (name.size() > detail::kMaxNameLength) {
    return make_error(ErrorCode::invalid_name, "channel name is " + std::to_string(name.size()) +
                                                   " characters long; at most " +
                                                   std::to_string(detail::kMaxNameLength) + " are allowed");
  }
  if (name == "." || name == "..") {
    return make_error(ErrorCode::invalid_name, "channel name '" + std::string(name) + "' is reserved");
  }
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      std::string shown =
          (c >= 0x20 && c < 0x7f) ? std::string(1, c) : "\\x" + std::to_string(static_cast<unsigned char>(c));
      return make_error(ErrorCode::invalid_name, "channel name '" + detail::printable(name) + "' contains '" + shown +
                                                     "': only letters, digits, '.', '_' and '-' are allowed");
    }
  }
  return {};
}

std::string channel_path(std::string_view name) {
  return std::string(detail::kShmDir) + "/" + std::string(detail::kShmPrefix) + std::string(name);
}

namespace detail {

Result<void> validate_group_name(std::string_view group) {
  if (group.empty() || group.size() >= kGroupNameCapacity) {
    return make_error(ErrorCode::invalid_name, "group name '" + printable(group) + "' must have 1 to " +
                                                   std::to_string(kGroupNameCapacity - 1) + " characters");
  }
  for (char c : group) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return make_error(ErrorCode::invalid_name,
                        "group name '" + printable(group) + "': only letters, digits, '.', '_' and '-' are allowed");
    }
  }
  return {};
}

std::string printable(std::string_view text) {
  std::string out;
  const std::size_t limit = 64;
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const char c = text[i];
    if (c >= 0x20 && c < 0x7f) {
      out += c;
    } else {
      static const char* hex = "0123456789abcdef";
      const auto u = static_cast<unsigned char>(c);
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

}  // namespace detail
}  // namespace framebus
