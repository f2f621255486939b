// Fuzz target: every text a user hands to framebus as a name or an option value.
//
//   validate_name, validate_group_name, channel_path          channel and group names
//   parse_size, parse_policy, parse_pixel_format, parse_dtype  option strings (C++, the CLI's
//                                                              `decode` options, Python's sizes)
//   the sail compatibility mapping                             python/framebus/compat/sail.py turns
//                                                              any pipe path into a channel name
//
// Beyond "no crash, no sanitizer report, no exception", each call's result is checked against
// the rule it enforces: an accepted name stays inside /dev/shm, a parsed value prints back to the
// same text, a size is within its documented range. A violated rule traps, which libFuzzer
// reports as a crash with the input that caused it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/names.hpp"
#include "framebus/channel/admin.hpp"
#include "framebus/channel/options.hpp"
#include "framebus/message.hpp"

namespace {

using namespace framebus;

[[noreturn]] void violated(const char* rule, std::string_view input) {
  std::fprintf(stderr, "rule violated: %s (input '%s')\n", rule, detail::printable(input).c_str());
  std::abort();
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

void check_channel_name(std::string_view name) {
  auto ok = validate_name(name);
  if (!ok) {
    if (ok.error().code() != ErrorCode::invalid_name) violated("a bad name is invalid_name", name);
    if (ok.error().message().empty()) violated("a rejection says why", name);
    return;
  }
  // An accepted name can only ever name a file directly inside /dev/shm.
  if (name.empty() || name.size() > detail::kMaxNameLength) violated("accepted names are 1..200 characters", name);
  if (name == "." || name == "..") violated("'.' and '..' are refused", name);
  for (const char c : name) {
    if (!name_char(c)) violated("accepted names hold letters, digits, '.', '_', '-' only", name);
  }
  const std::string path = channel_path(name);
  const std::string prefix = std::string(detail::kShmDir) + "/" + std::string(detail::kShmPrefix);
  if (path.compare(0, prefix.size(), prefix) != 0 || path.find('/', prefix.size()) != std::string::npos) {
    violated("a channel path is /dev/shm/framebus.NAME with no further '/'", name);
  }
}

void check_group_name(std::string_view group) {
  auto ok = detail::validate_group_name(group);
  if (!ok) return;
  if (group.empty() || group.size() >= detail::kGroupNameCapacity) violated("group names fit their field", group);
  for (const char c : group) {
    if (!name_char(c)) violated("group names hold letters, digits, '.', '_', '-' only", group);
  }
}

// Named values print back to the text they were parsed from.
template <typename T, typename Parse>
void check_named(std::string_view text, Parse parse, const char* rule) {
  auto v = parse(text);
  if (v && to_string(*v) != text) violated(rule, text);
  if (!v && v.error().code() != ErrorCode::invalid_argument) violated(rule, text);
}

void check_size(std::string_view text) {
  auto size = parse_size(text);
  if (!size) {
    if (size.error().code() != ErrorCode::invalid_argument) violated("a bad size is invalid_argument", text);
    if (size.error().message().find("size") == std::string::npos) violated("a bad size is named", text);
    return;
  }
  if (*size < 1 || *size > 1'000'000'000'000'000'000ULL) violated("a size is 1..1e18 bytes", text);
}

// python/framebus/compat/sail.py channel_name(): "sail." + the path stripped of '/' at both ends,
// every character outside letters, digits, '.', '_', '-' replaced by '_', cut to 200 characters.
// Python maps a code point where this maps a byte; both give names of the same character set.
// The mapping must turn every non-empty pipe path into a name that validate_name accepts.
void check_sail_mapping(std::string_view pipe_path) {
  if (pipe_path.empty()) return;  // sail.py refuses it before mapping
  std::string_view stripped = pipe_path;
  while (!stripped.empty() && stripped.front() == '/') stripped.remove_prefix(1);
  while (!stripped.empty() && stripped.back() == '/') stripped.remove_suffix(1);
  std::string name = "sail.";
  for (const char c : stripped) name += name_char(c) ? c : '_';
  if (name.size() > detail::kMaxNameLength) name.resize(detail::kMaxNameLength);
  if (!validate_name(name)) violated("the sail pipe-path mapping gives a valid channel name", pipe_path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_channel_name(text);
  check_group_name(text);
  check_size(text);
  check_named<Policy>(text, parse_policy, "a parsed policy prints back to its text");
  check_named<PixelFormat>(text, parse_pixel_format, "a parsed pixel format prints back to its text");
  check_named<DType>(text, parse_dtype, "a parsed dtype prints back to its text");
  check_sail_mapping(text);
  return 0;
}
