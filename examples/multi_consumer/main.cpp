// multi_consumer: one producer process publishes 4 streams of 640x360 BGR frames into one
// channel; 3 consumer processes of ONE group share them. The parent checks that every frame of
// every stream was delivered exactly once to the group, and that each consumer saw the frames
// of each stream in increasing order. Exit status 0 only if every check passes.
//
//   parent ── fork ──> producer   Producer::create, "ready", waits for "go", loan/publish x1000,
//          │                      end_stream x4, close
//          └─ fork ──> consumer×3 Consumer::open(group "workers"), "ready", receive until the
//                                 end of the channel, report what it got
//
// Each child talks to the parent over its own pipe, in lines of text. The parent sends "go" once
// every child is ready, so that all three consumers share the work; the whole run is bounded by
// kDeadline, after which the parent kills the children and fails.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <framebus/framebus.hpp>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kStreams = 4;
constexpr std::uint64_t kFrames = 250;  // per stream
constexpr int kConsumers = 3;
constexpr std::uint32_t kWidth = 640;
constexpr std::uint32_t kHeight = 360;
constexpr const char* kGroup = "workers";
constexpr auto kDeadline = 60s;
// The first bytes of every image carry its stream and frame, so that a consumer can tell that
// the payload it maps is the one the metadata describes.
constexpr std::size_t kStampBytes = sizeof(std::uint32_t) + sizeof(std::uint64_t);

// ---------------------------------------------------------------------------------------------
// Children

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent is gone; nothing left to tell
    done += static_cast<std::size_t>(n);
  }
}

/// The byte every pixel of frame `frame` of stream `stream` is painted with.
std::byte fill_value(std::uint32_t stream, std::uint64_t frame) {
  return static_cast<std::byte>((stream * 64U + frame) & 0xFFU);
}

void paint(std::span<std::byte> image, std::uint32_t stream, std::uint64_t frame) {
  std::memset(image.data(), std::to_integer<int>(fill_value(stream, frame)), image.size());
  std::memcpy(image.data(), &stream, sizeof stream);
  std::memcpy(image.data() + sizeof stream, &frame, sizeof frame);
}

/// True when `image` is what paint() wrote for (stream, frame); checks the stamp and a few pixels.
bool payload_matches(std::span<const std::byte> image, std::uint32_t stream, std::uint64_t frame) {
  if (image.size() <= kStampBytes) return false;
  std::uint32_t stamped_stream = 0;
  std::uint64_t stamped_frame = 0;
  std::memcpy(&stamped_stream, image.data(), sizeof stamped_stream);
  std::memcpy(&stamped_frame, image.data() + sizeof stamped_stream, sizeof stamped_frame);
  const std::byte value = fill_value(stream, frame);
  return stamped_stream == stream && stamped_frame == frame && image[kStampBytes] == value &&
         image[image.size() / 2] == value && image[image.size() - 1] == value;
}

/// Producer process: creates the channel, waits for "go" on `go_fd`, publishes every frame.
int run_producer(const std::string& name, int report_fd, int go_fd) {
  const framebus::ImageDesc image = framebus::ImageDesc::packed(kWidth, kHeight, framebus::PixelFormat::bgr24);
  framebus::ProducerOptions options;
  options.slots = 16;
  options.slot_size = image.byte_size();
  // Declared at creation, so the group receives from the first message on, whoever joins first.
  options.groups = {{kGroup, std::nullopt}};
  // A stuck consumer makes the producer fail instead of waiting forever.
  options.block_timeout = 20s;

  auto producer = framebus::Producer::create(name, options);
  if (!producer) {
    write_all(report_fd, "error Producer::create: " + producer.error().message() + "\n");
    return 1;
  }
  write_all(report_fd, "ready\n");
  char go = 0;
  while (::read(go_fd, &go, 1) < 0 && errno == EINTR) {
  }
  if (go != 'g') {
    write_all(report_fd, "error the parent did not say go\n");
    return 1;
  }

  std::uint64_t published = 0;
  // Streams interleaved frame by frame, as cameras would be.
  for (std::uint64_t frame = 0; frame < kFrames; ++frame) {
    for (std::uint32_t stream = 0; stream < kStreams; ++stream) {
      auto loan = producer->loan(image.byte_size());
      if (!loan) {
        write_all(report_fd, "error loan: " + loan.error().message() + "\n");
        return 1;
      }
      paint(loan->data(), stream, frame);
      const framebus::MessageMeta meta{.stream = stream,
                                       .frame = frame,
                                       .pts = static_cast<std::int64_t>(frame) * 40,  // 25 fps, ms
                                       .kind = framebus::PayloadKind::image,
                                       .image = image};
      if (auto sent = producer->publish(std::move(*loan), meta); !sent) {
        write_all(report_fd, "error publish: " + sent.error().message() + "\n");
        return 1;
      }
      ++published;
    }
  }
  for (std::uint32_t stream = 0; stream < kStreams; ++stream) {
    if (auto ended = producer->end_stream(stream); !ended) {
      write_all(report_fd, "error end_stream: " + ended.error().message() + "\n");
      return 1;
    }
  }
  if (auto closed = producer->close(); !closed) {
    write_all(report_fd, "error close: " + closed.error().message() + "\n");
    return 1;
  }
  write_all(report_fd, "published " + std::to_string(published) + "\nclosed\n");
  return 0;
}

