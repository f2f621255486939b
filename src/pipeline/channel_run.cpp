#include "pipeline/runs.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "framebus/channel/admin.hpp"
#include "framebus/channel/consumer.hpp"
#include "framebus/channel/producer.hpp"
#include "framebus/pipeline/decoder_status.hpp"
#include "framebus/pipeline/pipeline.hpp"
#include "framebus/pipeline/worker.hpp"
#include "pipeline/spawn.hpp"

namespace framebus::pipeline_detail {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(50);
// Stopping: the decoder first (the workers finish what is queued and see the end of their
// channels), then, past each grace period, the next harder step.
constexpr std::int64_t kStopGraceNs = 5'000'000'000;

struct WorkerSlot {
  std::uint32_t id = 0;
  std::string channel;
  std::vector<std::string> args;  // without --open-wait
  pid_t pid = -1;
};

std::string seconds_arg(Duration d) { return std::to_string(std::chrono::duration<double>(d).count()); }
std::string milliseconds_arg(Duration d) {
  return std::to_string(std::chrono::duration<double, std::milli>(d).count());
}

// Reads the decoder's JSON status lines (non-blocking) into the run's counters.
class DecoderReport {
 public:
  explicit DecoderReport(int fd) : fd_(fd) {}
  ~DecoderReport() {
    if (fd_ >= 0) ::close(fd_);
  }
  DecoderReport(const DecoderReport&) = delete;
  DecoderReport& operator=(const DecoderReport&) = delete;

  void read(Session& session) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      pending_.append(buf, static_cast<std::size_t>(n));
    }
    std::size_t eol;
    while ((eol = pending_.find('\n')) != std::string::npos) {
      const std::string line = pending_.substr(0, eol);
      pending_.erase(0, eol + 1);
      apply_decoder_status(line, session.stats()->decoder);
    }
  }

 private:
  int fd_;
  std::string pending_;
};

class ChannelRun {
 public:
  explicit ChannelRun(const RunContext& run)
      : o_(run.options),
        topology_(run.options.topology),
        exe_(run.executable),
        session_(run.session),
        stop_(run.stop) {}

  int run();

 private:
  bool create_channels();
  bool start_decoder();
  void start_workers();
  bool spawn_worker(WorkerSlot& w, Duration open_wait);
  void reap_children();
  void sample_channels();
  void release_frame_channels();
  void request_stop(std::int64_t now_ns);
  void remove_channels();
  std::uint32_t workers_running() const;
  std::uint32_t threads_per_process() const { return topology_ == Topology::threads ? o_.workers : 1; }

  const PipelineOptions& o_;
  Topology topology_;
  std::string exe_;
  Session& session_;
  const std::atomic<bool>& stop_;

  std::string prefix_;
  std::string frames_;
  std::vector<std::string> frame_channels_;                 // the channels workers read
  std::map<std::string, std::uint64_t> dead_letters_seen_;  // per channel: reported as failed frames
  std::string results_;
  std::vector<Producer> frames_keepalive_;
  std::optional<Producer> results_keepalive_;
  std::optional<Consumer> sink_;

  pid_t decoder_pid_ = -1;
  std::unique_ptr<DecoderReport> decoder_report_;
  std::optional<ExitInfo> decoder_exit_;
  std::vector<WorkerSlot> workers_;
  bool stopping_ = false;
  int stop_stage_ = 0;
  std::int64_t stop_deadline_ns_ = 0;
  std::int64_t next_sample_ns_ = 0;
  std::uint32_t workers_wanted_ = 0;
};

bool ChannelRun::create_channels() {
  prefix_ = o_.name.empty() ? "run-" + std::to_string(::getpid()) : o_.name;
  frames_ = prefix_ + ".frames";
  results_ = prefix_ + ".results";
  if (topology_ == Topology::per_stream) {
    for (std::size_t i = 0; i < o_.sources.size(); ++i) frame_channels_.push_back(frames_ + "." + std::to_string(i));
  } else {
    frame_channels_.push_back(frames_);
  }
  auto fail = [&](const Error& e) {
    session_.message(e.message());
    return false;
  };
  ProducerOptions frames;
  frames.slots = o_.slots;
  frames.slot_size = o_.slot_size;
  frames.policy = o_.policy;
  frames.groups = {GroupSpec{"workers", o_.policy}};
  frames.linger = Duration::zero();
  // The supervisor holds each channel from the start, so that workers may join before the
  // decoder and no frame is published before the workers' group exists.
  for (const auto& name : frame_channels_) {
    auto p = Producer::create(name, frames);
    if (!p) return fail(p.error());
    frames_keepalive_.push_back(std::move(*p));
  }
  auto results = results_channel_options();
  results.linger = Duration::zero();
  auto r = Producer::create(results_, results);
  if (!r) return fail(r.error());
  results_keepalive_ = std::move(*r);
  auto sink = Consumer::open(results_, ConsumerOptions{.group = "sink"});
  if (!sink) return fail(sink.error());
  sink_ = std::move(*sink);
  return true;
}

