#pragma once
// `framebus run --config pipeline.toml`: the settings of a run in a TOML file, one key per long
// option (`workers = 3`, `source = ["a.mp4", "b.mp4"]`, `realtime = true`). The file is turned
// into the options it stands for, placed before the command line's own, so that an option given
// on the command line wins over the file.

#include <string>
#include <vector>

namespace framebus::cli {

/// Replaces `run ... --config FILE ...` in `args` (argv without the program name) by the options
/// the file holds. Unchanged when there is no such option. Sets `error` (naming the file) and
/// returns {} when the file cannot be read or parsed.
std::vector<std::string> expand_pipeline_file(const std::vector<std::string>& args, std::string& error);

}  // namespace framebus::cli
