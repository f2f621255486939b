#include "classify/labels.hpp"

#include "classify/read_file.hpp"

namespace framebus::detail {

Result<std::vector<std::string>> read_labels(const std::string& path) {
  auto text = read_file(path, "label file");
  if (!text) return tl::unexpected(text.error());
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start < text->size()) {
    std::size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(std::move(line));
    start = end + 1;
  }
  if (names.empty()) return make_error(ErrorCode::invalid_argument, "label file '" + path + "' is empty");
  return names;
}

}  // namespace framebus::detail
