#pragma once
// Naming rules shared by channels and groups, and where channels live on the file system.

#include <cstddef>
#include <string>
#include <string_view>

#include "framebus/error.hpp"

namespace framebus::detail {

inline constexpr std::size_t kMaxNameLength = 200;
inline constexpr std::size_t kGroupNameCapacity = 48;  // including the terminating NUL
inline constexpr std::string_view kShmDir = "/dev/shm";
inline constexpr std::string_view kShmPrefix = "framebus.";

Result<void> validate_group_name(std::string_view group);
/// A name made safe to quote in a message: control bytes escaped, long names cut.
std::string printable(std::string_view text);

}  // namespace framebus::detail
