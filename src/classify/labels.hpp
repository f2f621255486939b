#pragma once
// Label files: one class name per line (ImageNet's synset_words.txt / imagenet_classes.txt form).

#include <string>
#include <vector>

#include "framebus/error.hpp"

namespace framebus::detail {

/// The names in `path`, one per line: a final newline ends the last line, a '\r' before a newline
/// is dropped (files written on Windows). not_found / invalid_argument (a directory, an empty
/// file) naming the path.
Result<std::vector<std::string>> read_labels(const std::string& path);

}  // namespace framebus::detail