/// Consumer process: joins the group, receives until the end of the channel, then reports one
/// line per message ("frame S F", "eos S") and how it ended ("end REASON" or "error TEXT").
int run_consumer(const std::string& name, int report_fd) {
  const framebus::ConsumerOptions options{.group = kGroup, .policy = std::nullopt, .wait = 5s};
  auto consumer = framebus::Consumer::open(name, options);
  if (!consumer) {
    write_all(report_fd, "error Consumer::open: " + consumer.error().message() + "\n");
    return 1;
  }
  write_all(report_fd, "ready\n");

  std::string report;
  std::array<std::int64_t, kStreams> last_frame{};
  last_frame.fill(-1);
  int status = 0;
  for (;;) {
    auto received = consumer->receive(5s);
    if (!received) {
      report += "error receive: " + received.error().message() + "\n";
      status = 1;
      break;
    }
    if (received->status == framebus::Received::Status::timeout) {
      report += "error receive: nothing for 5 s\n";
      status = 1;
      break;
    }
    if (received->status == framebus::Received::Status::end_of_channel) {
      report += "end " + std::string(framebus::to_string(received->reason)) + "\n";
      break;
    }
    const framebus::Message& sample = received->message;
    const std::uint32_t stream = sample.stream();
    if (stream >= kStreams) {
      report += "error unknown stream " + std::to_string(stream) + "\n";
      status = 1;
      continue;
    }
    if (sample.is_end_of_stream()) {
      report += "eos " + std::to_string(stream) + "\n";
      continue;
    }
    const std::uint64_t frame = sample.frame();
    if (static_cast<std::int64_t>(frame) <= last_frame[stream]) {
      report += "error order: stream " + std::to_string(stream) + " frame " + std::to_string(frame) + " after frame " +
                std::to_string(last_frame[stream]) + "\n";
      status = 1;
    }
    last_frame[stream] = static_cast<std::int64_t>(frame);
    if (sample.kind() != framebus::PayloadKind::image || sample.image().width != kWidth ||
        sample.image().height != kHeight || !payload_matches(sample.data(), stream, frame)) {
      report += "error payload: stream " + std::to_string(stream) + " frame " + std::to_string(frame) +
                " does not hold the image that was sent\n";
      status = 1;
    }
    report += "frame " + std::to_string(stream) + " " + std::to_string(frame) + "\n";
  }
  write_all(report_fd, report);
  return status;
}

// ---------------------------------------------------------------------------------------------
// Parent

struct Child {
  std::string role;    // "producer" or "consumer N"
  pid_t pid = -1;      // -1 once reaped
  pid_t spawned = -1;  // for the report
  int report_fd = -1;  // read end of the child's report pipe; -1 once at EOF
  std::string report;
  bool ready = false;
  int exit_status = -1;  // -1 until reaped or when killed
};

/// Forks a child that runs `body(report_fd)` and exits with its result.
template <typename Body>
bool spawn(Child& child, Body body) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    std::fprintf(stderr, "pipe2: %s\n", std::strerror(errno));
    return false;
  }
  child.pid = ::fork();
  if (child.pid < 0) {
    std::fprintf(stderr, "fork: %s\n", std::strerror(errno));
    return false;
  }
  child.spawned = child.pid;
  if (child.pid == 0) {
    ::close(fds[0]);
    const int status = body(fds[1]);
    ::_exit(status);
  }
  ::close(fds[1]);
  child.report_fd = fds[0];
  return true;
}

