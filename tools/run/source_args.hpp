#pragma once
// How `framebus run` decodes its sources: the flags of SourceOptions (passes, pacing,
// reconnecting, output size), kept beside the model's so that cmd_run.cpp only wires them up.

#include <CLI/CLI.hpp>

#include "framebus/pipeline/pipeline_options.hpp"

namespace framebus::cli {

void add_source_options(CLI::App& cmd, SourceOptions& source);

}  // namespace framebus::cli
