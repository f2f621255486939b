// Policy names: the words the Python binding and the command-line tool accept.
#include "framebus/channel/options.hpp"

#include "common/parse_named.hpp"

namespace framebus {

std::string_view to_string(Policy policy) noexcept {
  switch (policy) {
    case Policy::block: return "block";
    case Policy::drop_oldest: return "drop_oldest";
    case Policy::drop_newest: return "drop_newest";
  }
  return "unknown";
}

Result<Policy> parse_policy(std::string_view text) {
  return detail::parse_named(text, {Policy::block, Policy::drop_oldest, Policy::drop_newest}, "policy");
}

}  // namespace framebus
