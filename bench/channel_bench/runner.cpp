#include "runner.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <optional>

#include <fmt/format.h>

#include "framebus/channel/admin.hpp"
#include "harness.hpp"
#include "posix_ring.hpp"

namespace framebus::bench {
namespace {

/// How long after its measured phase a run may take before its processes are killed.
constexpr std::int64_t kRunSlackNs = 30'000'000'000LL;
/// How long the other peer may go on after one failed (it is usually blocked on the dead one).
constexpr std::int64_t kFailureGraceNs = 3'000'000'000LL;

/// Removes what a run created in shared memory, whatever way the run ends.
class RunResources {
 public:
  RunResources(const CaseSpec& spec, std::string name) : transport_(spec.transport), name_(std::move(name)) {}
  RunResources(const RunResources&) = delete;
  RunResources& operator=(const RunResources&) = delete;
  /// An iceoryx client killed before it deregistered leaves its socket and lock file in /tmp.
  void add_iceoryx_client(const char* role, pid_t pid) {
    iceoryx_files_.push_back(fmt::format("/tmp/fbbench-{}-{}", role, pid));
    iceoryx_files_.push_back(fmt::format("/tmp/fbbench-{}-{}.lock", role, pid));
  }
  ~RunResources() {
    for (const std::string& path : iceoryx_files_) unlink(path.c_str());
    switch (transport_) {
      case Transport::framebus_loan:
      case Transport::framebus_send:
        // Normally gone already once both peers closed; this catches killed peers.
        (void)framebus::remove_channel(name_);
        break;
      case Transport::ring_copy:
      case Transport::ring_nocopy:
        unlink_ring(name_);
        break;
      default:
        break;
    }
  }

