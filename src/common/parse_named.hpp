#pragma once
// One enum value from its name, with an error listing the accepted names.

#include <initializer_list>
#include <string>
#include <string_view>

#include "framebus/error.hpp"

namespace framebus::detail {

template <typename T>
Result<T> parse_named(std::string_view text, std::initializer_list<T> values, std::string_view what) {
  std::string names;
  for (T v : values) {
    if (to_string(v) == text) return v;
    names += (names.empty() ? "" : ", ") + std::string(to_string(v));
  }
  return make_error(ErrorCode::invalid_argument,
                    "unknown " + std::string(what) + " '" + std::string(text) + "': use " + names);
}

}  // namespace framebus::detail
