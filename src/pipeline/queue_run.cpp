// Topology::queue (`framebus run --topology queue`): the baseline that pipelines built on multiprocessing queues
// have today. One OpenCV reader process per source writes copies of its frames down a pipe; one
// consumer copies them into a bounded queue, classifies them in batches and orders the results.
// It shares the sink, output and report with the channel topologies so both can be compared.

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "framebus/classify/classifier.hpp"
#include "framebus/pipeline/pipeline.hpp"
#include "pipeline/frame_pipe.hpp"
#include "pipeline/runs.hpp"
#include "pipeline/spawn.hpp"

namespace framebus::pipeline_detail {
namespace {

struct QueuedFrame {
  FramePipeHeader header;
  std::vector<std::byte> bytes;
};

struct Reader {
  std::uint32_t stream = 0;
  pid_t pid = -1;
  int fd = -1;
  std::vector<std::byte> buffer;  // bytes read and not yet parsed
  std::uint64_t frames = 0;
};

// Moves every complete message out of the reader's buffer: frames into the queue, end markers
// straight to the session (the sink orders them).
void parse(Reader& r, std::deque<QueuedFrame>& queue, Session& session) {
  std::size_t offset = 0;
  for (;;) {
    if (r.buffer.size() - offset < sizeof(FramePipeHeader)) break;
    FramePipeHeader h;
    std::memcpy(&h, r.buffer.data() + offset, sizeof h);
    if (h.magic != kFramePipeMagic) {
      session.stats()->errors.push_back("reader of stream " + std::to_string(r.stream) + " wrote a malformed frame");
      r.buffer.clear();
      return;
    }
    if (h.end_of_stream) {
      InferenceResult end;
      end.kind = InferenceResult::Kind::end_of_stream;
      end.stream = h.stream;
      end.frame = h.frame;
      session.take(end, detail::monotonic_ns());
      offset += sizeof h;
      continue;
    }
    if (r.buffer.size() - offset - sizeof h < h.bytes) break;
    QueuedFrame f;
    f.header = h;
    const auto* begin = r.buffer.data() + offset + sizeof h;
    f.bytes.assign(begin, begin + h.bytes);
    queue.push_back(std::move(f));
    ++r.frames;
    session.stats()->decoder[r.stream].published = r.frames;
    offset += sizeof h + h.bytes;
  }
  r.buffer.erase(r.buffer.begin(), r.buffer.begin() + static_cast<std::ptrdiff_t>(offset));
}

}  // namespace

int run_with_queue(const RunContext& run) {
  const PipelineOptions& o = run.options;
  Session& session = run.session;
  const std::atomic<bool>& stop = run.stop;
  const std::uint32_t cores = std::max(1U, std::thread::hardware_concurrency());
  auto classifier =
      Classifier::create(to_classifier_options(o.model, o.threads > 0 ? o.threads : static_cast<int>(cores), o.batch));
  if (!classifier) {
    session.message(classifier.error().message());
    return kRunSetupFailed;
  }
  std::vector<Reader> readers;
  for (std::uint32_t i = 0; i < o.sources.size(); ++i) {
    const SourceOptions& decode = source_options(o, i);
    std::vector<std::string> args{"read-frames",     o.sources[i], "--stream",
                                  std::to_string(i), "--loop",     std::to_string(decode.loop)};
    if (decode.width && decode.height) {
      args.insert(args.end(), {"--width", std::to_string(decode.width), "--height", std::to_string(decode.height)});
    }
    auto child = spawn_child(run.executable, args, true);
    auto stats = session.stats();
    auto& d = stats->decoder[i];
    d.source = o.sources[i];
    if (!child) {
      d.state = "error";
      d.message = std::string("cannot start a reader: ") + std::strerror(errno);
      continue;
    }
    d.state = "running";
    readers.push_back(Reader{i, child->pid, child->out_fd, {}, 0});
  }
  // The bounded queue: a full queue stops reading the pipes, and the readers block on them.
  const std::size_t capacity = std::max<std::size_t>(8, 2 * o.batch);
  std::deque<QueuedFrame> queue;
  std::int64_t batch_deadline_ns = -1;
  const std::int64_t batch_timeout_ns = o.batch_timeout.count();
  std::uint64_t batches = 0;
  bool interrupted = false;
  for (;;) {
    if (stop.load() && !interrupted) {
      interrupted = true;
      for (const auto& r : readers) {
        if (r.pid > 0) ::kill(r.pid, SIGTERM);
      }
    }
    const bool reading = std::any_of(readers.begin(), readers.end(), [](const Reader& r) { return r.fd >= 0; });
    if (!reading && queue.empty()) break;
    if (interrupted && !reading) break;
    const std::int64_t now = detail::monotonic_ns();
    if (!queue.empty() && batch_deadline_ns < 0) batch_deadline_ns = now + batch_timeout_ns;
    const bool batch_due = queue.size() >= o.batch || (!queue.empty() && (now >= batch_deadline_ns || !reading));
    if (batch_due && !interrupted) {
      const std::size_t n = std::min<std::size_t>(o.batch, queue.size());
      std::vector<QueuedFrame> batch(std::make_move_iterator(queue.begin()),
                                     std::make_move_iterator(queue.begin() + static_cast<std::ptrdiff_t>(n)));
      queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
      batch_deadline_ns = -1;
      std::vector<ImageRef> refs;
      for (const auto& f : batch) {
        refs.push_back(
            ImageRef{f.bytes.data(), ImageDesc::packed(f.header.width, f.header.height, PixelFormat::bgr24)});
      }
      const std::int64_t received = detail::monotonic_ns();
      auto predictions = classifier->classify(std::span<const ImageRef>(refs));
      const std::int64_t done = detail::monotonic_ns();
      ++batches;
      if (!predictions) session.stats()->errors.push_back("classification failed: " + predictions.error().message());
      for (std::size_t i = 0; i < batch.size(); ++i) {
        InferenceResult r;
        r.stream = batch[i].header.stream;
        r.frame = batch[i].header.frame;
        r.pts_us = batch[i].header.pts_us;
        r.published_ns = batch[i].header.published_ns;
        r.received_ns = received;
        r.infer_start_ns = received;
        r.infer_end_ns = done;
        r.batch = batches;
        r.batch_size = static_cast<std::uint32_t>(batch.size());
        r.worker_pid = static_cast<std::uint32_t>(::getpid());
        if (predictions) r.top = std::move((*predictions)[i]);
        session.take(std::move(r), detail::monotonic_ns());
      }
      session.stats()->queued = static_cast<std::uint32_t>(queue.size());
      session.tick(detail::monotonic_ns(), 1, 1);
      continue;
    }
    // Once stopped, nothing queued is classified any more: it is let go, so that the pipes are
    // read to their end (the killed readers' EOF) even when the queue was full.
    if (interrupted) queue.clear();
    // Read while the queue has room; otherwise just wait for the batch deadline.
    std::vector<pollfd> fds;
    std::vector<Reader*> polled;
    if (queue.size() < capacity) {
      for (auto& r : readers) {
        if (r.fd < 0) continue;
        fds.push_back(pollfd{r.fd, POLLIN, 0});
        polled.push_back(&r);
      }
    }
    int wait_ms = 50;
    if (batch_deadline_ns >= 0)
      wait_ms = static_cast<int>(std::clamp<std::int64_t>((batch_deadline_ns - now) / 1'000'000, 0, 50));
    ::poll(fds.data(), fds.size(), wait_ms);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Reader& r = *polled[i];
      std::byte chunk[1 << 16];
      const ssize_t n = ::read(r.fd, chunk, sizeof chunk);
      if (n > 0) {
        r.buffer.insert(r.buffer.end(), chunk, chunk + n);
        parse(r, queue, session);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::close(r.fd);
        r.fd = -1;
      }
    }
    for (auto& r : readers) {
      if (r.pid <= 0 || r.fd >= 0) continue;
      std::optional<ExitInfo> exit;
      // The pipe is closed: the reader is exiting; collect its status without spinning long.
      for (int tries = 0; tries < 200 && !(exit = poll_exit(r.pid)); ++tries) ::usleep(5000);
      if (!exit) {
        ::kill(r.pid, SIGKILL);
        continue;
      }
      r.pid = -1;
      auto stats = session.stats();
      auto& d = stats->decoder[r.stream];
      if (exit->ok()) {
        d.state = "eof";
      } else if (!interrupted) {
        d.state = "error";
        d.message = "reader " + exit->describe();
      }
    }
    // The display's queue depth: frames read and waiting for the consumer's next batch.
    session.stats()->queued = static_cast<std::uint32_t>(queue.size());
    session.tick(detail::monotonic_ns(), 1, 1);
  }
  for (auto& r : readers) {
    if (r.fd >= 0) ::close(r.fd);
    if (r.pid > 0) {
      ::kill(r.pid, SIGKILL);
      while (!poll_exit(r.pid)) ::usleep(1000);
    }
  }
  session.stats()->workers[0].process.last_exit = "in-process";
  session.finish(detail::monotonic_ns());
  bool failed = false;
  for (const auto& [id, d] : session.stats()->decoder) {
    if (d.state == "error") failed = true;
  }
  if (interrupted) return kRunInterrupted;
  return failed ? kRunStreamFailed : kRunOk;
}

}  // namespace framebus::pipeline_detail
