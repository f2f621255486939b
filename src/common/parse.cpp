// Sizes from text ("8MiB"), shared by the Python binding and the command-line tool.
#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

#include "framebus/units.hpp"

namespace framebus {

Result<std::uint64_t> parse_size(std::string_view text) {
  auto bad = [&] {
    return make_error(ErrorCode::invalid_argument, "cannot read size '" + std::string(text) +
                                                       "': use bytes or a unit such as '8MiB', '512KiB', '2GB'");
  };
  std::size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  const std::size_t number_start = i;
  bool dot = false;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) != 0 || (text[i] == '.' && !dot))) {
    dot = dot || text[i] == '.';
    ++i;
  }
  if (i == number_start) return bad();
  // from_chars, not stod: it never throws (a lone "." or a 400-digit number is an error here,
  // not an exception crossing the API) and ignores the C locale's decimal point.
  double value = 0;
  const char* first = text.data() + number_start;
  const char* last = text.data() + i;
  if (const auto [end, err] = std::from_chars(first, last, value); err != std::errc() || end != last) return bad();
  std::string unit;
  for (; i < text.size(); ++i) {
    if (text[i] != ' ') unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  }
  double scale = 0;
  if (unit.empty() || unit == "b")
    scale = 1;
  else if (unit == "k" || unit == "kb")
    scale = 1e3;
  else if (unit == "m" || unit == "mb")
    scale = 1e6;
  else if (unit == "g" || unit == "gb")
    scale = 1e9;
  else if (unit == "kib")
    scale = 1024.0;
  else if (unit == "mib")
    scale = 1024.0 * 1024;
  else if (unit == "gib")
    scale = 1024.0 * 1024 * 1024;
  else
    return bad();
  const double bytes = std::floor(value * scale);
  if (bytes < 1 || bytes > 1e18) return bad();
  return static_cast<std::uint64_t>(bytes);
}

}  // namespace framebus
