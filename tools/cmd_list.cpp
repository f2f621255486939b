// framebus list [NAME...] [--json] (alias ls), framebus inspect NAME... [--json]: the channels of
// this host, or the named ones.

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "format.hpp"
#include "framebus/channel/admin.hpp"

namespace framebus::cli {
namespace {

struct ListOptions {
  std::vector<std::string> names;
  bool json = false;
  std::string command;  // the name it was called by, for messages
};

int run_list(const ListOptions& options) {
  int status = kExitOk;
  std::vector<ChannelInfo> channels;
  if (options.names.empty()) {
    channels = list_channels();
  } else {
    // Named channels are inspected one by one; a missing one is an error, the others still shown.
    for (const auto& name : options.names) {
      auto info = inspect_channel(name);
      if (!info) {
        std::cerr << "framebus " << options.command << ": " << name << ": " << info.error().message() << '\n';
        status = kExitFailure;
        continue;
      }
      channels.push_back(std::move(*info));
    }
  }

  if (options.json) {
    std::cout << to_json(channels, 2) << '\n';
    return status;
  }
  if (channels.empty() && options.names.empty()) {
    std::cout << "no framebus channels\n";
    return status;
  }
  bool first = true;
  for (const auto& channel : channels) {
    if (!first) std::cout << '\n';
    first = false;
    print_channel(std::cout, channel);
  }
  return status;
}

}  // namespace

void add_list_command(CLI::App& app, int& status) {
  auto options = std::make_shared<ListOptions>();
  options->command = "list";
  CLI::App* cmd =
      app.add_subcommand("list", "List channels: geometry, participants, group queues, counters, stale flag.");
  cmd->alias("ls");
  cmd->add_option("names", options->names, "Channels to show (default: every channel)");
  cmd->add_flag("--json", options->json, "Print a JSON array of channel objects (see tools/README.md)");
  cmd->callback([options, &status] { status = run_list(*options); });
}

void add_inspect_command(CLI::App& app, int& status) {
  auto options = std::make_shared<ListOptions>();
  options->command = "inspect";
  CLI::App* cmd =
      app.add_subcommand("inspect", "Show the named channels (as 'list NAME...'); a missing one is an error.");
  cmd->add_option("names", options->names, "Channels to show")->required();
  cmd->add_flag("--json", options->json, "Print a JSON array of channel objects (see tools/README.md)");
  cmd->callback([options, &status] { status = run_list(*options); });
}

}  // namespace framebus::cli
