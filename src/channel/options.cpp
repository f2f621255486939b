// Policy names: the words the Python binding and the command-line tool accept.
#include "framebus/channel/options.hpp"

#include "common/enum_names.hpp"

namespace framebus {

namespace {
constexpr detail::EnumNames<Policy, 3> kPolicyNames{{"block", "drop_oldest", "drop_newest"}};
static_assert(kPolicyNames.names.size() == static_cast<std::size_t>(Policy::drop_newest) + 1, "a name for every value");
}  // namespace

std::string_view to_string(Policy policy) noexcept { return detail::name_in(kPolicyNames, policy); }
Result<Policy> parse_policy(std::string_view text) { return detail::parse_in(kPolicyNames, text, "policy"); }

}  // namespace framebus
