// Tests of the `framebus` command-line tool: real channels, the real binary, real processes.
// The binary's path comes from FRAMEBUS_CLI_PATH ($<TARGET_FILE:framebus_cli>).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framebus/framebus.hpp"

#ifndef FRAMEBUS_CLI_PATH
#error "FRAMEBUS_CLI_PATH must name the framebus binary"
#endif

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A channel name no other test (or concurrent run) uses.
std::string unique_name(const std::string& tag) { return "cli_test." + tag + "." + std::to_string(::getpid()); }

bool shm_exists(const std::string& name) {
  struct stat st {};
  return ::stat(framebus::channel_path(name).c_str(), &st) == 0;
}

/// Removes the channel when the test ends, whatever the outcome.
class ChannelGuard {
 public:
  explicit ChannelGuard(std::string name) : name_(std::move(name)) {}
  ChannelGuard(const ChannelGuard&) = delete;
  ChannelGuard& operator=(const ChannelGuard&) = delete;
  ~ChannelGuard() { (void)framebus::remove_channel(name_); }

 private:
  std::string name_;
};

/// Milliseconds left until `deadline`, for poll(); 0 once it passed.
int millis_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

struct CliResult {
  int exit_code = -1;  ///< -1 when killed by a signal or timed out.
  bool timed_out = false;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const CliResult& r) {
  return os << "exit " << r.exit_code << (r.timed_out ? " (timed out)" : "") << "\n--- stdout\n"
            << r.out << "--- stderr\n"
            << r.err;
}

