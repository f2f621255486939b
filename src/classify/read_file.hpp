#pragma once
// Reading a whole model or label file, with errors that say which file and what is wrong.

#include <string>
#include <string_view>

#include "framebus/error.hpp"

namespace framebus::detail {

/// The whole file, or not_found / invalid_argument (a directory) / permission_denied / system,
/// naming `path`. `what` says which file it is in messages ("model", "label file").
Result<std::string> read_file(const std::string& path, std::string_view what);

}  // namespace framebus::detail
