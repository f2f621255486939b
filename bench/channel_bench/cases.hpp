#pragma once
// The rows of the table: which transport, which payload, and whether it has a paced variant.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wire.hpp"

namespace framebus::bench {

inline constexpr std::uint64_t kFramePayload = 1920ULL * 1080ULL * 3ULL;  // 1080p BGR, 6,220,800 B
inline constexpr std::uint64_t kSmallPayload = 64;

struct CaseSpec {
  std::string id;      ///< Stable key (JSON, --only), e.g. "framebus-loan-6m".
  std::string system;  ///< framebus | iceoryx | posix | memcpy (also accepted by --only).
  std::string label;   ///< What the table prints.
  Transport transport = Transport::memcpy_ref;
  std::uint64_t payload = 0;
  bool two_process = true;  ///< False for the single-process memcpy reference.
  bool paced = true;        ///< Has a paced variant (memcpy has no consumer to wake).
};

/// Every row, in table order.
std::vector<CaseSpec> all_cases();
/// Rows named in `only` by id or system ("posix" also as "ring"); all rows when `only` is empty.
/// Throws std::invalid_argument naming an unknown entry.
std::vector<CaseSpec> select_cases(const std::vector<std::string>& only);
/// "6.2 MB" / "64 B".
std::string payload_label(std::uint64_t bytes);

}  // namespace framebus::bench