/// Reads every child's report until all are at EOF, sending "go" once all are ready. Returns
/// false when the deadline passes or a child ends before it got ready.
bool collect_reports(std::vector<Child>& children, int go_fd, Clock::time_point deadline) {
  bool go_sent = false;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Child*> owners;
    for (auto& child : children) {
      if (child.report_fd < 0) continue;
      fds.push_back({child.report_fd, POLLIN, 0});
      owners.push_back(&child);
    }
    if (fds.empty()) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) {
      std::fprintf(stderr, "FAIL: not done after %lld s\n",
                   static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(kDeadline).count()));
      return false;
    }
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) {
      std::fprintf(stderr, "poll: %s\n", std::strerror(errno));
      return false;
    }
    for (std::size_t i = 0; n > 0 && i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Child& child = *owners[i];
      std::array<char, 8192> buf{};
      const ssize_t got = ::read(child.report_fd, buf.data(), buf.size());
      if (got < 0 && errno == EINTR) continue;
      if (got > 0) {
        child.report.append(buf.data(), static_cast<std::size_t>(got));
        child.ready = child.ready || child.report.find("ready\n") != std::string::npos;
        continue;
      }
      ::close(child.report_fd);
      child.report_fd = -1;
      if (!child.ready && !go_sent) {
        std::fprintf(stderr, "FAIL: %s ended before it was ready: %s", child.role.c_str(),
                     child.report.empty() ? "(no report)\n" : child.report.c_str());
        return false;
      }
    }
    if (!go_sent && std::all_of(children.begin(), children.end(), [](const Child& c) { return c.ready; })) {
      const char go = 'g';
      if (::write(go_fd, &go, 1) != 1) {
        std::fprintf(stderr, "FAIL: could not tell the producer to start: %s\n", std::strerror(errno));
        return false;
      }
      go_sent = true;
    }
  }
}

/// Waits for every child until the deadline; kills those still running then.
void reap(std::vector<Child>& children, Clock::time_point deadline) {
  for (auto& child : children) {
    if (child.pid <= 0) continue;
    int status = 0;
    pid_t done = 0;
    while ((done = ::waitpid(child.pid, &status, WNOHANG)) == 0 && Clock::now() < deadline) {
      // The child has closed its report pipe and is exiting; give it the CPU.
      pollfd none{-1, 0, 0};
      ::poll(&none, 0, 10);
    }
    if (done == 0) {
      ::kill(child.pid, SIGKILL);
      ::waitpid(child.pid, &status, 0);
      child.exit_status = -1;
    } else if (done > 0 && WIFEXITED(status)) {
      child.exit_status = WEXITSTATUS(status);
    }
    child.pid = -1;
  }
}

void kill_all(std::vector<Child>& children) {
  for (auto& child : children) {
    if (child.pid > 0) ::kill(child.pid, SIGKILL);
  }
  reap(children, Clock::now());
}

std::vector<std::string> lines_starting_with(const std::string& report, const std::string& word) {
  std::vector<std::string> found;
  std::istringstream in(report);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(word + " ", 0) == 0) found.push_back(line.substr(word.size() + 1));
  }
  return found;
}

}  // namespace

