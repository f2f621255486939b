#include "cases.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace framebus::bench {

std::vector<CaseSpec> all_cases() {
  return {
      {"framebus-loan-6m", "framebus", "framebus loan/publish (0-copy)", Transport::framebus_loan, kFramePayload, true,
       true},
      {"framebus-send-6m", "framebus", "framebus send (1 copy)", Transport::framebus_send, kFramePayload, true, true},
      {"framebus-loan-64", "framebus", "framebus loan/publish", Transport::framebus_loan, kSmallPayload, true, true},
      {"iceoryx-6m", "iceoryx", "iceoryx 2.0.3 loan/publish+WaitSet", Transport::iceoryx, kFramePayload, true, true},
      {"iceoryx-64", "iceoryx", "iceoryx 2.0.3 loan/publish+WaitSet", Transport::iceoryx, kSmallPayload, true, true},
      {"posix-copy-6m", "posix", "POSIX ring+sem, memcpy", Transport::ring_copy, kFramePayload, true, true},
      {"posix-nocopy-6m", "posix", "POSIX ring+sem, no copy", Transport::ring_nocopy, kFramePayload, true, true},
      {"posix-copy-64", "posix", "POSIX ring+sem, memcpy", Transport::ring_copy, kSmallPayload, true, true},
      {"posix-nocopy-64", "posix", "POSIX ring+sem, no copy", Transport::ring_nocopy, kSmallPayload, true, true},
      {"memcpy-6m", "memcpy", "memcpy reference (1 core)", Transport::memcpy_ref, kFramePayload, false, false},
  };
}

std::vector<CaseSpec> select_cases(const std::vector<std::string>& only) {
  const std::vector<CaseSpec> cases = all_cases();
  if (only.empty()) return cases;
  std::vector<CaseSpec> selected;
  for (const std::string& raw : only) {
    const std::string name = raw == "ring" ? "posix" : raw;
    bool matched = false;
    for (const CaseSpec& c : cases) {
      if (c.id == name || c.system == name) matched = true;
    }
    if (!matched) {
      std::string known = "framebus, iceoryx, posix, memcpy";
      for (const CaseSpec& c : cases) known += ", " + c.id;
      throw std::invalid_argument("--only: unknown system or row '" + raw + "' (known: " + known + ")");
    }
  }
  // Keep table order whatever order --only named them in.
  for (const CaseSpec& c : cases) {
    const bool wanted = std::any_of(only.begin(), only.end(), [&](const std::string& raw) {
      const std::string name = raw == "ring" ? "posix" : raw;
      return c.id == name || c.system == name;
    });
    if (wanted) selected.push_back(c);
  }
  return selected;
}

std::string payload_label(std::uint64_t bytes) {
  if (bytes >= 1'000'000) return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
  if (bytes >= 1'000) return fmt::format("{:.1f} kB", static_cast<double>(bytes) / 1e3);
  return fmt::format("{} B", bytes);
}

}  // namespace framebus::bench
