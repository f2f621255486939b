#include "classify/read_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace framebus::detail {

Result<std::string> read_file(const std::string& path, std::string_view what) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    return make_error(ErrorCode::not_found, std::string(what) + " '" + path + "' does not exist");
  }
  if (status.type() == std::filesystem::file_type::directory) {
    return make_error(ErrorCode::invalid_argument, std::string(what) + " '" + path + "' is a directory, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == EACCES) {
      return make_error(ErrorCode::permission_denied, std::string(what) + " '" + path + "': " + std::strerror(err));
    }
    return make_error(ErrorCode::system, "cannot open " + std::string(what) + " '" + path + "': " + std::strerror(err));
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::system, "cannot read " + std::string(what) + " '" + path + "'");
  return std::move(bytes).str();
}

}  // namespace framebus::detail
