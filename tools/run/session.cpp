#include "run/session.hpp"

#include <unistd.h>

#include <iostream>

namespace framebus::cli {

std::unique_ptr<Session> Session::open(const RunOptions& options, std::string& error) {
  std::unique_ptr<std::ofstream> file;
  if (options.out != "-") {
    file = std::make_unique<std::ofstream>(options.out, std::ios::trunc);
    if (!*file) {
      error = "cannot write the results file '" + options.out + "'";
      return nullptr;
    }
  }
  return std::unique_ptr<Session>(new Session(options, std::move(file)));
}

Session::Session(const RunOptions& options, std::unique_ptr<std::ofstream> file)
    : options_(options),
      file_(std::move(file)),
      out_(file_ ? file_.get() : &std::cout),
      sink_(SinkOptions{std::chrono::duration_cast<Duration>(std::chrono::duration<double>(options.gap_timeout))},
            [this](const SinkEntry& e) { write(e); }) {
  stats_.topology = options.topology;
  // Stream i is the i-th --source in every topology: the display and the summary name it from
  // the start, before the decoder's first report (a short run can end before that comes).
  for (std::uint32_t i = 0; i < options.sources.size(); ++i) stats_.decoder[i].source = options.sources[i];
  tty_ = ::isatty(STDERR_FILENO) != 0;
}

std::ostream& Session::console() noexcept { return file_ ? std::cout : std::cerr; }

void Session::write(const SinkEntry& entry) { *out_ << result_line(entry) << '\n'; }

void Session::take(InferenceResult record, std::int64_t now_ns) {
  stats_.count(record);
  sink_.add(std::move(record), now_ns);
}

void Session::tick(std::int64_t now_ns, std::uint32_t workers_running, std::uint32_t workers_wanted) {
  sink_.tick(now_ns);
  if (!options_.progress || now_ns < next_progress_ns_) return;
  next_progress_ns_ = now_ns + static_cast<std::int64_t>(options_.interval * 1e9);
  const auto lines = progress_lines(stats_, sink_, now_ns, workers_running, workers_wanted);
  // On a terminal the display is redrawn in place; in a log it is a block per interval.
  if (tty_ && drawn_ > 0) std::cerr << "\033[" << drawn_ << "A";
  for (const auto& line : lines) std::cerr << (tty_ ? "\033[K" : "") << line << '\n';
  drawn_ = lines.size();
  out_->flush();
}

bool Session::finish(std::int64_t now_ns) {
  sink_.finish(now_ns);
  stats_.end_ns = now_ns;
  out_->flush();
  print_summary(console(), stats_, sink_);
  console().flush();
  if (options_.report.empty()) return true;
  std::ofstream report(options_.report, std::ios::trunc);
  report << report_json(stats_, sink_).dump(2) << '\n';
  if (!report) {
    std::cerr << "framebus run: cannot write the report '" << options_.report << "'\n";
    return false;
  }
  return true;
}

}  // namespace framebus::cli
