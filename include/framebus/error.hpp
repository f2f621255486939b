#pragma once
/// @file error.hpp
/// Errors returned by every fallible framebus call. No exception crosses the C++ API.

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace framebus {

/// What went wrong. Each value names a class of failure; Error::message() names the culprit.
enum class ErrorCode {
  invalid_argument,   ///< A caller-supplied value is out of range or malformed (name, size, shape).
  invalid_name,       ///< A channel or group name breaks the naming rules.
  not_found,          ///< The channel does not exist (and the caller did not wait for it).
  already_exists,     ///< The channel exists with options that do not match the caller's.
  permission_denied,  ///< The operating system refused access to the channel's shared memory.
  corrupt,            ///< The shared memory failed a consistency check (magic, sizes, an index).
  version_mismatch,   ///< The channel was created by an incompatible layout version.
  payload_too_large,  ///< A payload does not fit into one slot of the channel.
  timeout,            ///< A bounded wait expired (open with wait, a blocked loan or send).
  limit_reached,      ///< A fixed table is full (participants, groups).
  closed,             ///< The handle was closed, moved from, or used in a forked child.
  interrupted,        ///< A wait was interrupted by a signal that the caller asked to observe.
  system,             ///< A system call failed; the message carries errno's text.
};

/// Returns the stable snake_case name of a code, e.g. "payload_too_large".
std::string_view to_string(ErrorCode code) noexcept;

/// An error: a code for programs, a message naming what was wrong for people.
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  [[nodiscard]] ErrorCode code() const noexcept { return code_; }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

 private:
  ErrorCode code_;
  std::string message_;
};

/// The result of a fallible call: a value, or the Error that prevented it.
template <typename T>
using Result = tl::expected<T, Error>;

/// Shorthand to return an error from a function returning Result<T>.
inline tl::unexpected<Error> make_error(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}

}  // namespace framebus
