#include "run/pipeline_file.hpp"

#include <algorithm>

#include <CLI/CLI.hpp>

namespace framebus::cli {

std::vector<std::string> expand_pipeline_file(const std::vector<std::string>& args, std::string& error) {
  auto run = std::find(args.begin(), args.end(), "run");
  if (run == args.end()) return args;
  auto config = std::find_if(run, args.end(),
                             [](const std::string& a) { return a == "--config" || a.rfind("--config=", 0) == 0; });
  if (config == args.end()) return args;
  std::string path;
  auto rest = config + 1;
  if (*config == "--config") {
    if (rest == args.end()) return args;  // CLI11 reports the missing value
    path = *rest++;
  } else {
    path = config->substr(std::string("--config=").size());
  }
  // An option given on the command line replaces the file's (a repeated one, all of them).
  std::vector<std::string> given;
  for (auto it = run + 1; it != args.end(); ++it) {
    if (it->rfind("--", 0) == 0) given.push_back(it->substr(0, it->find('=')));
  }
  std::vector<std::string> file_args;
  try {
    for (const auto& item : CLI::ConfigTOML().from_file(path)) {
      if (!item.parents.empty() && !(item.parents.size() == 1 && item.parents[0] == "run")) {
        error = "pipeline file '" + path + "': unknown section '" + item.parents[0] + "'";
        return {};
      }
      const std::string flag = "--" + item.name;
      if (std::find(given.begin(), given.end(), flag) != given.end()) continue;
      if (item.inputs.size() == 1 && (item.inputs[0] == "true" || item.inputs[0] == "false")) {
        if (item.inputs[0] == "true") file_args.push_back(flag);
        continue;
      }
      for (const auto& value : item.inputs) file_args.insert(file_args.end(), {flag, value});
    }
  } catch (const CLI::Error& e) {
    error = "pipeline file '" + path + "': " + e.what();
    return {};
  }
  std::vector<std::string> out(args.begin(), run + 1);
  out.insert(out.end(), file_args.begin(), file_args.end());
  out.insert(out.end(), run + 1, config);
  out.insert(out.end(), rest, args.end());
  return out;
}

}  // namespace framebus::cli
