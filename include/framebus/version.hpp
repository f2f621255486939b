#pragma once
/// @file version.hpp

namespace framebus {
inline constexpr int kVersionMajor = 0;
inline constexpr int kVersionMinor = 1;
inline constexpr int kVersionPatch = 0;
/// Layout version of the shared memory; channels of another version are refused.
inline constexpr unsigned kLayoutVersion = 2;
}  // namespace framebus
