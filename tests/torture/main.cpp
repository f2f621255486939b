// framebus-torture: kills channel participants with SIGKILL at chosen moments and checks that
// nothing is lost, duplicated unflagged, torn, leaked or hung. See docs/reliability.md.
//
//   framebus-torture [--trials N] [--seed S] [--json] [--verbose]
//
// Trial i runs the plan of seed S+i; `--seed S --trials 1` replays one trial's plan.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>

#include "checks.hpp"
#include "driver.hpp"
#include "report.hpp"

namespace {

// Gives the torture its own /dev/shm (a private mount namespace with a fresh tmpfs) where the
// system allows it: its gc loops then only ever see the torture's channels, never those of other
// programs on the host. False where it cannot (then /dev/shm is the host's).
bool private_shm() {
  if (::unshare(CLONE_NEWNS) != 0) return false;
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  return ::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") == 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace framebus::torture;
  CLI::App app{"Kills framebus channel participants with SIGKILL and checks that nothing is lost, hung or leaked"};
  std::uint32_t trials = 100;
  std::uint64_t seed = 0;
  bool json = false;
  bool verbose = false;
  app.add_option("--trials", trials, "Number of trials")->check(CLI::Range(1U, 1'000'000U));
  auto* seed_opt = app.add_option("--seed", seed, "Seed of the first trial (trial i uses seed+i); random if not given");
  app.add_flag("--json", json, "Print the summary as JSON");
  app.add_flag("--verbose", verbose, "Print a line per trial (on stderr with --json)");
  bool shared_shm = false;
  app.add_flag("--shared-shm", shared_shm, "Use the host's /dev/shm even where a private one is possible");
  CLI11_PARSE(app, argc, argv);
  if (seed_opt->count() == 0) {
    seed = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) % 1'000'000'000ULL;
  }
  // A control pipe whose reader was just killed must not kill the driver.
  ::signal(SIGPIPE, SIG_IGN);
  const bool isolated = !shared_shm && private_shm();
  if (verbose || !isolated) {
    (json ? std::cerr : std::cout) << "framebus-torture: channels in " << (isolated ? "a private" : "the host's")
                                   << " /dev/shm\n";
  }

  RunSummary run;
  run.first_seed = seed;
  std::ostream& progress = json ? std::cerr : std::cout;
  for (std::uint32_t i = 0; i < trials; ++i) {
    const TrialPlan plan = make_plan(seed + i);
    DriverOutput out = run_trial(plan);
    check_trial(plan, out);
    if (verbose) print_trial(progress, out.result);
    if (!out.result.violations.empty() && !json) {
      std::cerr << "trial seed " << plan.seed << " FAILED; replay: framebus-torture --seed " << plan.seed
                << " --trials 1\n";
    }
    run.add(out.result);
  }
  if (json) {
    print_json(std::cout, run);
  } else {
    print_text(std::cout, run);
  }
  return run.ok() ? 0 : 1;
}
