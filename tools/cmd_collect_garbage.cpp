// framebus collect-garbage [--json] (alias gc): removes every channel whose participants are all dead (kill -9, crash).

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "framebus/channel/admin.hpp"

namespace framebus::cli {
namespace {

struct GcOptions {
  bool json = false;
};

int run_gc(const GcOptions& options) {
  const std::vector<std::string> removed = collect_garbage();
  if (options.json) {
    std::cout << nlohmann::ordered_json{{"removed", removed}}.dump(2, ' ', false,
                                                                   nlohmann::ordered_json::error_handler_t::replace)
              << '\n';
    return kExitOk;
  }
  if (removed.empty()) {
    std::cout << "no stale channels\n";
    return kExitOk;
  }
  for (const auto& name : removed) std::cout << "removed " << name << '\n';
  return kExitOk;
}

}  // namespace

void add_collect_garbage_command(CLI::App& app, int& status) {
  auto options = std::make_shared<GcOptions>();
  CLI::App* cmd = app.add_subcommand("collect-garbage",
                                     "Remove channels whose participants are all dead; print the names removed.");
  cmd->alias("gc");
  cmd->add_flag("--json", options->json, R"(Print {"removed": [NAME...]})");
  cmd->callback([options, &status] { status = run_gc(*options); });
}

}  // namespace framebus::cli