bool ChannelRun::start_decoder() {
  std::vector<std::string> args{"decode"};
  args.insert(args.end(), o_.sources.begin(), o_.sources.end());
  const SourceOptions& d = o_.decode;
  const Duration status_interval = std::max<Duration>(std::chrono::milliseconds(100), o_.progress_interval / 2);
  args.insert(args.end(), {"--channel", frames_, "--group", "workers", "--slots", std::to_string(o_.slots),
                           "--slot-size", std::to_string(o_.slot_size), "--policy", std::string(to_string(o_.policy)),
                           "--status-json", "--status-interval", seconds_arg(status_interval), "--linger", "600",
                           "--loop", std::to_string(d.loop), "--threads", std::to_string(d.decode_threads)});
  if (topology_ == Topology::per_stream) args.emplace_back("--channel-per-stream");
  if (d.max_fps > 0) args.insert(args.end(), {"--max-fps", std::to_string(d.max_fps)});
  if (d.realtime) args.emplace_back("--realtime");
  if (d.reconnect) args.emplace_back("--reconnect");
  if (d.width) args.insert(args.end(), {"--width", std::to_string(d.width)});
  if (d.height) args.insert(args.end(), {"--height", std::to_string(d.height)});
  for (const auto& [index, s] : o_.source_options)
    args.insert(args.end(), {"--stream-options", stream_options_arg(index, s)});
  auto child = spawn_child(exe_, args, true);
  if (!child) {
    session_.message(std::string("cannot start the decoder: ") + std::strerror(errno));
    return false;
  }
  decoder_pid_ = child->pid;
  decoder_report_ = std::make_unique<DecoderReport>(child->out_fd);
  return true;
}

bool ChannelRun::spawn_worker(WorkerSlot& w, Duration open_wait) {
  auto args = w.args;
  args.insert(args.end(), {"--open-wait", seconds_arg(open_wait)});
  auto child = spawn_child(exe_, args, false);
  if (!child) {
    session_.stats()->errors.push_back("cannot start worker " + std::to_string(w.id) + ": " + std::strerror(errno));
    return false;
  }
  w.pid = child->pid;
  // One tally per worker thread of the process (ids w.id, w.id + 1, ...), so that the summary
  // lists every worker, also one that got no frame; restarts are counted on the first.
  auto stats = session_.stats();
  for (std::uint32_t i = 0; i < threads_per_process(); ++i) {
    auto& tally = stats->workers[w.id + i];
    tally.process.pid = static_cast<std::uint32_t>(child->pid);
    tally.process.running = true;
  }
  return true;
}

void ChannelRun::start_workers() {
  const std::uint32_t cores = std::max(1U, std::thread::hardware_concurrency());
  std::uint32_t processes = o_.workers;
  std::uint32_t per_process = 1;
  if (topology_ == Topology::per_stream) processes = static_cast<std::uint32_t>(frame_channels_.size());
  if (topology_ == Topology::threads) {
    per_process = o_.workers;
    processes = 1;
  }
  workers_wanted_ = processes * per_process;
  const int threads = o_.threads > 0 ? o_.threads : static_cast<int>(std::max(1U, cores / workers_wanted_));
  for (std::uint32_t i = 0; i < processes; ++i) {
    WorkerSlot w;
    w.id = i * per_process;
    w.channel = frame_channels_[topology_ == Topology::per_stream ? i : 0];
    w.args = {"worker",
              "--channel",
              w.channel,
              "--results",
              results_,
              "--batch",
              std::to_string(o_.batch),
              "--batch-timeout",
              milliseconds_arg(o_.batch_timeout),
              "--id",
              std::to_string(w.id),
              "--threads",
              std::to_string(threads),
              "--worker-threads",
              std::to_string(per_process)};
    const auto model = model_args(o_.model);
    w.args.insert(w.args.end(), model.begin(), model.end());
    if (o_.copy) w.args.emplace_back("--copy");
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) spawn_worker(w, std::chrono::seconds(30));
}

std::uint32_t ChannelRun::workers_running() const {
  std::uint32_t n = 0;
  for (const auto& w : workers_) {
    if (w.pid > 0) n += threads_per_process();
  }
  return n;
}

