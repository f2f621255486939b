// channel_bench: framebus against its rivals, cross-process, in one run and one table.
//
// Without --role this process is the orchestrator: it runs every row's peers as child processes
// (this same binary re-executed with --role), interleaves the systems over the repetitions,
// starts and stops iox-roudi for the iceoryx rows, and prints the table. With --role it is one
// of those peers.

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <map>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cases.hpp"
#include "peers.hpp"
#include "process.hpp"
#include "report.hpp"
#include "roudi.hpp"
#include "runner.hpp"

namespace framebus::bench {
namespace {

PeerResult dispatch_peer(const PeerArgs& args) {
  switch (args.transport) {
    case Transport::framebus_loan:
    case Transport::framebus_send:
      return args.role == Role::producer ? run_framebus_producer(args) : run_framebus_consumer(args);
    case Transport::iceoryx:
      return args.role == Role::producer ? run_iceoryx_producer(args) : run_iceoryx_consumer(args);
    case Transport::ring_copy:
    case Transport::ring_nocopy:
      return args.role == Role::producer ? run_ring_producer(args) : run_ring_consumer(args);
    case Transport::memcpy_ref:
      return run_memcpy_reference(args);
  }
  PeerResult bad;
  bad.set_error("unknown transport");
  return bad;
}

void pin_to_cpu(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<std::size_t>(cpu), &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    std::fprintf(stderr, "channel_bench: cannot pin to CPU %d; running unpinned\n", cpu);
  }
}

void add_process_diagnostics(PeerResult& result) {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    result.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    result.voluntary_switches = static_cast<std::uint64_t>(usage.ru_nvcsw);
    result.involuntary_switches = static_cast<std::uint64_t>(usage.ru_nivcsw);
  }
  result.last_cpu = sched_getcpu();
}

int run_peer(const PeerArgs& args) {
  PeerResult result;
  pin_to_cpu(args.cpu);
  try {
    result = dispatch_peer(args);
  } catch (const std::exception& e) {
    result.set_error(e.what());
  }
  add_process_diagnostics(result);
  if (result.ok == 0) {
    std::fprintf(stderr, "channel_bench %s %s: %s\n", std::string(to_string(args.role)).c_str(),
                 std::string(to_string(args.transport)).c_str(), result.error);
  }
  if (args.result_fd >= 0) {
    // One write below PIPE_BUF: atomic, and it cannot block on an empty pipe.
    static_assert(sizeof(PeerResult) < 4096);
    (void)!write(args.result_fd, &result, sizeof result);
    close(args.result_fd);
  }
  return result.ok != 0 ? 0 : 1;
}

bool needs_roudi(const std::vector<CaseSpec>& cases) {
  for (const CaseSpec& c : cases) {
    if (c.transport == Transport::iceoryx) return true;
  }
  return false;
}

std::uint64_t largest_iceoryx_payload(const std::vector<CaseSpec>& cases) {
  std::uint64_t largest = 0;
  for (const CaseSpec& c : cases) {
    if (c.transport == Transport::iceoryx) largest = std::max(largest, c.payload);
  }
  return largest;
}

