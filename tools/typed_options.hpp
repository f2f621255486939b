#pragma once
// Flags that write straight into the library's typed options: a value the library parses (an
// enum by name, a size with its unit) and a duration given as a number of seconds or
// milliseconds. A bad value is refused while the command line is parsed, with the library's own
// message, and nothing starts.

#include <chrono>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "framebus/error.hpp"
#include "framebus/units.hpp"

namespace framebus::cli {

/// Exit status for a value the library refused (the same as a run whose options are bad).
inline constexpr int kExitBadValue = 2;

/// `flag` takes a word that `parse` (text -> Result<T>) turns into `target`; `shown` is the
/// default --help prints.
template <typename T, typename Parse>
CLI::Option* add_parsed_option(CLI::App& cmd, const std::string& flag, T& target, Parse parse, const std::string& help,
                               const std::string& shown) {
  return cmd
      .add_option_function<std::string>(
          flag,
          [flag, &target, parse](const std::string& text) {
            auto value = parse(text);
            if (!value) throw CLI::ValidationError(flag + ": " + value.error().message(), kExitBadValue);
            target = *value;
          },
          help)
      ->default_str(shown);
}

/// A number of at least `low` (`strict`: more than `low`). Refused as "--flag: must be > 0, not -5"
/// (CLI11's own range message prints the largest double).
inline CLI::Validator at_least(double low, bool strict) {
  char bound[32];
  std::snprintf(bound, sizeof bound, "%g", low);
  const std::string rule = std::string(strict ? "> " : ">= ") + bound;
  return CLI::Validator(
      [low, strict, rule](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value)) return "must be a number " + rule + ", not '" + text + "'";
        if (strict ? value > low : value >= low) return {};
        return "must be " + rule + ", not " + text;
      },
      "NUMBER " + rule, "");
}
/// Seconds, rates, timeouts that must be more than zero / zero or more.
inline CLI::Validator positive() { return at_least(0, true); }
inline CLI::Validator non_negative() { return at_least(0, false); }

/// `flag` takes a number of `Unit`s (std::ratio<1>: seconds, std::milli: milliseconds).
template <typename Unit = std::ratio<1>>
CLI::Option* add_duration_option(CLI::App& cmd, const std::string& flag, Duration& target, const std::string& help) {
  using Count = std::chrono::duration<double, Unit>;
  char shown[32];
  std::snprintf(shown, sizeof shown, "%g", Count(target).count());
  return cmd
      .add_option_function<double>(
          flag, [&target](double count) { target = std::chrono::duration_cast<Duration>(Count(count)); }, help)
      ->default_str(shown);
}

}  // namespace framebus::cli
