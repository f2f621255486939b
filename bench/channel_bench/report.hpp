#pragma once
// Turns the runs into what a reader needs: one table of medians over the repetitions, the ratios
// the project's goals are stated in (computed within this run only), and a JSON dump.

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "runner.hpp"

namespace framebus::bench {

void print_report(const BenchResults& results, std::FILE* out);
nlohmann::json to_json(const BenchResults& results);
/// Writes to_json(results) to `path`; throws std::runtime_error when it cannot.
void write_json(const BenchResults& results, const std::string& path);

}  // namespace framebus::bench