void ChannelRun::reap_children() {
  if (decoder_pid_ > 0) {
    if (auto exit = poll_exit(decoder_pid_)) {
      decoder_report_->read(session_);
      decoder_exit_ = exit;
      decoder_pid_ = -1;
      if (!exit->ok() && !stopping_) {
        session_.stats()->errors.push_back("the decoder ended with " + exit->describe());
      }
      // The decoder's streams are over. The workers see the end of their channels once the
      // supervisor lets go of them (release_frame_channels), when no frame waits any more.
    }
  }
  for (auto& w : workers_) {
    if (w.pid <= 0) continue;
    auto exit = poll_exit(w.pid);
    if (!exit) continue;
    w.pid = -1;
    std::uint32_t restarts = 0;
    {
      auto stats = session_.stats();
      for (std::uint32_t i = 0; i < threads_per_process(); ++i) {
        auto& thread = stats->workers[w.id + i];
        thread.process.running = false;
        thread.process.last_exit = exit->describe();
      }
      restarts = stats->workers[w.id].process.restarts;
    }
    if (exit->ok() || stopping_) continue;  // a worker that ended is not started again
    // A crashed worker is replaced while its channel still has work (its held frames are
    // redelivered to whichever worker of the group takes them next).
    auto info = inspect_channel(w.channel);
    // With the decoder gone and no frame waiting, there is nothing left for a replacement.
    bool work_left = decoder_pid_ > 0;
    for (const auto& g : info ? info->groups : std::vector<GroupInfo>{})
      work_left = work_left || (g.name == "workers" && g.pending > 0);
    if (info && !work_left) continue;
    if (!info || restarts >= o_.max_restarts) {
      if (info) session_.stats()->errors.push_back("worker " + std::to_string(w.id) + " crashed too often");
      continue;
    }
    ++session_.stats()->workers[w.id].process.restarts;
    session_.message("worker " + std::to_string(w.id) + " " + exit->describe() + "; restarting it");
    (void)spawn_worker(w, std::chrono::seconds(2));  // a failed start is recorded in the run's errors
  }
}

void ChannelRun::sample_channels() {
  std::uint32_t queued = 0;
  for (const auto& name : frame_channels_) {
    auto info = inspect_channel(name);
    if (!info) continue;
    for (const auto& g : info->groups) {
      if (g.name != "workers") continue;
      queued += g.queued;
      // A frame that killed max_deliveries workers is given up by the channel: it becomes a
      // failed frame in the results (empty top), so the sink neither waits for it nor calls it a gap.
      std::uint64_t& seen = dead_letters_seen_[name];
      const std::uint64_t first_kept = g.dead_letters - g.recent_dead_letters.size();
      for (std::uint64_t k = std::max(seen, first_kept); k < g.dead_letters; ++k) {
        const DeadLetter& d = g.recent_dead_letters[k - first_kept];
        InferenceResult failed;
        failed.stream = d.stream;
        failed.frame = d.frame;
        failed.received_ns = failed.infer_start_ns = failed.infer_end_ns = detail::monotonic_ns();
        session_.take(std::move(failed), detail::monotonic_ns());
        session_.message("stream " + std::to_string(d.stream) + " frame " + std::to_string(d.frame) + " killed " +
                         std::to_string(d.deliveries) +
                         " workers in turn; it is given up (a dead letter) and reported as failed");
      }
      seen = g.dead_letters;
      for (const auto& d : g.drops_by_stream) session_.stats()->channel_drops[d.stream] = d.dropped;
    }
  }
  session_.stats()->queued = queued;
}

// The supervisor holds the frame channels until the decoder is gone and no frame waits for a
// worker: a worker that died holding frames leaves them to its replacement, and while every
// worker is dead between a crash and its restart, the channel (with those frames) must not be
// left to dead processes alone, or it would be removed as garbage.
void ChannelRun::release_frame_channels() {
  if (frames_keepalive_.empty() || decoder_pid_ > 0) return;
  const bool workers_gone =
      std::all_of(workers_.begin(), workers_.end(), [](const WorkerSlot& w) { return w.pid < 0; });
  if (!workers_gone && !stopping_) {
    // A worker still loading its model has not joined yet: released now, the channel would be
    // gone before it looks for it, and it would blame a missing channel for what was a source
    // error (a decoder that failed at once). Every running worker joins first.
    std::map<std::string, std::uint32_t> joining;
    for (const auto& w : workers_) {
      if (w.pid > 0) joining[w.channel] += threads_per_process();
    }
    for (const auto& name : frame_channels_) {
      auto info = inspect_channel(name);
      if (!info) continue;
      for (const auto& g : info->groups) {
        if (g.name != "workers") continue;
        if (g.pending > 0 || g.members < joining[name]) return;
      }
    }
  }
  sample_channels();  // the last dead letters become failed results before the channels go
  for (auto& p : frames_keepalive_) (void)p.close();
  frames_keepalive_.clear();
}

