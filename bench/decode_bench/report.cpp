#include "report.hpp"

#include <algorithm>
#include <fstream>

namespace framebus::bench {
namespace {

std::optional<double> median(std::vector<double> values) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2.0;
}

std::optional<double> median_seconds(const Series& series) {
  std::vector<double> values;
  for (const auto& run : series.runs) {
    if (run.ok) values.push_back(run.seconds);
  }
  return median(values);
}

// Ratios of the runs of one repetition: both systems ran back to back, so machine drift
// between repetitions cancels out and the range shows how stable the ratio is.
std::vector<double> paired_ratios(const Comparison& c) {
  std::vector<double> ratios;
  const std::size_t n = std::min(c.framebus.runs.size(), c.reference.runs.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto& a = c.framebus.runs[i];
    const auto& b = c.reference.runs[i];
    if (a.ok && b.ok && b.fps() > 0.0) ratios.push_back(a.fps() / b.fps());
  }
  return ratios;
}

std::string fmt_or_dash(const std::optional<double>& v, const char* spec) {
  if (!v) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, *v);
  return buf;
}

void print_series(std::FILE* out, const std::string& description, const Series& s) {
  std::vector<double> fps;
  for (const auto& run : s.runs) {
    if (run.ok) fps.push_back(run.fps());
  }
  std::string range = "-";
  if (!fps.empty()) {
    const auto [lo, hi] = std::minmax_element(fps.begin(), fps.end());
    char buf[64];
    std::snprintf(buf, sizeof buf, "[%.1f .. %.1f]", *lo, *hi);
    range = buf;
  }
  std::fprintf(out, "%-34s %-9s %10s %9s  %-20s %zu/%zu ok\n", description.c_str(), s.system.c_str(),
               fmt_or_dash(median_fps(s), "%.1f").c_str(), fmt_or_dash(median_seconds(s), "%.3f").c_str(),
               range.c_str(), fps.size(), s.runs.size());
  for (std::size_t i = 0; i < s.runs.size(); ++i) {
    if (!s.runs[i].ok) std::fprintf(out, "    rep %zu failed: %s\n", i + 1, s.runs[i].error.c_str());
  }
}

std::string json_escape(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += ' ';
    } else {
      out += ch;
    }
  }
  return out;
}

std::string json_number(const std::optional<double>& v) {
  if (!v) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", *v);
  return buf;
}

void write_series_json(std::ofstream& out, const Series& s) {
  out << "{\"system\": \"" << json_escape(s.system) << "\", \"median_fps\": " << json_number(median_fps(s))
      << ", \"median_seconds\": " << json_number(median_seconds(s)) << ", \"runs\": [";
  for (std::size_t i = 0; i < s.runs.size(); ++i) {
    const auto& r = s.runs[i];
    out << (i == 0 ? "" : ", ") << "{\"ok\": " << (r.ok ? "true" : "false") << ", \"frames\": " << r.frames
        << ", \"seconds\": " << json_number(r.seconds) << ", \"fps\": " << json_number(r.fps()) << ", \"error\": \""
        << json_escape(r.error) << "\"}";
  }
  out << "]}";
}

}  // namespace

std::optional<double> median_fps(const Series& series) {
  std::vector<double> values;
  for (const auto& run : series.runs) {
    if (run.ok) values.push_back(run.fps());
  }
  return median(values);
}

std::optional<double> median_ratio(const Comparison& c) {
  const auto a = median_fps(c.framebus);
  const auto b = median_fps(c.reference);
  if (!a || !b || *b <= 0.0) return std::nullopt;
  return *a / *b;
}

bool goals_met(const std::vector<Comparison>& comparisons) {
  for (const auto& c : comparisons) {
    if (!c.goal) continue;
    const auto ratio = median_ratio(c);
    if (!ratio || *ratio < *c.goal) return false;
  }
  return true;
}

void print_report(std::FILE* out, const Settings& settings, const std::vector<Comparison>& comparisons) {
  std::fprintf(out,
               "\nframebus decode_bench: decode + convert to BGR24, %d decoder thread(s) per stream, "
               "%d repetition(s), systems interleaved, medians shown\n\n",
               settings.threads, settings.reps);
  std::fprintf(out, "%-34s %-9s %10s %9s  %-20s %s\n", "workload", "system", "frames/s", "seconds",
               "[min .. max frames/s]", "runs");
  for (const auto& c : comparisons) {
    print_series(out, c.description, c.framebus);
    print_series(out, c.description, c.reference);
  }
  std::fprintf(out, "\nratios (framebus frames/s / ffmpeg frames/s, medians; per-repetition range in brackets)\n");
  for (const auto& c : comparisons) {
    const auto ratio = median_ratio(c);
    const auto paired = paired_ratios(c);
    std::string range;
    if (!paired.empty()) {
      const auto [lo, hi] = std::minmax_element(paired.begin(), paired.end());
      char buf[64];
      std::snprintf(buf, sizeof buf, " [%.3f .. %.3f]", *lo, *hi);
      range = buf;
    }
    std::string verdict = "no goal, for information";
    if (c.goal) {
      char buf[96];
      const char* state = !ratio ? "NOT MEASURED" : (*ratio >= *c.goal ? "MET" : "NOT MET");
      std::snprintf(buf, sizeof buf, "goal >= %.2f: %s", *c.goal, state);
      verdict = buf;
    }
    std::fprintf(out, "  %-34s %7s%s  %s\n", c.description.c_str(), fmt_or_dash(ratio, "%.3f").c_str(), range.c_str(),
                 verdict.c_str());
  }
  std::fflush(out);
}

bool write_json(const std::string& path, const Settings& settings, const std::vector<Comparison>& comparisons) {
  std::ofstream out(path);
  if (!out) return false;
  out << "{\"threads\": " << settings.threads << ", \"reps\": " << settings.reps << ", \"frames\": " << settings.frames
      << ", \"comparisons\": [";
  for (std::size_t i = 0; i < comparisons.size(); ++i) {
    const auto& c = comparisons[i];
    out << (i == 0 ? "" : ", ") << "\n  {\"id\": \"" << json_escape(c.id) << "\", \"description\": \""
        << json_escape(c.description) << "\", \"ratio\": " << json_number(median_ratio(c))
        << ", \"goal\": " << json_number(c.goal) << ", \"framebus\": ";
    write_series_json(out, c.framebus);
    out << ", \"ffmpeg\": ";
    write_series_json(out, c.reference);
    out << "}";
  }
  out << "\n], \"goals_met\": " << (goals_met(comparisons) ? "true" : "false") << "}\n";
  return static_cast<bool>(out);
}

}  // namespace framebus::bench
