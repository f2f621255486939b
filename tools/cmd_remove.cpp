// framebus rm NAME... [--json]: unlinks channels. Processes that have a channel mapped keep
// working; new opens no longer find it. framebus rm NAME --group G removes one group of a channel
// instead (its queue is released), for a group nobody reads any more that blocks the producer.

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "framebus/channel/admin.hpp"

namespace framebus::cli {
namespace {

struct RmOptions {
  std::vector<std::string> names;
  std::string group;
  bool json = false;
};

int run_rm(const RmOptions& options) {
  int status = kExitOk;
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  // Every name is tried, also after a failure, so one typo does not leave the rest in place.
  for (const auto& name : options.names) {
    Result<void> removed;
    nlohmann::ordered_json result = {{"name", name}, {"removed", false}};
    if (options.group.empty()) {
      removed = remove_channel(name);
      if (removed && !options.json) std::cout << "removed " << name << '\n';
    } else if (auto released = remove_group(name, options.group); released) {
      result["group"] = options.group;
      result["released"] = *released;
      if (!options.json) {
        std::cout << "removed group " << options.group << " of " << name << " (" << *released
                  << " messages released)\n";
      }
    } else {
      removed = tl::unexpected(released.error());
    }
    result["removed"] = removed.has_value();
    if (!removed) {
      std::cerr << "framebus remove: " << name << ": " << removed.error().message() << " ("
                << to_string(removed.error().code()) << ")\n";
      result["error"] = error_to_json(removed.error());
      status = kExitFailure;
    }
    results.push_back(std::move(result));
  }
  if (options.json) std::cout << results.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
  return status;
}

}  // namespace

void add_remove_command(CLI::App& app, int& status) {
  auto options = std::make_shared<RmOptions>();
  CLI::App* cmd = app.add_subcommand("remove", "Remove channels by name.");
  cmd->alias("rm");
  cmd->add_option("names", options->names, "Channels to remove")->required();
  cmd->add_option("--group", options->group,
                  "Remove this consumer group of each channel (and release its queue) instead of the channel");
  cmd->add_flag("--json", options->json, "Print a JSON array of {name, removed, error?} (errors also go to stderr)");
  cmd->callback([options, &status] { status = run_rm(*options); });
}

}  // namespace framebus::cli
