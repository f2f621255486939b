#pragma once
// Names of enum values, one table per enum: to_string() and the parse_*() functions read the same
// table, so a value added to one cannot be forgotten by the other.

#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "framebus/error.hpp"

namespace framebus::detail {

template <typename T, std::size_t N>
using NameTable = std::array<std::pair<T, std::string_view>, N>;

/// The name of `value`, or "unknown" when the table does not have it.
template <typename T, std::size_t N>
constexpr std::string_view name_in(const NameTable<T, N>& table, T value) noexcept {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

/// The value named `text`; otherwise an error naming `what` and listing the accepted names.
template <typename T, std::size_t N>
Result<T> parse_in(const NameTable<T, N>& table, std::string_view text, std::string_view what) {
  std::string names;
  for (const auto& [v, name] : table) {
    if (name == text) return v;
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  return make_error(ErrorCode::invalid_argument,
                    "unknown " + std::string(what) + " '" + std::string(text) + "': use " + names);
}

}  // namespace framebus::detail