int run_orchestrator(const BenchConfig& config) {
  const SignalGate gate;  // before any child exists: every SIGCHLD is seen
  try {
    const std::vector<CaseSpec> cases = select_cases(config.only);
    std::map<std::string, std::string> skipped;
    std::optional<Roudi> roudi;
    if (needs_roudi(cases)) {
      std::string reason;
      const std::string program = find_in_path(config.roudi_program);
      if (!iceoryx_compiled_in()) {
        reason = "built without iceoryx (iceoryx_posh not found when configuring)";
      } else if (program.empty()) {
        reason = "'" + config.roudi_program + "' not found in PATH (install the iceoryx package)";
      } else {
        try {
          roudi.emplace(program, largest_iceoryx_payload(cases), config.depth, gate);
        } catch (const Interrupted&) {
          throw;
        } catch (const std::exception& e) {
          reason = e.what();
        }
      }
      if (!reason.empty()) {
        std::fprintf(stderr, "iceoryx rows skipped: %s\n", reason.c_str());
        for (const CaseSpec& c : cases) {
          if (c.transport == Transport::iceoryx) skipped[c.id] = reason;
        }
      }
    }
    if (!config.quiet) {
      std::fprintf(stderr, "channel_bench: %zu rows x %d reps (pid %d)\n", cases.size(), config.reps,
                   static_cast<int>(getpid()));
    }
    const BenchResults results = run_all(config, cases, skipped, gate);
    // Every client has been reaped by now: RouDi may go.
    if (roudi) roudi->stop();
    print_report(results, stdout);
    std::fflush(stdout);
    if (!config.json_path.empty()) {
      write_json(results, config.json_path);
      std::fprintf(stderr, "results written to %s\n", config.json_path.c_str());
    }
    for (const RunRecord& r : results.runs) {
      if (!r.ok) return 1;
    }
    return 0;
  } catch (const Interrupted& e) {
    // Unwinding has already killed and reaped the peers, stopped RouDi, unlinked shared memory.
    std::fprintf(stderr, "channel_bench: %s; cleaned up\n", e.what());
    return 128 + e.signal_number();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "channel_bench: %s\n", e.what());
    return 2;
  }
}

}  // namespace
}  // namespace framebus::bench

int main(int argc, char** argv) {
  using namespace framebus::bench;
  BenchConfig config;
  CLI::App app{
      "Cross-process frame transport benchmark: framebus vs iceoryx vs a POSIX shm ring "
      "vs memcpy, one producer and one consumer process, queue depth 4."};
  app.add_option("--reps", config.reps, "Repetitions; the table shows medians")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--seconds", config.seconds, "Measured burst duration per row and repetition")
      ->check(CLI::Range(0.05, 600.0))
      ->capture_default_str();
  app.add_option("--paced-rate", config.paced_rate, "Messages per second in paced mode")
      ->check(CLI::Range(1.0, 100000.0))
      ->capture_default_str();
  app.add_option("--paced-seconds", config.paced_seconds, "Measured paced duration per row and repetition")
      ->check(CLI::Range(0.05, 600.0))
      ->capture_default_str();
  app.add_option("--warmup", config.warmup_seconds, "Unmeasured warm-up before every run, seconds")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();
  app.add_option("--only", config.only,
                 "Comma list of systems (framebus, iceoryx, posix, memcpy) or row ids (e.g. framebus-loan-6m)")
      ->delimiter(',');
  app.add_option("--json", config.json_path, "Also write all runs, medians and ratios to this file");
  app.add_option("--roudi", config.roudi_program, "iox-roudi executable")->capture_default_str();
  app.add_flag("--pin", config.pin,
               "Pin the consumer to CPU 0 and the producer to CPU 1 (default: the scheduler places them)");
  app.add_flag("--quiet", config.quiet, "No per-run progress lines on stderr");

  // The peer role: how the orchestrator re-executes this binary. Hidden from --help.
  PeerArgs peer;
  std::string role;
  std::string transport;
  std::string mode = "burst";
  app.add_option("--role", role)->group("");
  app.add_option("--transport", transport)->group("");
  app.add_option("--mode", mode)->group("");
  app.add_option("--payload", peer.payload)->group("");
  app.add_option("--depth", peer.depth)->group("");
  app.add_option("--name", peer.name)->group("");
  app.add_option("--go-fd", peer.go_fd)->group("");
  app.add_option("--result-fd", peer.result_fd)->group("");
  app.add_option("--cpu", peer.cpu)->group("");

  CLI11_PARSE(app, argc, argv);

  if (role.empty()) return run_orchestrator(config);

  if (!parse(role, peer.role) || !parse(transport, peer.transport) || !parse(mode, peer.mode)) {
    std::fprintf(stderr, "channel_bench: bad --role/--transport/--mode\n");
    return 2;
  }
  peer.seconds = config.seconds;  // the orchestrator passes the measured duration of this run
  peer.warmup_seconds = config.warmup_seconds;
  peer.rate = config.paced_rate;
  return run_peer(peer);
}