int main() {
  // A child that dies early must turn the parent's write into an error, not a fatal signal.
  ::signal(SIGPIPE, SIG_IGN);
  const std::string name = "demo.multi_consumer." + std::to_string(::getpid());
  const auto deadline = Clock::now() + kDeadline;
  const framebus::ImageDesc image = framebus::ImageDesc::packed(kWidth, kHeight, framebus::PixelFormat::bgr24);

  std::printf("multi_consumer: channel %s\n", name.c_str());
  std::printf("  1 producer -> %u streams x %" PRIu64 " frames of %ux%u bgr24 (%" PRIu64
              " bytes each, loaned in place)\n  -> %d consumer processes in group \"%s\"\n\n",
              kStreams, kFrames, kWidth, kHeight, image.byte_size(), kConsumers, kGroup);
  std::fflush(stdout);  // or the children inherit the buffered text and print it again

  std::array<int, 2> go{};
  if (::pipe2(go.data(), O_CLOEXEC) != 0) {
    std::fprintf(stderr, "pipe2: %s\n", std::strerror(errno));
    return 1;
  }
  std::vector<Child> children(1 + kConsumers);
  children[0].role = "producer";
  bool spawned = spawn(children[0], [&](int report_fd) {
    ::close(go[1]);
    return run_producer(name, report_fd, go[0]);
  });
  ::close(go[0]);
  for (int i = 1; spawned && i <= kConsumers; ++i) {
    children[static_cast<std::size_t>(i)].role = "consumer " + std::to_string(i);
    spawned = spawn(children[static_cast<std::size_t>(i)], [&](int report_fd) {
      ::close(go[1]);
      return run_consumer(name, report_fd);
    });
  }
  const bool collected = spawned && collect_reports(children, go[1], deadline);
  ::close(go[1]);
  if (!collected) {
    kill_all(children);
    (void)framebus::remove_channel(name);
    return 1;
  }
  reap(children, deadline);
  (void)framebus::remove_channel(name);

  // -- Checks -----------------------------------------------------------------------------------
  bool ok = true;
  std::vector<std::string> failures;
  auto fail = [&](const std::string& why) {
    ok = false;
    failures.push_back(why);
  };

  const Child& producer = children[0];
  const auto published = lines_starting_with(producer.report, "published");
  std::printf("producer   pid %d: published %s frames + %u end-of-stream markers, %s (exit %d)\n\n",
              static_cast<int>(producer.spawned), published.empty() ? "?" : published[0].c_str(), kStreams,
              producer.report.find("closed\n") != std::string::npos ? "closed" : "NOT closed", producer.exit_status);
  for (const auto& e : lines_starting_with(producer.report, "error")) fail("producer: " + e);
  if (producer.exit_status != 0) fail("producer exited with " + std::to_string(producer.exit_status));

  // times[stream][frame]: how often the group received that frame, over every consumer.
  std::vector<std::vector<int>> times(kStreams, std::vector<int>(kFrames, 0));
  std::array<int, kStreams> eos{};
  std::printf("consumer  pid      stream 0  stream 1  stream 2  stream 3  total  eos  end     order  exit\n");
  for (int i = 1; i <= kConsumers; ++i) {
    const Child& child = children[static_cast<std::size_t>(i)];
    std::array<std::uint64_t, kStreams> count{};
    std::uint64_t total = 0;
    bool unexpected = false;
    for (const auto& line : lines_starting_with(child.report, "frame")) {
      std::uint32_t stream = 0;
      std::uint64_t frame = 0;
      if (std::sscanf(line.c_str(), "%" SCNu32 " %" SCNu64, &stream, &frame) != 2 || stream >= kStreams ||
          frame >= kFrames) {
        unexpected = true;
        continue;
      }
      ++times[stream][frame];
      ++count[stream];
      ++total;
    }
    if (unexpected) fail(child.role + ": received a frame outside 0.." + std::to_string(kFrames - 1));
    int eos_here = 0;
    for (const auto& line : lines_starting_with(child.report, "eos")) {
      const auto stream = static_cast<std::uint32_t>(std::stoul(line));
      if (stream < kStreams) ++eos[stream];
      ++eos_here;
    }
    const auto errors = lines_starting_with(child.report, "error");
    bool order_ok = true;
    for (const auto& e : errors) {
      order_ok = order_ok && e.rfind("order", 0) != 0;
      fail(child.role + ": " + e);
    }
    const auto end = lines_starting_with(child.report, "end");
    const std::string end_reason = end.empty() ? "-" : end[0];
    if (end_reason != "closed") fail(child.role + ": channel ended with \"" + end_reason + "\", not \"closed\"");
    if (child.exit_status != 0) fail(child.role + " exited with " + std::to_string(child.exit_status));
    std::printf("%-8d  %-7d  %8" PRIu64 "  %8" PRIu64 "  %8" PRIu64 "  %8" PRIu64 "  %5" PRIu64
                "  %3d  %-6s  %-5s  %4d\n",
                i, static_cast<int>(child.spawned), count[0], count[1], count[2], count[3], total, eos_here,
                end_reason.c_str(), order_ok ? "ok" : "BAD", child.exit_status);
  }

  std::printf("\nstream  delivered  missing  duplicated  end-of-stream markers\n");
  for (std::uint32_t stream = 0; stream < kStreams; ++stream) {
    std::uint64_t delivered = 0;
    std::uint64_t missing = 0;
    std::uint64_t duplicated = 0;
    for (const int n : times[stream]) {
      delivered += static_cast<std::uint64_t>(n);
      if (n == 0) ++missing;
      if (n > 1) ++duplicated;
    }
    std::printf("%6u  %9" PRIu64 "  %7" PRIu64 "  %10" PRIu64 "  %21d\n", stream, delivered, missing, duplicated,
                eos[stream]);
    if (missing != 0 || duplicated != 0) {
      fail("stream " + std::to_string(stream) + ": " + std::to_string(missing) + " frames missing, " +
           std::to_string(duplicated) + " delivered more than once");
    }
    if (eos[stream] != 1) {
      fail("stream " + std::to_string(stream) + ": " + std::to_string(eos[stream]) +
           " end-of-stream markers reached the group, expected 1");
    }
  }

  std::printf("\n");
  if (ok) {
    std::printf("PASS: every frame 0..%" PRIu64
                " of each of the %u streams was delivered exactly "
                "once to group \"%s\", in increasing order within each stream in every consumer\n",
                kFrames - 1, kStreams, kGroup);
    return 0;
  }
  for (const auto& why : failures) std::printf("FAIL: %s\n", why.c_str());
  return 1;
}