/// Runs the framebus binary with `args`, capturing stdout and stderr; killed after `limit`.
CliResult run_cli(const std::vector<std::string>& args, std::chrono::milliseconds limit = 20s) {
  CliResult result;
  std::array<int, 2> out_pipe{};
  std::array<int, 2> err_pipe{};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0 || ::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return result;
  }
  std::vector<std::string> argv_strings{FRAMEBUS_CLI_PATH};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return result;
  }
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);

  const auto deadline = Clock::now() + limit;
  std::array<pollfd, 2> fds{pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
  std::array<std::string*, 2> sinks{&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    const int ready = ::poll(fds.data(), fds.size(), millis_left(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      result.timed_out = true;
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      std::array<char, 4096> buf{};
      const ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
      if (n > 0) {
        sinks[i]->append(buf.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  if (result.timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

/// Runs `framebus <args> --json` and parses stdout; fails the test on bad JSON.
json run_cli_json(const std::vector<std::string>& args, int expected_exit = 0) {
  std::vector<std::string> full = args;
  full.emplace_back("--json");
  const CliResult r = run_cli(full);
  EXPECT_EQ(r.exit_code, expected_exit) << r;
  json parsed = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(parsed.is_discarded()) << "not JSON:\n" << r;
  return parsed;
}

/// The object of channel `name` in the output of `ls --json`, if listed.
std::optional<json> find_channel(const json& listing, const std::string& name) {
  if (!listing.is_array()) return std::nullopt;
  for (const auto& channel : listing) {
    if (channel.value("name", "") == name) return channel;
  }
  return std::nullopt;
}

/// A forked process that creates a Producer on a channel (and optionally sends a few messages),
/// reports readiness over a pipe, then waits until the parent closes the pipe or kills it.
class ProducerProcess {
 public:
  ProducerProcess(std::string name, framebus::ProducerOptions options, int messages = 0)
      : name_(std::move(name)), options_(std::move(options)), messages_(messages) {}
  ProducerProcess(const ProducerProcess&) = delete;
  ProducerProcess& operator=(const ProducerProcess&) = delete;
  ~ProducerProcess() { kill_and_reap(); }

  /// Forks and waits (bounded) until the child has created its producer. Returns the error text
  /// the child reported, or an empty string.
  std::string start(std::chrono::milliseconds limit = 10s) {
    std::array<int, 2> ready{};  // child -> parent: "ok" or an error text, then EOF
    std::array<int, 2> hold{};   // parent -> child: closed (EOF) tells the child to leave
    if (::pipe2(ready.data(), O_CLOEXEC) != 0 || ::pipe2(hold.data(), O_CLOEXEC) != 0) {
      return std::string("pipe2: ") + std::strerror(errno);
    }
    pid_ = ::fork();
    if (pid_ < 0) return std::string("fork: ") + std::strerror(errno);
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(hold[1]);
      ::_exit(child_main(ready[1], hold[0]));
    }
    ::close(ready[1]);
    ::close(hold[0]);
    hold_fd_ = hold[1];

    std::string reply;
    const auto deadline = Clock::now() + limit;
    for (;;) {
      pollfd fd{ready[0], POLLIN, 0};
      const int n = ::poll(&fd, 1, millis_left(deadline));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        reply = "timed out waiting for the producer process";
        break;
      }
      std::array<char, 512> buf{};
      const ssize_t got = ::read(ready[0], buf.data(), buf.size());
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      reply.append(buf.data(), static_cast<std::size_t>(got));
      if (reply == "ok") break;
    }
    ::close(ready[0]);
    return reply == "ok" ? std::string() : (reply.empty() ? "producer process exited" : reply);
  }

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  /// kill -9, then reap the zombie so that the pid is really gone.
  void kill_and_reap() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
    // Only now: closing the pipe first would let the child leave cleanly before the signal lands.
    if (hold_fd_ >= 0) {
      ::close(hold_fd_);
      hold_fd_ = -1;
    }
  }

 private:
  int child_main(int ready_fd, int hold_fd) {
    auto say = [ready_fd](const std::string& text) {
      (void)!::write(ready_fd, text.data(), text.size());
      ::close(ready_fd);
    };
    auto producer = framebus::Producer::create(name_, options_);
    if (!producer) {
      say("Producer::create: " + producer.error().message());
      return 1;
    }
    const std::array<std::byte, 64> payload{};
    for (int i = 0; i < messages_; ++i) {
      auto sent = producer->send(payload, framebus::MessageMeta{.stream = 0, .frame = static_cast<std::uint64_t>(i)});
      if (!sent) {
        say("send: " + sent.error().message());
        return 1;
      }
    }
    say("ok");
    // Wait for EOF: the parent closed its end, or died. Bounded by the parent's lifetime.
    char byte = 0;
    while (::read(hold_fd, &byte, 1) < 0 && errno == EINTR) {
    }
    return 0;
  }

  std::string name_;
  framebus::ProducerOptions options_;
  int messages_ = 0;
  pid_t pid_ = -1;
  int hold_fd_ = -1;
};

framebus::ProducerOptions small_options(std::uint32_t slots, std::uint64_t slot_size) {
  framebus::ProducerOptions options;
  options.slots = slots;
  options.slot_size = slot_size;
  options.groups = {{"workers", std::nullopt}};
  options.linger = 0s;
  return options;
}

// ---------------------------------------------------------------------------------------------
// framebus --version, usage

TEST(Cli, version_flag_prints_the_library_version) {
  const CliResult r = run_cli({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r;
  const std::string version = std::to_string(framebus::kVersionMajor) + "." + std::to_string(framebus::kVersionMinor) +
                              "." + std::to_string(framebus::kVersionPatch);
  EXPECT_NE(r.out.find("framebus " + version), std::string::npos) << r;
}

TEST(Cli, missing_subcommand_is_a_usage_error) {
  const CliResult r = run_cli({});
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_FALSE(r.err.empty()) << r;
}

TEST(Cli, rm_without_names_is_a_usage_error) {
  const CliResult r = run_cli({"rm"});
  EXPECT_NE(r.exit_code, 0) << r;
}

// Every command refuses a value out of its range while parsing, naming the flag, the rule and the
// value, with the one status for a bad command line (2); nothing starts.
TEST(Cli, an_out_of_range_flag_value_is_refused_naming_the_flag_and_the_rule) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases{
#ifdef FRAMEBUS_HAS_DECODE
      {{"decode", "a.mp4", "--channel", "c", "--max-fps", "-5"}, "--max-fps: must be >= 0, not -5"},
      {{"decode", "a.mp4", "--channel", "c", "--linger", "-1"}, "--linger: must be >= 0, not -1"},
      {{"decode", "a.mp4", "--channel", "c", "--connect-timeout", "-3"}, "--connect-timeout: must be > 0, not -3"},
      {{"decode", "a.mp4", "--channel", "c", "--status-interval", "soon"}, "--status-interval: must be a number > 0"},
#endif
#ifdef FRAMEBUS_HAS_PIPELINE
      {{"run", "--source", "a.mp4", "--model", "m.onnx", "--max-fps", "-5"}, "--max-fps: must be >= 0, not -5"},
      {{"run", "--source", "a.mp4", "--model", "m.onnx", "--progress-interval", "0"},
       "--progress-interval: must be > 0, not 0"},
#endif
  };
  for (const auto& c : cases) {
    const CliResult r = run_cli(c.args);
    EXPECT_EQ(r.exit_code, 2) << r;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r;
    EXPECT_EQ(r.err.find("179769"), std::string::npos) << "no largest-double bound: " << r;
  }
  EXPECT_EQ(run_cli({"ls", "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(run_cli({"--help"}).exit_code, 0);
}

// ---------------------------------------------------------------------------------------------
// framebus ls

TEST(CliLs, json_shows_geometry_participants_groups_and_queues) {
  const std::string name = unique_name("ls_json");
  ChannelGuard guard(name);
  ProducerProcess producer(name, small_options(8, 4096), /*messages=*/3);
  ASSERT_EQ(producer.start(), "");

  framebus::ConsumerOptions consumer_options;
  consumer_options.group = "workers";
  consumer_options.wait = 5s;
  auto consumer = framebus::Consumer::open(name, consumer_options);
  ASSERT_TRUE(consumer) << consumer.error().message();
  // Hold one message so that the group shows one held and two queued.
  auto received = consumer->receive(5s);
  ASSERT_TRUE(received) << received.error().message();
  ASSERT_EQ(received->status, framebus::Received::Status::message);

  const json listing = run_cli_json({"ls"});
  ASSERT_TRUE(listing.is_array()) << listing.dump(2);
  const auto channel = find_channel(listing, name);
  ASSERT_TRUE(channel) << "channel " << name << " not listed:\n" << listing.dump(2);
  const json& c = *channel;

  EXPECT_TRUE(c["error"].is_null()) << c.dump(2);
  EXPECT_EQ(c["path"], framebus::channel_path(name));
  EXPECT_EQ(c["slot_count"], 8);
  EXPECT_EQ(c["slot_size"], 4096);
  EXPECT_EQ(c["mode"], "0600");
  EXPECT_EQ(c["published"], 3);
  EXPECT_EQ(c["end_reason"], "none");
  EXPECT_EQ(c["stale"], false);

  bool saw_producer = false;
  bool saw_consumer = false;
  ASSERT_TRUE(c["participants"].is_array()) << c.dump(2);
  for (const auto& p : c["participants"]) {
    if (p["role"] == "producer" && p["pid"] == producer.pid()) {
      saw_producer = true;
      EXPECT_EQ(p["alive"], true);
      EXPECT_TRUE(p["group"].is_null());
    }
    if (p["role"] == "consumer" && p["pid"] == ::getpid()) {
      saw_consumer = true;
      EXPECT_EQ(p["alive"], true);
      EXPECT_EQ(p["group"], "workers");
      EXPECT_EQ(p["held"], 1);
    }
  }
  EXPECT_TRUE(saw_producer) << "no producer with pid " << producer.pid() << ":\n" << c.dump(2);
  EXPECT_TRUE(saw_consumer) << "no consumer with pid " << ::getpid() << ":\n" << c.dump(2);

  ASSERT_TRUE(c["groups"].is_array()) << c.dump(2);
  ASSERT_EQ(c["groups"].size(), 1U) << c.dump(2);
  const json& g = c["groups"][0];
  EXPECT_EQ(g["name"], "workers");
  EXPECT_EQ(g["policy"], "block");
  EXPECT_EQ(g["members"], 1);
  EXPECT_EQ(g["queued"], 2);
  EXPECT_EQ(g["held"], 1);
  EXPECT_TRUE(g["drops_by_stream"].is_array());
}

TEST(CliLs, text_output_names_the_channel_its_participants_and_groups) {
  const std::string name = unique_name("ls_text");
  ChannelGuard guard(name);
  auto producer = framebus::Producer::create(name, small_options(4, 1024));
  ASSERT_TRUE(producer) << producer.error().message();

  const CliResult all = run_cli({"ls"});
  EXPECT_EQ(all.exit_code, 0) << all;
  EXPECT_NE(all.out.find(name), std::string::npos) << all;

  const CliResult one = run_cli({"ls", name});
  EXPECT_EQ(one.exit_code, 0) << one;
  EXPECT_NE(one.out.find(name), std::string::npos) << one;
  EXPECT_NE(one.out.find("4 slots x 1.0 KiB"), std::string::npos) << one;
  EXPECT_NE(one.out.find("producer"), std::string::npos) << one;
  EXPECT_NE(one.out.find(std::to_string(::getpid())), std::string::npos) << one;
  EXPECT_NE(one.out.find("workers"), std::string::npos) << one;
}

TEST(CliLs, named_missing_channel_is_an_error) {
  const std::string name = unique_name("ls_missing");
  const CliResult r = run_cli({"ls", name});
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find(name), std::string::npos) << r;
}

// Found while tests/fuzz/fuzz_channel ran beside the CLI tests: a group name that is not UTF-8
// (garbage written into the shared state) made `ls --json` throw and abort.
TEST(CliLs, json_survives_a_group_name_that_is_not_utf8) {
  const std::string name = unique_name("ls_badutf8");
  ChannelGuard guard(name);
  framebus::ProducerOptions options = small_options(2, 4096);
  auto producer = framebus::Producer::create(name, options);
  ASSERT_TRUE(producer) << producer.error().message();
  {
    // The first group's name field, as a scribbling participant could write it.
    const int fd = ::open(framebus::channel_path(name).c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    std::array<std::uint64_t, 16> header{};
    ASSERT_EQ(::pread(fd, header.data(), sizeof header, 0), static_cast<ssize_t>(sizeof header));
    const std::uint64_t groups_offset = header[9];  // Header::groups_offset, byte 72 (channel/layout.hpp)
    const char bad[] = "\xee\xff\xc0";
    ASSERT_EQ(::pwrite(fd, bad, 3, static_cast<off_t>(groups_offset + 24)), 3);  // GroupCtl::name, byte 24
    ::close(fd);
  }
  const CliResult r = run_cli({"ls", name, "--json"});
  EXPECT_EQ(r.exit_code, 0) << r;
  const json parsed = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(parsed.is_discarded()) << r;
  const CliResult text = run_cli({"ls", name});
  EXPECT_EQ(text.exit_code, 0) << text;
  EXPECT_NE(text.out.find("\\xee\\xff\\xc0"), std::string::npos) << "escaped in text output:\n" << text;
  EXPECT_EQ(text.out.find('\xee'), std::string::npos) << text;
}

TEST(CliLs, unreadable_channel_is_listed_with_its_error) {
  const std::string name = unique_name("ls_corrupt");
  ChannelGuard guard(name);
  {
    std::ofstream junk(framebus::channel_path(name), std::ios::binary);
    junk << std::string(256, 'x');
    ASSERT_TRUE(junk.good());
  }
  const json listing = run_cli_json({"ls"});
  const auto channel = find_channel(listing, name);
  ASSERT_TRUE(channel) << "channel " << name << " not listed:\n" << listing.dump(2);
  ASSERT_TRUE((*channel)["error"].is_string()) << channel->dump(2);
  EXPECT_FALSE((*channel)["error"].get<std::string>().empty());

  const CliResult text = run_cli({"ls"});
  EXPECT_EQ(text.exit_code, 0) << text;
  EXPECT_NE(text.out.find("UNREADABLE"), std::string::npos) << text;

  // rm works on a channel that cannot be read.
  const CliResult rm = run_cli({"rm", name});
  EXPECT_EQ(rm.exit_code, 0) << rm;
  EXPECT_FALSE(shm_exists(name));
}

// ---------------------------------------------------------------------------------------------
// framebus rm

TEST(CliRm, removes_the_shared_memory_object) {
  const std::string name = unique_name("rm");
  ChannelGuard guard(name);
  // The last participant to close unlinks a channel itself, so keep one open.
  auto producer = framebus::Producer::create(name, small_options(4, 1024));
  ASSERT_TRUE(producer) << producer.error().message();
  ASSERT_TRUE(shm_exists(name));

  const CliResult r = run_cli({"rm", name});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("removed " + name), std::string::npos) << r;
  EXPECT_TRUE(r.err.empty()) << r;
  EXPECT_FALSE(shm_exists(name));
}

TEST(CliRm, group_flag_removes_a_group_that_blocks_the_producer_and_ls_says_which_one_blocks) {
  const std::string name = unique_name("rm_group");
  ChannelGuard guard(name);
  auto options = small_options(2, 1024);
  options.groups = {{"idle"}};
  options.block_timeout = 100ms;
  options.linger = 0s;
  auto producer = framebus::Producer::create(name, options);
  ASSERT_TRUE(producer) << producer.error().message();
  const std::array<std::byte, 8> payload{};
  ASSERT_TRUE(producer->send(payload, framebus::MessageMeta{}));
  ASSERT_TRUE(producer->send(payload, framebus::MessageMeta{}));
  ASSERT_FALSE(producer->send(payload, framebus::MessageMeta{})) << "the idle group blocks";

  const CliResult ls = run_cli({"ls", name});
  EXPECT_EQ(ls.exit_code, 0) << ls;
  EXPECT_NE(ls.out.find("idle (BLOCKING)"), std::string::npos) << ls;
  EXPECT_NE(ls.out.find("group idle blocks the producer"), std::string::npos) << ls;
  const json listing = run_cli_json({"ls", name});
  ASSERT_TRUE(listing.is_array() && listing.size() == 1) << listing.dump(2);
  EXPECT_EQ(listing[0]["groups"][0]["blocking"], true) << listing.dump(2);
  EXPECT_EQ(listing[0]["groups"][0]["pending"], 2) << listing.dump(2);

  const json removed = run_cli_json({"rm", name, "--group", "idle"});
  ASSERT_TRUE(removed.is_array() && removed.size() == 1) << removed.dump(2);
  EXPECT_EQ(removed[0]["removed"], true) << removed.dump(2);
  EXPECT_EQ(removed[0]["released"], 2) << removed.dump(2);
  EXPECT_TRUE(shm_exists(name)) << "only the group went";
  const CliResult again = run_cli({"rm", name, "--group", "idle"});
  EXPECT_NE(again.exit_code, 0) << again;
  EXPECT_NE(again.err.find("has no group 'idle'"), std::string::npos) << again;
  EXPECT_TRUE(producer->send(payload, framebus::MessageMeta{})) << "the producer goes on";
}

TEST(CliRm, removes_a_channel_that_is_still_in_use) {
  const std::string name = unique_name("rm_live");
  ChannelGuard guard(name);
  auto producer = framebus::Producer::create(name, small_options(4, 1024));
  ASSERT_TRUE(producer) << producer.error().message();

  const json result = run_cli_json({"rm", name});
  ASSERT_TRUE(result.is_array() && result.size() == 1) << result.dump(2);
  EXPECT_EQ(result[0]["name"], name);
  EXPECT_EQ(result[0]["removed"], true);
  EXPECT_FALSE(shm_exists(name));
  // The producer keeps its mapping and keeps working.
  const std::array<std::byte, 8> payload{};
  EXPECT_TRUE(producer->send(payload, framebus::MessageMeta{}));
}

TEST(CliRm, missing_channel_fails_but_the_other_names_are_removed) {
  const std::string missing = unique_name("rm_missing");
  const std::string present = unique_name("rm_present");
  ChannelGuard guard(present);
  auto producer = framebus::Producer::create(present, small_options(4, 1024));
  ASSERT_TRUE(producer) << producer.error().message();
  const CliResult r = run_cli({"rm", missing, present});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find(missing), std::string::npos) << r;
  EXPECT_NE(r.err.find("not_found"), std::string::npos) << r;
  EXPECT_NE(r.out.find("removed " + present), std::string::npos) << r;
  EXPECT_FALSE(shm_exists(present)) << r;
}

TEST(CliRm, path_traversal_name_is_rejected_with_a_clear_error) {
  const CliResult r = run_cli({"rm", "../etc"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find("../etc"), std::string::npos) << r;
  EXPECT_NE(r.err.find("invalid_name"), std::string::npos) << r;
  EXPECT_TRUE(r.out.empty()) << r;
  struct stat st {};
  EXPECT_EQ(::stat("/etc", &st), 0);

  const json result = run_cli_json({"rm", "../etc"}, /*expected_exit=*/1);
  ASSERT_TRUE(result.is_array() && result.size() == 1) << result.dump(2);
  EXPECT_EQ(result[0]["removed"], false);
  EXPECT_EQ(result[0]["error"]["code"], "invalid_name");
}

TEST(CliRm, names_that_could_leave_dev_shm_are_rejected_and_nothing_is_removed) {
  // A file outside /dev/shm that an escaping name would reach, through a directory planted in
  // the world-writable /dev/shm (anyone can create /dev/shm/framebus.X as a directory).
  const std::string planted = unique_name("planted");
  ASSERT_EQ(::mkdir(framebus::channel_path(planted).c_str(), 0777), 0);
  const std::string victim = "/tmp/framebus-cli-victim-" + std::to_string(::getpid());
  { std::ofstream(victim) << "keep"; }
  const std::vector<std::string> names = {
      "../x", "/x", "a/b", "..", ".", "", std::string(201, 'a'), planted + "/../../.." + victim, planted + "/x"};
  for (const std::string& name : names) {
    const CliResult r = run_cli({"rm", name});
    EXPECT_EQ(r.exit_code, 1) << name << "\n" << r;
    EXPECT_NE(r.err.find("invalid_name"), std::string::npos) << name << "\n" << r;
    EXPECT_TRUE(r.out.empty()) << r;
  }
  struct stat st {};
  EXPECT_EQ(::stat(victim.c_str(), &st), 0) << "the file outside /dev/shm is still there";
  EXPECT_EQ(::stat(framebus::channel_path(planted).c_str(), &st), 0) << "the planted directory is still there";
  ::unlink(victim.c_str());
  ::rmdir(framebus::channel_path(planted).c_str());
}

// ---------------------------------------------------------------------------------------------
// framebus gc. These tests run serially (see CMakeLists.txt): gc acts on the whole host.

TEST(CliGc, removes_a_channel_whose_producer_was_killed_and_keeps_a_live_one) {
  const std::string dead = unique_name("gc_dead");
  const std::string live = unique_name("gc_live");
  ChannelGuard dead_guard(dead);
  ChannelGuard live_guard(live);

  // The live channel first: creating it afterwards would itself remove the dead one (the sweep).
  auto producer = framebus::Producer::create(live, small_options(4, 1024));
  ASSERT_TRUE(producer) << producer.error().message();
  ProducerProcess victim(dead, small_options(4, 1024));
  ASSERT_EQ(victim.start(), "");
  victim.kill_and_reap();
  ASSERT_TRUE(shm_exists(dead)) << "kill -9 must leave the channel behind";

  const json result = run_cli_json({"gc"});
  ASSERT_TRUE(result.is_object() && result["removed"].is_array()) << result.dump(2);
  const auto& removed = result["removed"];
  EXPECT_NE(std::find(removed.begin(), removed.end(), dead), removed.end()) << result.dump(2);
  EXPECT_EQ(std::find(removed.begin(), removed.end(), live), removed.end()) << result.dump(2);
  EXPECT_FALSE(shm_exists(dead));
  EXPECT_TRUE(shm_exists(live));

  // The live channel still works.
  const std::array<std::byte, 8> payload{};
  EXPECT_TRUE(producer->send(payload, framebus::MessageMeta{}));
}

TEST(CliGc, ls_removes_the_users_own_dead_channels_instead_of_listing_them) {
  const std::string dead = unique_name("ls_dead");
  const std::string live = unique_name("ls_live");
  ChannelGuard dead_guard(dead);
  ChannelGuard live_guard(live);
  auto producer = framebus::Producer::create(live, small_options(4, 1024));
  ASSERT_TRUE(producer) << producer.error().message();
  ProducerProcess victim(dead, small_options(4, 1024));
  ASSERT_EQ(victim.start(), "");
  victim.kill_and_reap();
  ASSERT_TRUE(shm_exists(dead)) << "kill -9 must leave the channel behind";

  const json listing = run_cli_json({"ls"});
  EXPECT_FALSE(find_channel(listing, dead)) << listing.dump(2);
  EXPECT_FALSE(shm_exists(dead)) << "ls removed it";
  const auto live_info = find_channel(listing, live);
  ASSERT_TRUE(live_info) << listing.dump(2);
  EXPECT_EQ((*live_info)["stale"], false) << live_info->dump(2);
}

TEST(CliGc, text_output_lists_removed_channels) {
  const std::string dead = unique_name("gc_text");
  ChannelGuard guard(dead);
  ProducerProcess victim(dead, small_options(4, 1024));
  ASSERT_EQ(victim.start(), "");
  victim.kill_and_reap();

  const CliResult first = run_cli({"gc"});
  EXPECT_EQ(first.exit_code, 0) << first;
  EXPECT_NE(first.out.find("removed " + dead), std::string::npos) << first;
  EXPECT_FALSE(shm_exists(dead));

  const CliResult again = run_cli({"gc"});
  EXPECT_EQ(again.exit_code, 0) << again;
  EXPECT_EQ(again.out.find(dead), std::string::npos) << again;
}

// The admin commands carry the names of the library's calls; ls, rm and gc stay as aliases.
TEST(CliNames, list_inspect_and_remove_are_the_commands_and_ls_rm_their_aliases) {
  const std::string name = unique_name("names");
  const std::string missing = unique_name("names_missing");
  ChannelGuard guard(name);
  auto producer = framebus::Producer::create(name, small_options(4, 1024));
  ASSERT_TRUE(producer) << producer.error().message();

  for (const char* command : {"list", "ls"}) {
    const auto listed = find_channel(run_cli_json({command}), name);
    ASSERT_TRUE(listed) << command;
    EXPECT_EQ((*listed)["slot_count"], 4) << command;
  }
  const json inspected = run_cli_json({"inspect", name});
  ASSERT_TRUE(inspected.is_array() && inspected.size() == 1) << inspected.dump(2);
  EXPECT_EQ(inspected[0]["name"], name);
  EXPECT_EQ(inspected[0]["slot_count"], 4);

  const CliResult not_there = run_cli({"inspect", missing});
  EXPECT_EQ(not_there.exit_code, 1) << not_there;
  EXPECT_NE(not_there.err.find("framebus inspect: " + missing), std::string::npos) << not_there;
  const CliResult no_names = run_cli({"inspect"});
  EXPECT_EQ(no_names.exit_code, 2) << "inspect needs names: a usage error. " << no_names;

  const CliResult removed = run_cli({"remove", name});
  EXPECT_EQ(removed.exit_code, 0) << removed;
  EXPECT_FALSE(shm_exists(name));
  const CliResult again = run_cli({"rm", name});
  EXPECT_EQ(again.exit_code, 1) << again;
  EXPECT_NE(again.err.find("framebus remove: " + name), std::string::npos) << again;
}

TEST(CliGc, collect_garbage_is_the_command_and_gc_its_alias) {
  for (const char* command : {"collect-garbage", "gc"}) {
    const std::string dead = unique_name(std::string("collect_") + (command[0] == 'g' ? "gc" : "long"));
    ChannelGuard guard(dead);
    ProducerProcess victim(dead, small_options(4, 1024));
    ASSERT_EQ(victim.start(), "");
    victim.kill_and_reap();
    ASSERT_TRUE(shm_exists(dead)) << "kill -9 must leave the channel behind";
    const json result = run_cli_json({command});
    const auto& gone = result["removed"];
    EXPECT_NE(std::find(gone.begin(), gone.end(), dead), gone.end()) << command << ": " << result.dump(2);
    EXPECT_FALSE(shm_exists(dead)) << command;
  }
}

}  // namespace
