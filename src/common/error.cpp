#include "framebus/error.hpp"

#include "common/enum_names.hpp"

namespace framebus {

namespace {
constexpr detail::EnumNames<ErrorCode, 13> kErrorCodeNames{
    {"invalid_argument", "invalid_name", "not_found", "already_exists", "permission_denied", "corrupt",
     "version_mismatch", "payload_too_large", "timeout", "limit_reached", "closed", "interrupted", "system"}};
static_assert(kErrorCodeNames.names.size() == static_cast<std::size_t>(ErrorCode::system) + 1,
              "a name for every value");
}  // namespace

std::string_view to_string(ErrorCode code) noexcept { return detail::name_in(kErrorCodeNames, code); }

}  // namespace framebus
