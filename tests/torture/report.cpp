#include "report.hpp"

#include <cstdio>
#include <ostream>

#include <nlohmann/json.hpp>

namespace framebus::torture {

namespace {

constexpr std::array<ViolationKind, 6> kKinds = {ViolationKind::hang,      ViolationKind::loss,
                                                 ViolationKind::duplicate, ViolationKind::corruption,
                                                 ViolationKind::leak,      ViolationKind::error};

std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string replay_command(std::uint64_t seed) {
  return "framebus-torture --seed " + std::to_string(seed) + " --trials 1";
}

}  // namespace

void RunSummary::add(const TrialResult& trial) {
  trials += 1;
  for (std::size_t i = 0; i < kills.size(); ++i) kills[i] += trial.kills[i];
  kills_skipped += trial.kills_skipped;
  published += trial.published;
  delivered += trial.delivered;
  redelivered += trial.redelivered;
  dropped += trial.dropped;
  for (std::size_t i = 0; i < dropped_by_policy.size(); ++i) dropped_by_policy[i] += trial.dropped_by_policy[i];
  repairs += trial.repairs;
  for (const Violation& v : trial.violations) violations[static_cast<std::size_t>(v.kind)] += 1;
  max_recovery_ms = std::max(max_recovery_ms, trial.max_recovery_ms);
  for (std::size_t i = 0; i < max_recovery_by_phase.size(); ++i) {
    max_recovery_by_phase[i] = std::max(max_recovery_by_phase[i], trial.max_recovery_by_phase[i]);
  }
  recovery_checks += trial.recovery_checks;
  stops += trial.stops;
  stops_in_lock += trial.stops_in_lock;
  stops_skipped += trial.stops_skipped;
  cancels += trial.cancels;
  cancels_waiting += trial.cancels_waiting;
  max_cancel_ms = std::max(max_cancel_ms, trial.max_cancel_ms);
  gc_passes += trial.gc_passes;
  gc_removed_ours += trial.gc_removed_ours;
  recreations += trial.recreations;
  gave_up += trial.gave_up;
  overruns += trial.overruns;
  max_overrun_ms = std::max(max_overrun_ms, trial.max_overrun_ms);
  seconds += trial.seconds;
  if (!trial.violations.empty()) failed.push_back(trial);
}

std::uint64_t RunSummary::total_kills() const {
  std::uint64_t n = 0;
  for (const std::uint64_t k : kills) n += k;
  return n;
}

void print_trial(std::ostream& out, const TrialResult& t) {
  std::uint32_t kills = 0;
  for (const std::uint32_t k : t.kills) kills += k;
  out << "trial seed " << t.seed << ": " << kills << " kills, " << t.published << " published, " << t.delivered
      << " delivered, " << t.redelivered << " redelivered, " << t.dropped << " dropped, " << t.stops << " stops, "
      << t.cancels << " cancels, " << t.gc_passes << " gc passes" << (t.recreations != 0 ? ", re-created" : "")
      << ", max recovery " << fixed(t.max_recovery_ms, 1) << " ms, " << fixed(t.seconds, 2) << " s"
      << (t.violations.empty() ? "" : "  FAILED") << "\n";
}

void print_text(std::ostream& out, const RunSummary& run) {
  out << "framebus-torture: " << run.trials << " trials (seeds " << run.first_seed << ".."
      << run.first_seed + run.trials - 1 << ") in " << fixed(run.seconds, 1) << " s\n";
  out << "kills: " << run.total_kills() << " (";
  for (std::size_t i = 0; i < run.kills.size(); ++i) {
    out << (i ? ", " : "") << to_string(static_cast<Phase>(i)) << " " << run.kills[i];
  }
  out << "); " << run.kills_skipped << " planned kills found their victim already done or not blocked\n";
  out << "messages: " << run.published << " published, " << run.delivered << " delivered, " << run.redelivered
      << " redelivered, " << run.dropped << " dropped by policy (";
  for (std::size_t i = 0; i < run.dropped_by_policy.size(); ++i) {
    out << (i ? ", " : "") << to_string(static_cast<Policy>(i)) << " " << run.dropped_by_policy[i];
  }
  out << ")\n";
  out << "violations:";
  for (const ViolationKind k : kKinds) out << " " << to_string(k) << " " << run.violations[static_cast<std::size_t>(k)];
  out << "\n";
  out << "max recovery latency: " << fixed(run.max_recovery_ms, 1) << " ms (bound 1000 ms) over " << run.recovery_checks
      << " survivor checks; by phase:";
  for (std::size_t i = 0; i < run.max_recovery_by_phase.size(); ++i) {
    out << (i ? ", " : " ") << to_string(static_cast<Phase>(i)) << " " << fixed(run.max_recovery_by_phase[i], 1);
  }
  out << " ms; lock take-overs: " << run.repairs << "\n";
  out << "faults: " << run.stops << " stops (" << run.stops_in_lock << " holding the channel lock; "
      << run.stops_skipped << " more found their victim done), " << run.cancels << " cancels (" << run.cancels_waiting
      << " of a waiting receive; max " << fixed(run.max_cancel_ms, 1) << " ms to fail with closed, bound 1000 ms), "
      << run.gc_passes << " gc passes (" << run.gc_removed_ours << " removed a dead trial channel), " << run.recreations
      << " re-creations\n";
  out << "deadlines: " << run.overruns << " overruns (calls returning more than " << fixed(kDeadlineSlackMs, 0)
      << " ms past their deadline); latest " << fixed(run.max_overrun_ms, 1) << " ms past it; " << run.gave_up
      << " calls gave up at their deadline and retried\n";
  for (const TrialResult& t : run.failed) {
    out << "FAILED trial seed " << t.seed << " (" << t.plan << ")\n";
    for (const Violation& v : t.violations) out << "  " << to_string(v.kind) << ": " << v.what << "\n";
    out << "  replay: " << replay_command(t.seed) << "\n";
  }
  out << (run.ok() ? "torture: OK\n" : "torture: FAILED\n");
}

void print_json(std::ostream& out, const RunSummary& run) {
  nlohmann::ordered_json j;
  j["trials"] = run.trials;
  j["first_seed"] = run.first_seed;
  j["seconds"] = run.seconds;
  nlohmann::ordered_json kills;
  for (std::size_t i = 0; i < run.kills.size(); ++i)
    kills[std::string(to_string(static_cast<Phase>(i)))] = run.kills[i];
  j["kills"] = run.total_kills();
  j["kills_by_phase"] = kills;
  j["kills_skipped"] = run.kills_skipped;
  j["messages"] = {{"published", run.published},
                   {"delivered", run.delivered},
                   {"redelivered", run.redelivered},
                   {"dropped", run.dropped}};
  nlohmann::ordered_json by_policy;
  for (std::size_t i = 0; i < run.dropped_by_policy.size(); ++i) {
    by_policy[std::string(to_string(static_cast<Policy>(i)))] = run.dropped_by_policy[i];
  }
  j["messages"]["dropped_by_policy"] = by_policy;
  nlohmann::ordered_json v;
  for (const ViolationKind k : kKinds) v[std::string(to_string(k))] = run.violations[static_cast<std::size_t>(k)];
  j["violations"] = v;
  j["hangs"] = run.violations[static_cast<std::size_t>(ViolationKind::hang)];
  j["losses"] = run.violations[static_cast<std::size_t>(ViolationKind::loss)];
  j["leaks"] = run.violations[static_cast<std::size_t>(ViolationKind::leak)];
  j["max_recovery_ms"] = run.max_recovery_ms;
  nlohmann::ordered_json by_phase;
  for (std::size_t i = 0; i < run.max_recovery_by_phase.size(); ++i) {
    by_phase[std::string(to_string(static_cast<Phase>(i)))] = run.max_recovery_by_phase[i];
  }
  j["max_recovery_ms_by_phase"] = by_phase;
  j["recovery_checks"] = run.recovery_checks;
  j["lock_takeovers"] = run.repairs;
  j["faults"] = {{"stops", run.stops},
                 {"stops_in_lock", run.stops_in_lock},
                 {"stops_skipped", run.stops_skipped},
                 {"cancels", run.cancels},
                 {"cancels_waiting", run.cancels_waiting},
                 {"max_cancel_ms", run.max_cancel_ms},
                 {"gc_passes", run.gc_passes},
                 {"gc_removed_trial_channel", run.gc_removed_ours},
                 {"recreations", run.recreations}};
  j["deadlines"] = {{"overruns", run.overruns}, {"max_overrun_ms", run.max_overrun_ms}, {"gave_up", run.gave_up}};
  nlohmann::ordered_json failed = nlohmann::ordered_json::array();
  for (const TrialResult& t : run.failed) {
    nlohmann::ordered_json f;
    f["seed"] = t.seed;
    f["plan"] = t.plan;
    f["replay"] = replay_command(t.seed);
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const Violation& viol : t.violations) list.push_back({{"kind", to_string(viol.kind)}, {"what", viol.what}});
    f["violations"] = list;
    failed.push_back(f);
  }
  j["failed"] = failed;
  j["ok"] = run.ok();
  out << j.dump(2) << "\n";
}

}  // namespace framebus::torture
