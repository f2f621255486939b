#include "wire.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace framebus::bench {
namespace {

constexpr std::array<std::pair<Transport, std::string_view>, 6> kTransportNames{{
    {Transport::framebus_loan, "framebus_loan"},
    {Transport::framebus_send, "framebus_send"},
    {Transport::iceoryx, "iceoryx"},
    {Transport::ring_copy, "ring_copy"},
    {Transport::ring_nocopy, "ring_nocopy"},
    {Transport::memcpy_ref, "memcpy_ref"},
}};
constexpr std::array<std::pair<Mode, std::string_view>, 2> kModeNames{{
    {Mode::burst, "burst"},
    {Mode::paced, "paced"},
}};
constexpr std::array<std::pair<Role, std::string_view>, 3> kRoleNames{{
    {Role::producer, "producer"},
    {Role::consumer, "consumer"},
    {Role::single, "single"},
}};

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [v, n] : table) {
    if (v == value) return n;
  }
  return "?";
}

template <typename E, std::size_t N>
bool value_of(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view text, E& out) {
  for (const auto& [v, n] : table) {
    if (n == text) {
      out = v;
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view to_string(Transport transport) noexcept { return name_of(kTransportNames, transport); }
std::string_view to_string(Mode mode) noexcept { return name_of(kModeNames, mode); }
std::string_view to_string(Role role) noexcept { return name_of(kRoleNames, role); }
bool parse(std::string_view text, Transport& out) noexcept { return value_of(kTransportNames, text, out); }
bool parse(std::string_view text, Mode& out) noexcept { return value_of(kModeNames, text, out); }
bool parse(std::string_view text, Role& out) noexcept { return value_of(kRoleNames, text, out); }

void PeerResult::set_error(std::string_view text) noexcept {
  ok = 0;
  const std::size_t n = std::min(text.size(), sizeof(error) - 1);
  std::copy_n(text.data(), n, error);
  error[n] = '\0';
}

double PeerResult::rate() const noexcept {
  if (messages < 2 || last_ns <= first_ns) return 0.0;
  return static_cast<double>(messages - 1) * 1e9 / static_cast<double>(last_ns - first_ns);
}

}  // namespace framebus::bench
