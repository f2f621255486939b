#pragma once
/// @file units.hpp
/// Times and sizes as every module takes them: waits as std::chrono durations, sizes in bytes.

#include <chrono>
#include <cstdint>
#include <string_view>

#include "framebus/error.hpp"

namespace framebus {

/// A wait bound. `forever` never expires.
using Duration = std::chrono::nanoseconds;
inline constexpr Duration forever = Duration::max();

/// A byte count: "4096", "8MiB", "512 KiB", "6MB", "2GiB" (k/M/G are 1000s, Ki/Mi/Gi 1024s).
Result<std::uint64_t> parse_size(std::string_view text);

}  // namespace framebus
