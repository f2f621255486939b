#include "plan.hpp"

#include <algorithm>
#include <array>

namespace framebus::torture {

namespace {

// SplitMix64: a fixed, portable generator, so that a seed means the same plan everywhere
// (std::uniform_int_distribution is free to differ between standard libraries).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [lo, hi].
  std::uint32_t range(std::uint32_t lo, std::uint32_t hi) {
    return lo + static_cast<std::uint32_t>(next() % (hi - lo + 1));
  }
  bool chance(std::uint32_t percent) { return next() % 100 < percent; }

 private:
  std::uint64_t state_;
};

constexpr std::array<std::string_view, kPhaseCount> kPhaseNames = {"open",       "loan", "publish", "blocked",
                                                                   "end_stream", "hold", "lock"};

}  // namespace

std::string_view to_string(Phase phase) noexcept { return kPhaseNames[static_cast<std::size_t>(phase)]; }

bool parse_phase(std::string_view text, Phase& out) noexcept {
  for (std::size_t i = 0; i < kPhaseNames.size(); ++i) {
    if (kPhaseNames[i] == text) {
      out = static_cast<Phase>(i);
      return true;
    }
  }
  return false;
}

TrialPlan make_plan(std::uint64_t seed) {
  Rng rng(seed);
  TrialPlan plan;
  plan.seed = seed;
  const auto policy = [&] { return static_cast<Policy>(rng.range(0, 2)); };
  // A work queue shared by 2-3 consumers, a single-consumer tap that sees every message, and
  // sometimes a second work queue.
  plan.groups.push_back({"work", policy(), rng.range(2, 3)});
  plan.groups.push_back({"tap", policy(), 1});
  if (rng.chance(40)) plan.groups.push_back({"audit", policy(), 2});
  constexpr std::array<std::uint64_t, 4> kSizes = {4096, 16384, 65536, 262144};
  plan.slot_size = kSizes[rng.range(0, 3)];
  const std::uint32_t producers = rng.range(2, 3);
  std::uint32_t consumers = 0;
  for (const GroupPlan& g : plan.groups) consumers += g.consumers;
  plan.slots = rng.range(std::max<std::uint32_t>(6, consumers + producers + 1), 24);

  for (std::uint32_t p = 0; p < producers; ++p) {
    ParticipantPlan pp;
    pp.producer = true;
    pp.stream = p + 1;
    pp.messages = rng.range(100, 200);
    pp.pace_us = rng.range(1000, 3000);
    pp.max_size = static_cast<std::uint32_t>(plan.slot_size);
    plan.participants.push_back(pp);
  }
  // Held samples never exceed what the slots allow beside one loan per producer: holding alone
  // can then never stall the channel.
  const std::uint32_t spare = plan.slots - producers;
  for (std::uint32_t g = 0; g < plan.groups.size(); ++g) {
    for (std::uint32_t c = 0; c < plan.groups[g].consumers; ++c) {
      ParticipantPlan cp;
      cp.group = g;
      cp.max_held = rng.range(1, std::clamp<std::uint32_t>(spare / consumers, 1, 3));
      cp.work_us = rng.range(0, 2500);
      plan.participants.push_back(cp);
    }
  }

  plan.kill_creator_in_open = rng.chance(20);
  const bool has_block =
      std::any_of(plan.groups.begin(), plan.groups.end(), [](const GroupPlan& g) { return g.policy == Policy::block; });
  const std::uint32_t kills = rng.range(2, 4);
  for (std::uint32_t k = 0; k < kills; ++k) {
    KillPlan kp;
    // Producers and consumers are victims equally often, whatever their numbers.
    kp.victim = rng.chance(50) ? rng.range(0, producers - 1)
                               : rng.range(producers, static_cast<std::uint32_t>(plan.participants.size()) - 1);
    if (plan.participants[kp.victim].producer) {
      std::vector<Phase> phases = {Phase::loan, Phase::publish, Phase::end_stream, Phase::lock};
      if (has_block) phases.push_back(Phase::blocked);
      kp.phase = phases[rng.range(0, static_cast<std::uint32_t>(phases.size()) - 1)];
      kp.after = kp.phase == Phase::end_stream ? 0 : rng.range(1, 4);
    } else {
      kp.phase = rng.chance(75) ? Phase::hold : Phase::lock;
      kp.after = rng.range(1, 4);
    }
    kp.kill_restart_in_open = rng.chance(25);
    plan.kills.push_back(kp);
  }
  // Drawn after everything above, so that the kills of a seed stay what they were before stops,
  // cancels, gc loops and re-creation existed.
  const std::uint32_t stops = rng.range(0, 3);
  for (std::uint32_t s = 0; s < stops; ++s) {
    StopPlan sp;
    sp.victim = rng.range(0, static_cast<std::uint32_t>(plan.participants.size()) - 1);
    sp.before_kill = rng.range(0, kills);
    sp.ms = rng.range(50, 400);
    sp.in_lock = rng.chance(50);
    sp.after = rng.range(1, 4);
    plan.stops.push_back(sp);
  }
  for (std::uint32_t i = producers; i < plan.participants.size(); ++i) {
    ParticipantPlan& cp = plan.participants[i];
    if (!rng.chance(20)) continue;
    cp.cancel_after = rng.range(5, 60);
    cp.cancel_delay_us = rng.range(0, 50'000);
  }
  plan.gc_loop = rng.chance(30);
  plan.recreate = rng.chance(20);
  return plan;
}

std::string describe(const TrialPlan& plan) {
  std::string out = "seed " + std::to_string(plan.seed) + ": " + std::to_string(plan.slots) + " slots x " +
                    std::to_string(plan.slot_size) + " B; groups";
  for (const GroupPlan& g : plan.groups) {
    out += " " + g.name + "(" + std::string(to_string(g.policy)) + ", " + std::to_string(g.consumers) + ")";
  }
  std::uint32_t producers = 0;
  for (const ParticipantPlan& p : plan.participants) producers += p.producer ? 1 : 0;
  out += "; " + std::to_string(producers) + " producers; kills";
  if (plan.kill_creator_in_open) out += " #0@open";
  for (const KillPlan& k : plan.kills) {
    out += " #" + std::to_string(k.victim) + "@" + std::string(to_string(k.phase)) + "+" + std::to_string(k.after);
    if (k.kill_restart_in_open) out += "(+open)";
  }
  if (!plan.stops.empty()) {
    out += "; stops";
    for (const StopPlan& s : plan.stops) {
      out += " #" + std::to_string(s.victim) + (s.in_lock ? "@lock+" + std::to_string(s.after) : std::string()) + " " +
             std::to_string(s.ms) + "ms<k" + std::to_string(s.before_kill);
    }
  }
  std::string cancels;
  for (std::uint32_t i = 0; i < plan.participants.size(); ++i) {
    if (plan.participants[i].cancel_after != 0) {
      cancels += " #" + std::to_string(i) + "+" + std::to_string(plan.participants[i].cancel_after);
    }
  }
  if (!cancels.empty()) out += "; cancels" + cancels;
  if (plan.gc_loop) out += "; gc loop";
  if (plan.recreate) out += "; re-created";
  return out;
}

}  // namespace framebus::torture
