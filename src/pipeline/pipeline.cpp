#include "framebus/pipeline/pipeline.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "framebus/decode/probe.hpp"
#include "pipeline/runs.hpp"
#include "pipeline/session.hpp"
#include "pipeline/spawn.hpp"

namespace framebus {

using pipeline_detail::RunContext;
using pipeline_detail::Session;

struct Pipeline::Impl {
  explicit Impl(PipelineOptions o) : options(std::move(o)), session(options) {}

  PipelineOptions options;
  std::string executable;
  std::atomic<bool> stop{false};
  std::atomic<bool> ran{false};
  std::vector<std::string> unreadable;  // local sources create() could not read, reported by run()
  Session session;                      // after options, which it reads
};

namespace {

// Each check names the option as PipelineOptions (and the `framebus run` flag) spells it.
Result<void> validate(const PipelineOptions& o) {
  auto bad = [](const std::string& option, const std::string& why) {
    return make_error(ErrorCode::invalid_argument, option + ": " + why);
  };
  auto range = [&](const std::string& option, std::int64_t value, std::int64_t low, std::int64_t high) -> Result<void> {
    if (value >= low && value <= high) return {};
    return bad(option, "must be between " + std::to_string(low) + " and " + std::to_string(high) + ", not " +
                           std::to_string(value));
  };
  if (o.sources.empty()) return bad("sources", "at least one source is needed");
  for (const auto& s : o.sources) {
    if (s.empty()) return bad("sources", "a source is an empty string");
  }
  if (o.model.model.empty()) return bad("model", "a model file is needed");
  for (auto check :
       {range("workers", o.workers, 1, 32), range("batch", o.batch, 1, 256), range("top_k", o.model.top_k, 1, 16),
        range("threads", o.threads, 0, 1024), range("decode_threads", o.decode.decode_threads, 0, 1024),
        range("loop", o.decode.loop, 0, 1 << 30)}) {
    if (!check) return check;
  }
  for (const auto& [index, s] : o.source_options) {
    const std::string option = "source_options[" + std::to_string(index) + "]";
    if (index >= o.sources.size())
      return bad(option, "there are only " + std::to_string(o.sources.size()) + " sources");
    for (auto check :
         {range(option + ".loop", s.loop, 0, 1 << 30), range(option + ".decode_threads", s.decode_threads, 0, 1024)}) {
      if (!check) return check;
    }
    if (!(s.max_fps >= 0.0)) return bad(option + ".max_fps", "must not be negative");
  }
  if (o.batch_timeout < Duration::zero()) return bad("batch_timeout", "must not be negative");
  if (o.gap_timeout < Duration::zero()) return bad("gap_timeout", "must not be negative");
  if (o.progress_interval <= Duration::zero()) return bad("progress_interval", "must be positive");
  if (!(o.decode.max_fps >= 0.0)) return bad("max_fps", "must not be negative");
  if (o.slot_size == 0) return bad("slot_size", "must be positive");
  return {};
}

}  // namespace

Result<Pipeline> Pipeline::create(PipelineOptions options) {
  if (auto ok = validate(options); !ok) return tl::unexpected(ok.error());
  if (options.slots == 0) {
    // Room for every worker's batch in flight and as much again queued behind it.
    const std::uint32_t readers = options.topology == Topology::per_stream ? 1 : options.workers;
    options.slots = std::max(16U, 2 * readers * options.batch + 4);
  }
  auto executable = pipeline_detail::find_executable(options.executable);
  if (!executable) return tl::unexpected(executable.error());
  // The model is checked before any stream starts: a wrong path or a file that is not a model
  // ends the run here, with the reason.
  if (auto check = Classifier::create(to_classifier_options(options.model, 1, options.batch)); !check) {
    return tl::unexpected(check.error());
  }
  // So are local sources: a path that does not exist or holds no video is named here, in well
  // under a second, instead of by a decoder child after the workers have started. When no source
  // can be read the run ends here; otherwise the others go on, and run() reports the unreadable
  // ones before anything starts (their streams then end in error, as the decoder finds them).
  // Network sources are left to their streams (they come and go; reconnecting is their business).
  std::vector<std::string> unreadable;
  for (const auto& source : options.sources) {
    if (source_kind(source) == "network") continue;
    if (auto info = probe_source(source); !info) unreadable.push_back(info.error().message());
  }
  if (!unreadable.empty() && unreadable.size() == options.sources.size()) {
    std::string all = "sources: ";
    for (std::size_t i = 0; i < unreadable.size(); ++i) all += (i ? "; " : "") + unreadable[i];
    return make_error(ErrorCode::invalid_argument, all);
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->executable = std::move(*executable);
  impl->unreadable = std::move(unreadable);
  return Pipeline(std::move(impl));
}

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;
Pipeline::~Pipeline() = default;

const PipelineOptions& Pipeline::options() const noexcept { return impl_->options; }

RunReport Pipeline::run() {
  Session& session = impl_->session;
  if (impl_->ran.exchange(true)) {
    session.message("a Pipeline runs once");
    return RunReport{kRunSetupFailed, session.snapshot(detail::monotonic_ns())};
  }
  session.stats()->start_ns = detail::monotonic_ns();
  for (const auto& problem : impl_->unreadable) session.message("sources: " + problem + " (the other sources go on)");
  const RunContext context{impl_->options, impl_->executable, session, impl_->stop};
  const int status = impl_->options.topology == Topology::queue ? pipeline_detail::run_with_queue(context)
                                                                : pipeline_detail::run_with_channels(context);
  session.end_results();
  return RunReport{status, session.snapshot(detail::monotonic_ns())};
}

void Pipeline::stop() noexcept { impl_->stop.store(true); }

RunSnapshot Pipeline::stats() const { return impl_->session.snapshot(detail::monotonic_ns()); }

std::optional<SinkEntry> Pipeline::next_result(std::optional<Duration> timeout) {
  return impl_->session.next_result(timeout);
}

}  // namespace framebus
