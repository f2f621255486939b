#pragma once
// The model options shared by `framebus run` and `framebus worker`, so that the supervisor
// starts its workers with exactly what it was given.

#include <CLI/CLI.hpp>

#include "framebus/pipeline/pipeline_options.hpp"

namespace framebus::cli {

void add_model_options(CLI::App& cmd, ModelOptions& model);

}  // namespace framebus::cli
