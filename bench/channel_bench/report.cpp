#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "harness.hpp"

namespace framebus::bench {
namespace {

enum class Field { rate, p50, p99 };

/// The per-repetition values of one field of one row in one mode (failed runs left out), by rep.
std::vector<std::pair<int, double>> values_of(const BenchResults& results, const std::string& id, Mode mode,
                                              Field field) {
  std::vector<std::pair<int, double>> values;
  for (const RunRecord& run : results.runs) {
    if (run.case_id != id || run.mode != mode || !run.ok) continue;
    double v = 0;
    switch (field) {
      case Field::rate:
        v = run.consumer.rate();
        break;
      case Field::p50:
        v = run.consumer.latency_p50_ns / 1e3;
        break;
      case Field::p99:
        v = run.consumer.latency_p99_ns / 1e3;
        break;
    }
    values.emplace_back(run.rep, v);
  }
  return values;
}

std::optional<double> median_of(const BenchResults& results, const std::string& id, Mode mode, Field field) {
  const auto pairs = values_of(results, id, mode, field);
  if (pairs.empty()) return std::nullopt;
  std::vector<double> v;
  for (const auto& [rep, value] : pairs) v.push_back(value);
  return median(v);
}

struct Metric {
  std::string id;
  Mode mode;
  Field field;
};

struct RatioSpec {
  std::string label;
  Metric numerator;
  Metric denominator;
  std::string goal;  ///< ">= 1", "<= 1.5", or "" (information only).
};

struct RatioValue {
  std::optional<double> value;    ///< median(numerator) / median(denominator)
  std::optional<double> rep_min;  ///< Paired per-repetition ratios (same rep, neighbours in time).
  std::optional<double> rep_max;
  std::string verdict;  ///< "met", "NOT met", "info", "n/a"
};

std::vector<RatioSpec> ratio_specs() {
  const Mode b = Mode::burst;
  const Mode p = Mode::paced;
  return {
      {"framebus 0-copy 6.2MB frames/s / iceoryx 6.2MB frames/s (burst)",
       {"framebus-loan-6m", b, Field::rate},
       {"iceoryx-6m", b, Field::rate},
       ">= 1"},
      {"framebus 64B p50 latency / iceoryx 64B p50 latency (paced)",
       {"framebus-loan-64", p, Field::p50},
       {"iceoryx-64", p, Field::p50},
       "<= 1"},
      {"framebus 0-copy 6.2MB p50 / framebus 64B p50 (paced)",
       {"framebus-loan-6m", p, Field::p50},
       {"framebus-loan-64", p, Field::p50},
       "<= 1.5"},
      {"framebus send frames/s / memcpy reference frames/s (burst)",
       {"framebus-send-6m", b, Field::rate},
       {"memcpy-6m", b, Field::rate},
       ">= 0.9"},
      {"framebus 0-copy 6.2MB p50 / framebus 64B p50 (burst, queueing)",
       {"framebus-loan-6m", b, Field::p50},
       {"framebus-loan-64", b, Field::p50},
       ""},
      {"framebus 0-copy 6.2MB p50 / iceoryx 6.2MB p50 (paced)",
       {"framebus-loan-6m", p, Field::p50},
       {"iceoryx-6m", p, Field::p50},
       ""},
      {"framebus 64B frames/s / iceoryx 64B frames/s (burst)",
       {"framebus-loan-64", b, Field::rate},
       {"iceoryx-64", b, Field::rate},
       ""},
      {"framebus 0-copy 6.2MB frames/s / POSIX ring no-copy (burst)",
       {"framebus-loan-6m", b, Field::rate},
       {"posix-nocopy-6m", b, Field::rate},
       ""},
      {"framebus send 6.2MB frames/s / POSIX ring memcpy (burst)",
       {"framebus-send-6m", b, Field::rate},
       {"posix-copy-6m", b, Field::rate},
       ""},
      {"framebus 64B frames/s / POSIX ring no-copy 64B (burst)",
       {"framebus-loan-64", b, Field::rate},
       {"posix-nocopy-64", b, Field::rate},
       ""},
      {"framebus 0-copy 6.2MB p50 / POSIX ring no-copy p50 (paced)",
       {"framebus-loan-6m", p, Field::p50},
       {"posix-nocopy-6m", p, Field::p50},
       ""},
      {"framebus 64B p50 / POSIX ring no-copy 64B p50 (paced)",
       {"framebus-loan-64", p, Field::p50},
       {"posix-nocopy-64", p, Field::p50},
       ""},
  };
}

RatioValue evaluate(const BenchResults& results, const RatioSpec& spec) {
  RatioValue out;
  const auto num = median_of(results, spec.numerator.id, spec.numerator.mode, spec.numerator.field);
  const auto den = median_of(results, spec.denominator.id, spec.denominator.mode, spec.denominator.field);
  if (!num || !den || *den == 0) {
    out.verdict = "n/a";
    return out;
  }
  out.value = *num / *den;
  const auto nums = values_of(results, spec.numerator.id, spec.numerator.mode, spec.numerator.field);
  const auto dens = values_of(results, spec.denominator.id, spec.denominator.mode, spec.denominator.field);
  for (const auto& [rep, n] : nums) {
    for (const auto& [rep_d, d] : dens) {
      if (rep_d != rep || d == 0) continue;
      const double r = n / d;
      out.rep_min = out.rep_min ? std::min(*out.rep_min, r) : r;
      out.rep_max = out.rep_max ? std::max(*out.rep_max, r) : r;
    }
  }
  if (spec.goal.empty()) {
    out.verdict = "info";
  } else {
    const double target = std::stod(spec.goal.substr(3));
    const bool met = spec.goal[0] == '>' ? *out.value >= target : *out.value <= target;
    out.verdict = met ? "met" : "NOT met";
  }
  return out;
}

std::string cell(std::optional<double> v, const char* format_spec) {
  if (!v) return "-";
  return fmt::format(fmt::runtime(format_spec), *v);
}

std::string thousands(double v) {
  auto digits = fmt::format("{:.0f}", v);
  std::string out;
  const std::size_t n = digits.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (i != 0 && (n - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

int count_runs(const BenchResults& results, const std::string& id, bool ok) {
  return static_cast<int>(std::count_if(results.runs.begin(), results.runs.end(),
                                        [&](const RunRecord& r) { return r.case_id == id && r.ok == ok; }));
}

}  // namespace

void print_report(const BenchResults& results, std::FILE* out) {
  const BenchConfig& c = results.config;
  fmt::print(out,
             "\nframebus channel_bench: 1 producer process -> 1 consumer process, queue depth {}, "
             "medians of {} interleaved repetitions{}\n",
             c.depth, c.reps, c.pin ? ", consumer pinned to CPU 0 and producer to CPU 1" : "");
  fmt::print(out,
             "burst: {:.1f} s measured per run; paced: {:.0f} msg/s for {:.1f} s (~{:.0f} samples); "
             "{:.2f} s unmeasured warm-up before each; latency = producer stamp before waiting "
             "for a slot -> consumer receipt\n\n",
             c.seconds, c.paced_rate, c.paced_seconds, c.paced_rate * c.paced_seconds, c.warmup_seconds);

  fmt::print(out, "{:<36} {:>8} | {:>11} {:>25} {:>9} {:>9} | {:>9} {:>9} {:>5}\n", "system", "payload", "frames/s",
             "[min .. max]", "p50 us", "p99 us", "p50 us", "p99 us", "n");
  fmt::print(out, "{:<36} {:>8} | {:^57} | {:^25}\n", "", "", "burst (as fast as possible)",
             fmt::format("paced ({:.0f}/s)", c.paced_rate));
  fmt::print(out, "{}\n", std::string(36 + 1 + 8 + 3 + 57 + 3 + 25, '-'));
  for (const CaseSpec& spec : results.cases) {
    const std::string payload = payload_label(spec.payload);
    if (const auto it = results.skipped.find(spec.id); it != results.skipped.end()) {
      fmt::print(out, "{:<36} {:>8} | skipped: {}\n", spec.label, payload, it->second);
      continue;
    }
    const auto rates = values_of(results, spec.id, Mode::burst, Field::rate);
    std::string range = "-";
    if (!rates.empty()) {
      double lo = rates.front().second;
      double hi = lo;
      for (const auto& [rep, v] : rates) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      range = "[" + thousands(lo) + " .. " + thousands(hi) + "]";
    }
    const auto rate = median_of(results, spec.id, Mode::burst, Field::rate);
    std::string paced_n = "-";
    if (spec.paced) {
      std::vector<double> counts;
      for (const RunRecord& r : results.runs) {
        if (r.case_id == spec.id && r.mode == Mode::paced && r.ok)
          counts.push_back(static_cast<double>(r.consumer.messages));
      }
      if (!counts.empty()) paced_n = fmt::format("{:.0f}", median(counts));
    }
    fmt::print(out, "{:<36} {:>8} | {:>11} {:>25} {:>9} {:>9} | {:>9} {:>9} {:>5}\n", spec.label, payload,
               rate ? thousands(*rate) : "-", range,
               cell(median_of(results, spec.id, Mode::burst, Field::p50), "{:.1f}"),
               cell(median_of(results, spec.id, Mode::burst, Field::p99), "{:.1f}"),
               spec.paced ? cell(median_of(results, spec.id, Mode::paced, Field::p50), "{:.1f}") : "-",
               spec.paced ? cell(median_of(results, spec.id, Mode::paced, Field::p99), "{:.1f}") : "-", paced_n);
  }
  if (std::any_of(results.cases.begin(), results.cases.end(),
                  [](const CaseSpec& spec) { return spec.transport == Transport::memcpy_ref; })) {
    fmt::print(out,
               "(memcpy reference: frames/s = copies/s of 6,220,800 B on one core; its p50/p99 = "
               "time per copy)\n");
  }

  fmt::print(out, "\nratios (median / median, same run; [per-repetition paired min .. max])\n");
  fmt::print(out, "{:<66} {:>7} {:>17} {:>7} {:>8}\n", "ratio", "value", "[per rep]", "goal", "verdict");
  fmt::print(out, "{}\n", std::string(66 + 1 + 7 + 1 + 17 + 1 + 7 + 1 + 8, '-'));
  for (const RatioSpec& spec : ratio_specs()) {
    const RatioValue v = evaluate(results, spec);
    const std::string range = v.rep_min ? fmt::format("[{:.2f} .. {:.2f}]", *v.rep_min, *v.rep_max) : "-";
    fmt::print(out, "{:<66} {:>7} {:>17} {:>7} {:>8}\n", spec.label, cell(v.value, "{:.2f}"), range,
               spec.goal.empty() ? "-" : spec.goal, v.verdict);
  }

  bool any_failure = false;
  for (const RunRecord& r : results.runs) {
    if (r.ok) continue;
    if (!any_failure) fmt::print(out, "\nfailed runs (left out of the medians):\n");
    any_failure = true;
    fmt::print(out, "  rep {} {} {}: {}\n", r.rep, to_string(r.mode), r.case_id, r.error);
  }
  for (const CaseSpec& spec : results.cases) {
    if (results.skipped.count(spec.id) == 0 && count_runs(results, spec.id, true) == 0) {
      fmt::print(out, "  {}: no successful run\n", spec.id);
    }
  }
  fmt::print(out, "\ntotal {:.0f} s\n", results.total_seconds);
}

nlohmann::json to_json(const BenchResults& results) {
  using nlohmann::json;
  const BenchConfig& c = results.config;
  json doc;
  doc["config"] = {{"reps", c.reps},
                   {"seconds", c.seconds},
                   {"warmup_seconds", c.warmup_seconds},
                   {"paced_rate", c.paced_rate},
                   {"paced_seconds", c.paced_seconds},
                   {"depth", c.depth},
                   {"only", c.only},
                   {"pin", c.pin}};
  doc["latency_definition"] =
      "producer CLOCK_MONOTONIC stamp before waiting for a slot -> consumer receipt, microseconds";
  json rows = json::array();
  for (const CaseSpec& spec : results.cases) {
    json row = {{"id", spec.id},
                {"system", spec.system},
                {"label", spec.label},
                {"transport", std::string(to_string(spec.transport))},
                {"payload_bytes", spec.payload}};
    if (const auto it = results.skipped.find(spec.id); it != results.skipped.end()) row["skipped"] = it->second;
    for (const Mode mode : {Mode::burst, Mode::paced}) {
      json runs = json::array();
      for (const RunRecord& r : results.runs) {
        if (r.case_id != spec.id || r.mode != mode) continue;
        json run = {{"rep", r.rep}, {"ok", r.ok}, {"wall_seconds", r.wall_seconds}};
        if (!r.ok) run["error"] = r.error;
        run["messages"] = r.consumer.messages;
        run["frames_per_s"] = r.consumer.rate();
        run["latency_us"] = {{"p50", r.consumer.latency_p50_ns / 1e3},
                             {"p99", r.consumer.latency_p99_ns / 1e3},
                             {"max", r.consumer.latency_max_ns / 1e3},
                             {"mean", r.consumer.latency_mean_ns / 1e3}};
        run["sequence_errors"] = r.consumer.sequence_errors;
        run["payload_errors"] = r.consumer.payload_errors;
        const auto process = [](const PeerResult& p) {
          return json{{"cpu_seconds", p.cpu_seconds},
                      {"voluntary_switches", p.voluntary_switches},
                      {"involuntary_switches", p.involuntary_switches},
                      {"last_cpu", p.last_cpu}};
        };
        run["consumer_process"] = process(r.consumer);
        if (spec.two_process) run["producer_process"] = process(r.producer);
        runs.push_back(std::move(run));
      }
      if (runs.empty()) continue;
      json summary;
      const auto put = [&](const char* key, std::optional<double> v) { summary[key] = v ? json(*v) : json(nullptr); };
      put("frames_per_s", median_of(results, spec.id, mode, Field::rate));
      put("latency_p50_us", median_of(results, spec.id, mode, Field::p50));
      put("latency_p99_us", median_of(results, spec.id, mode, Field::p99));
      row[std::string(to_string(mode))] = {{"median", summary}, {"runs", runs}};
    }
    rows.push_back(std::move(row));
  }
  doc["rows"] = rows;
  json ratios = json::array();
  for (const RatioSpec& spec : ratio_specs()) {
    const RatioValue v = evaluate(results, spec);
    json r = {{"label", spec.label}, {"verdict", v.verdict}};
    r["value"] = v.value ? json(*v.value) : json(nullptr);
    r["per_rep_min"] = v.rep_min ? json(*v.rep_min) : json(nullptr);
    r["per_rep_max"] = v.rep_max ? json(*v.rep_max) : json(nullptr);
    r["goal"] = spec.goal.empty() ? json(nullptr) : json(spec.goal);
    ratios.push_back(std::move(r));
  }
  doc["ratios"] = ratios;
  doc["total_seconds"] = results.total_seconds;
  return doc;
}

void write_json(const BenchResults& results, const std::string& path) {
  std::ofstream file(path);
  file << to_json(results).dump(2) << '\n';
  if (!file) throw std::runtime_error("cannot write " + path);
}

}  // namespace framebus::bench
