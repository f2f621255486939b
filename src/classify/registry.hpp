#pragma once
// The process-wide table of inference engines by name (see framebus/classify/inference_backend.hpp).

#include <string_view>

#include "framebus/classify/inference_backend.hpp"

namespace framebus::detail {

/// The factory registered under `name`; invalid_argument naming the registered ones otherwise.
Result<BackendFactory> find_backend(std::string_view name);

}  // namespace framebus::detail