 private:
  Transport transport_;
  std::string name_;
  std::vector<std::string> iceoryx_files_;
};

std::vector<std::string> peer_argv(const PeerArgs& a) {
  return {"--role",       std::string(to_string(a.role)),
          "--transport",  std::string(to_string(a.transport)),
          "--mode",       std::string(to_string(a.mode)),
          "--payload",    std::to_string(a.payload),
          "--depth",      std::to_string(a.depth),
          "--seconds",    fmt::format("{}", a.seconds),
          "--warmup",     fmt::format("{}", a.warmup_seconds),
          "--paced-rate", fmt::format("{}", a.rate),
          "--name",       a.name,
          "--go-fd",      std::to_string(a.go_fd),
          "--result-fd",  std::to_string(a.result_fd),
          "--cpu",        std::to_string(a.cpu)};
}

/// Reads the PeerResult a child wrote before exiting (the pipe holds it after the child is gone).
std::optional<PeerResult> read_result(const Fd& fd) {
  PeerResult result;
  auto* out = reinterpret_cast<char*>(&result);
  std::size_t got = 0;
  while (got < sizeof result) {
    const ssize_t n = read(fd.get(), out + got, sizeof result - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got != sizeof result || result.magic != PeerResult::kMagic) return std::nullopt;
  result.error[sizeof result.error - 1] = '\0';
  return result;
}

struct Peer {
  const char* role;
  ChildProcess process;
  Fd result;
};

/// Waits for every peer; kills them all at the deadline, or shortly after one of them failed.
std::string wait_peers(std::vector<Peer>& peers, std::int64_t deadline_ns, const SignalGate& gate) {
  std::optional<std::int64_t> grace_until;
  std::string failure;
  for (;;) {
    bool running = false;
    for (Peer& p : peers) {
      if (!p.process.try_reap()) {
        running = true;
      } else if (!p.process.succeeded() && !grace_until) {
        grace_until = now_ns() + kFailureGraceNs;
      }
    }
    if (!running) return failure;
    const std::int64_t limit = grace_until ? std::min(*grace_until, deadline_ns) : deadline_ns;
    if (now_ns() >= limit) {
      failure = now_ns() >= deadline_ns ? "run exceeded its time limit; peers killed"
                                        : "peer still running after its partner failed; killed";
      for (Peer& p : peers) p.process.terminate();
      return failure;
    }
    gate.wait(limit - now_ns());
  }
}

RunRecord run_once(const CaseSpec& spec, Mode mode, int rep, const BenchConfig& config, std::uint64_t index,
                   const SignalGate& gate) {
  RunRecord record;
  record.case_id = spec.id;
  record.mode = mode;
  record.rep = rep;
  const std::int64_t started = now_ns();

  PeerArgs args;
  args.transport = spec.transport;
  args.mode = mode;
  args.payload = spec.payload;
  args.depth = config.depth;
  args.seconds = mode == Mode::paced ? config.paced_seconds : config.seconds;
  args.warmup_seconds = config.warmup_seconds;
  args.rate = config.paced_rate;
  // Unique per orchestrator and run: no run ever meets another's leftovers.
  args.name = fmt::format("fbbench-{}-{}", getpid(), index);
  const bool ring = spec.transport == Transport::ring_copy || spec.transport == Transport::ring_nocopy;
  if (ring) args.name = "/" + args.name;

  RunResources resources(spec, args.name);
  if (ring) RingMapping::create(args.name, config.depth, spec.payload);  // unmapped at once

  const std::string self = self_executable();
  std::vector<Peer> peers;
  if (!spec.two_process) {
    Pipe result = Pipe::create();
    args.role = Role::single;
    args.result_fd = result.write_end.get();
    args.cpu = config.pin ? 1 : -1;
    peers.push_back({"process", ChildProcess::spawn({self, peer_argv(args), {args.result_fd}, "", SIGKILL}),
                     std::move(result.read_end)});
  } else {
    Pipe go = Pipe::create();
    Pipe consumer_result = Pipe::create();
    Pipe producer_result = Pipe::create();
    // The consumer starts first; it tells the producer through `go` once it is attached.
    PeerArgs consumer = args;
    consumer.role = Role::consumer;
    consumer.cpu = config.pin ? 0 : -1;
    consumer.go_fd = go.write_end.get();
    consumer.result_fd = consumer_result.write_end.get();
    peers.push_back(
        {"consumer",
         ChildProcess::spawn({self, peer_argv(consumer), {consumer.go_fd, consumer.result_fd}, "", SIGKILL}),
         std::move(consumer_result.read_end)});
    PeerArgs producer = args;
    producer.role = Role::producer;
    producer.cpu = config.pin ? 1 : -1;
    producer.go_fd = go.read_end.get();
    producer.result_fd = producer_result.write_end.get();
    peers.push_back(
        {"producer",
         ChildProcess::spawn({self, peer_argv(producer), {producer.go_fd, producer.result_fd}, "", SIGKILL}),
         std::move(producer_result.read_end)});
    // Our copies go, so that a peer's death shows up as EOF on the other's end.
    if (spec.transport == Transport::iceoryx) {
      // Runtime names as peer_iceoryx.cpp builds them.
      resources.add_iceoryx_client("sub", peers[0].process.pid());
      resources.add_iceoryx_client("pub", peers[1].process.pid());
    }
  }

  const auto budget = static_cast<std::int64_t>((args.warmup_seconds + args.seconds) * 1e9);
  const std::string failure = wait_peers(peers, started + budget + kRunSlackNs, gate);

  std::vector<std::string> problems;
  if (!failure.empty()) problems.push_back(failure);
  for (Peer& p : peers) {
    const std::optional<PeerResult> result = read_result(p.result);
    if (!result) {
      problems.push_back(fmt::format("{} gave no result ({})", p.role, p.process.describe()));
      continue;
    }
    if (result->ok == 0)
      problems.push_back(fmt::format("{}: {}", p.role, result->error));
    else if (!p.process.succeeded())
      problems.push_back(fmt::format("{}: {}", p.role, p.process.describe()));
    if (std::string_view(p.role) == "producer")
      record.producer = *result;
    else
      record.consumer = *result;
  }
  if (record.consumer.ok != 0 && (record.consumer.sequence_errors != 0 || record.consumer.payload_errors != 0)) {
    problems.push_back(fmt::format("consumer saw {} sequence and {} payload errors", record.consumer.sequence_errors,
                                   record.consumer.payload_errors));
  }
  record.ok = problems.empty();
  for (const std::string& p : problems) record.error += (record.error.empty() ? "" : "; ") + p;
  record.wall_seconds = static_cast<double>(now_ns() - started) / 1e9;
  return record;
}

}  // namespace

BenchResults run_all(const BenchConfig& config, const std::vector<CaseSpec>& cases,
                     const std::map<std::string, std::string>& skipped, const SignalGate& gate) {
  BenchResults results;
  results.config = config;
  results.cases = cases;
  results.skipped = skipped;
  const std::int64_t started = now_ns();
  std::uint64_t index = 0;
  for (int rep = 1; rep <= config.reps; ++rep) {
    for (const Mode mode : {Mode::burst, Mode::paced}) {
      for (const CaseSpec& spec : cases) {
        if (skipped.count(spec.id) != 0) continue;
        if (mode == Mode::paced && !spec.paced) continue;
        gate.check();
        RunRecord record;
        try {
          record = run_once(spec, mode, rep, config, index++, gate);
        } catch (const Interrupted&) {
          throw;
        } catch (const std::exception& e) {
          // Set-up failed (fork, pipe, shm): this run fails, the others still run.
          record.case_id = spec.id;
          record.mode = mode;
          record.rep = rep;
          record.error = e.what();
        }
        if (!config.quiet) {
          if (record.ok) {
            std::fprintf(stderr, "  rep %d/%d %-5s %-17s %10.0f msg/s  p50 %9.1f us  p99 %9.1f us  (%.1f s)\n", rep,
                         config.reps, std::string(to_string(mode)).c_str(), spec.id.c_str(), record.consumer.rate(),
                         record.consumer.latency_p50_ns / 1e3, record.consumer.latency_p99_ns / 1e3,
                         record.wall_seconds);
          } else {
            std::fprintf(stderr, "  rep %d/%d %-5s %-17s FAILED: %s\n", rep, config.reps,
                         std::string(to_string(mode)).c_str(), spec.id.c_str(), record.error.c_str());
          }
        }
        results.runs.push_back(std::move(record));
      }
    }
  }
  results.total_seconds = static_cast<double>(now_ns() - started) / 1e9;
  return results;
}

}  // namespace framebus::bench