void ChannelRun::request_stop(std::int64_t now_ns) {
  if (!stopping_) {
    stopping_ = true;
    stop_deadline_ns_ = now_ns + kStopGraceNs;
    if (decoder_pid_ > 0) ::kill(decoder_pid_, SIGTERM);
    return;
  }
  if (now_ns < stop_deadline_ns_) return;
  stop_deadline_ns_ = now_ns + kStopGraceNs;
  ++stop_stage_;
  const int worker_signal = stop_stage_ == 1 ? SIGTERM : SIGKILL;
  if (decoder_pid_ > 0) ::kill(decoder_pid_, SIGKILL);
  for (const auto& w : workers_) {
    if (w.pid > 0) ::kill(w.pid, worker_signal);
  }
}

void ChannelRun::remove_channels() {
  // After an interruption (or a crash) a channel may still be registered to a dead process.
  for (const auto& name : frame_channels_) (void)remove_channel(name);
  (void)remove_channel(results_);
}

int ChannelRun::run() {
  if (!create_channels()) {
    remove_channels();
    return kRunSetupFailed;
  }
  start_workers();
  if (!start_decoder()) {
    request_stop(detail::monotonic_ns());
  }
  bool results_ended = false;
  while (!results_ended) {
    const std::int64_t now = detail::monotonic_ns();
    if (stop_.load() || stopping_) request_stop(now);
    auto received = sink_->receive(kPoll);
    if (!received) {
      session_.stats()->errors.push_back("results channel: " + received.error().message());
      request_stop(now);
      break;
    }
    if (received->status == Received::Status::end_of_channel) {
      results_ended = true;
    } else if (received->has_message()) {
      auto record = decode_result(received->message.data());
      if (record) {
        session_.take(std::move(*record), detail::monotonic_ns());
      } else {
        session_.stats()->errors.push_back("a malformed result: " + record.error().message());
      }
    }
    if (decoder_report_) decoder_report_->read(session_);
    // A stop asked while receiving is acted on before exits are judged: a child that ended from
    // the same signal (SIGTERM to the process group) is neither an error nor restarted.
    if (stop_.load()) request_stop(detail::monotonic_ns());
    reap_children();
    release_frame_channels();
    if (now >= next_sample_ns_) {
      sample_channels();
      next_sample_ns_ = now + 250'000'000;
    }
    session_.tick(detail::monotonic_ns(), workers_running(), workers_wanted_);
    const bool workers_gone =
        std::all_of(workers_.begin(), workers_.end(), [](const WorkerSlot& w) { return w.pid < 0; });
    if (workers_gone && decoder_pid_ > 0 && !stopping_) {
      // Workers end only after their channels do, which needs the decoder gone first: with none
      // left (crashed beyond --max-restarts) nothing would take the decoder's frames.
      session_.stats()->errors.push_back("no worker is left; stopping the decoder");
      request_stop(now);
    }
    const bool children_done = decoder_pid_ < 0 && std::all_of(workers_.begin(), workers_.end(),
                                                               [](const WorkerSlot& w) { return w.pid < 0; });
    if (children_done && results_keepalive_) {
      sample_channels();  // the last dead letters, before the frame channels go
      // Every producer of results is gone once this closes: the sink drains and sees the end.
      for (auto& p : frames_keepalive_) (void)p.close();
      frames_keepalive_.clear();
      (void)results_keepalive_->close();
      results_keepalive_.reset();
    }
  }
  sink_->close();
  const bool interrupted = stopping_ && stop_.load();
  remove_channels();
  session_.finish(detail::monotonic_ns());
  bool failed = false;
  {
    auto stats = session_.stats();
    for (const auto& [id, d] : stats->decoder) {
      if (d.state == "error") failed = true;
    }
    if (!stats->errors.empty()) failed = true;
  }
  if (decoder_exit_ && !decoder_exit_->ok() && !interrupted) failed = true;
  if (interrupted) return kRunInterrupted;
  return failed ? kRunStreamFailed : kRunOk;
}

}  // namespace

int run_with_channels(const RunContext& context) {
  ChannelRun run(context);
  return run.run();
}

}  // namespace framebus::pipeline_detail
