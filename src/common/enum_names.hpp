#pragma once
// Names of enum values, one table per enum: to_string() and the parse_*() functions read the same
// table, so a value added to one cannot be forgotten by the other. Every enum that has names
// counts its values from 0, so a table is the list of names in the enum's order.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "framebus/error.hpp"

namespace framebus::detail {

/// The name of each value of T, at the value's index; an empty name is a value with none (it
/// prints as "unknown" and cannot be parsed). Each table is followed by a static_assert that it
/// has one entry per value, up to the enum's last: a value added without a name fails to build.
template <typename T, std::size_t N>
struct EnumNames {
  std::array<std::string_view, N> names;
};

/// The name of `value`, or "unknown" when it has none.
template <typename T, std::size_t N>
constexpr std::string_view name_in(const EnumNames<T, N>& table, T value) noexcept {
  const auto index = static_cast<std::size_t>(value);
  if (index >= N || table.names[index].empty()) return "unknown";
  return table.names[index];
}

/// The value named `text`; otherwise an error naming `what` and listing the accepted names.
template <typename T, std::size_t N>
Result<T> parse_in(const EnumNames<T, N>& table, std::string_view text, std::string_view what) {
  std::string names;
  for (std::size_t i = 0; i < N; ++i) {
    const std::string_view name = table.names[i];
    if (name.empty()) continue;
    if (name == text) return static_cast<T>(i);
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  return make_error(ErrorCode::invalid_argument,
                    "unknown " + std::string(what) + " '" + std::string(text) + "': use " + names);
}

}  // namespace framebus::detail
