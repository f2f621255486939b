// `framebus run` end to end with the real binary, in every build (also under the sanitizers, so
// the supervisor, the workers and the readers are checked for memory errors): every topology
// gives each frame one result in order; a killed worker is replaced; Ctrl-C cleans up.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framebus/channel/admin.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::Child;

const std::string kDir = FRAMEBUS_RUN_TEST_DIR;
const std::string kModel = std::string(FRAMEBUS_TEST_MODEL_DIR) + "/tiny.onnx";
const std::string kLabels = std::string(FRAMEBUS_TEST_MODEL_DIR) + "/tiny.txt";
constexpr int kVideoFrames = 30;
constexpr int kPictures = 6;

void ffmpeg(const std::string& args) {
  const std::string cmd = "ffmpeg -nostdin -v error -y " + args;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

class Run : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::create_directories(kDir + "/pics");
    if (!fs::exists(kDir + "/a.mp4")) {
      ffmpeg("-f lavfi -i testsrc=size=320x240:rate=25 -frames:v " + std::to_string(kVideoFrames) +
             " -c:v libx264 -pix_fmt yuv420p " + kDir + "/a.tmp.mp4");
      fs::rename(kDir + "/a.tmp.mp4", kDir + "/a.mp4");
    }
    if (!fs::exists(kDir + "/pics/p06.png")) {
      ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=5 -frames:v " + std::to_string(kPictures) + " " + kDir +
             "/pics/p%02d.png");
    }
  }

  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = std::string("runtest-") + info->name() + "-" + std::to_string(::getpid());
    out_ = kDir + "/" + prefix_ + ".jsonl";
    report_ = kDir + "/" + prefix_ + ".json";
    log_ = kDir + "/" + prefix_ + ".log";
    // Files of an earlier test with the same name and pid would pass for this run's output.
    for (const auto& f : {out_, report_, log_}) fs::remove(f);
  }

  std::vector<std::string> args(const std::vector<std::string>& extra,
                                const std::vector<std::string>& sources = {"a.mp4", "pics"}) const {
    std::vector<std::string> a{"run", "--model",  kModel,  "--labels", kLabels, "--out",
                               out_,  "--report", report_, "--name",   prefix_, "--progress-interval",
                               "0.2"};
    for (const auto& s : sources) a.insert(a.end(), {"--source", kDir + "/" + s});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  std::unique_ptr<Child> start(const std::vector<std::string>& extra) const {
    return testing::start_program(FRAMEBUS_CLI_PATH, args(extra), log_);
  }

  /// stream -> the frame numbers of its results, in output order.
  std::map<std::uint32_t, std::vector<std::uint64_t>> results() const {
    std::map<std::uint32_t, std::vector<std::uint64_t>> by_stream;
    std::istringstream lines(testing::read_text(out_));
    std::string line;
    while (std::getline(lines, line)) {
      const auto j = nlohmann::json::parse(line);
      EXPECT_FALSE(j.contains("gap")) << line;
      EXPECT_FALSE(j["top"].empty()) << line;
      by_stream[j["stream"].get<std::uint32_t>()].push_back(j["frame"].get<std::uint64_t>());
    }
    return by_stream;
  }

  void expect_every_frame_once_in_order() const {
    const auto got = results();
    ASSERT_EQ(got.size(), 2U) << testing::read_text(log_);
    std::vector<std::uint64_t> video(kVideoFrames);
    std::vector<std::uint64_t> pictures(kPictures);
    for (std::size_t i = 0; i < video.size(); ++i) video[i] = i;
    for (std::size_t i = 0; i < pictures.size(); ++i) pictures[i] = i;
    EXPECT_EQ(got.at(0), video);
    EXPECT_EQ(got.at(1), pictures);
  }

  nlohmann::json report() const { return nlohmann::json::parse(testing::read_text(report_)); }

  bool any_channel_left() const {
    for (const auto& e : fs::directory_iterator("/dev/shm")) {
      if (e.path().filename().string().rfind("framebus." + prefix_, 0) == 0) return true;
    }
    return false;
  }

  std::string prefix_, out_, report_, log_;
};

TEST_F(Run, the_shared_topology_gives_every_frame_one_result_in_order) {
  auto run = start({"--workers", "2", "--batch", "4"});
  ASSERT_EQ(run->wait(120s), 0) << testing::read_text(log_);
  expect_every_frame_once_in_order();
  const auto summary = report();
  EXPECT_EQ(summary["frames"], kVideoFrames + kPictures);
  EXPECT_EQ(summary["workers"].size(), 2U);
  EXPECT_FALSE(any_channel_left());
}

TEST_F(Run, the_per_stream_topology_runs_one_worker_per_stream) {
  auto run = start({"--topology", "per-stream", "--batch", "2"});
  ASSERT_EQ(run->wait(120s), 0) << testing::read_text(log_);
  expect_every_frame_once_in_order();
  EXPECT_EQ(report()["workers"].size(), 2U) << "one worker for each of the two streams";
  EXPECT_FALSE(any_channel_left());
}

TEST_F(Run, the_threads_topology_runs_the_workers_as_threads_of_one_process) {
  auto run = start({"--topology", "threads", "--workers", "3", "--batch", "2"});
  ASSERT_EQ(run->wait(120s), 0) << testing::read_text(log_);
  expect_every_frame_once_in_order();
  EXPECT_FALSE(any_channel_left());
}

TEST_F(Run, the_queue_baseline_gives_the_same_completeness) {
  auto run = start({"--topology", "queue", "--batch", "4"});
  ASSERT_EQ(run->wait(120s), 0) << testing::read_text(log_);
  expect_every_frame_once_in_order();
}

// The pid of a live worker of the run, from the frames channel's participants.
pid_t find_worker(const std::string& frames) {
  auto info = inspect_channel(frames);
  if (!info) return -1;
  for (const auto& p : info->participants) {
    if (!p.producer && p.group == "workers" && p.alive) return p.pid;
  }
  return -1;
}

// Every thread of the process is stopped: SIGSTOP has taken effect.
bool stopped(pid_t pid) {
  std::error_code ec;
  bool any = false;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    const std::string stat = testing::read_text(task.path().string() + "/stat");
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
    const char state = stat[paren + 2];
    if (state != 'T' && state != 't') return false;
    any = true;
  }
  return any && !ec;
}

// Stops (SIGSTOP) the run's workers in turn until one is caught holding at least two messages of
// the frames channel, and returns it, stopped; -1 when none is within a minute. A batch holds at most one end
// marker, so that worker holds at least one frame, and stopped it cannot release it: a SIGKILL
// now certainly leaves frames to be redelivered.
pid_t freeze_a_worker_holding_frames(const std::string& frames) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto info = inspect_channel(frames);
    for (const auto& p : info ? info->participants : std::vector<ParticipantInfo>{}) {
      if (p.producer || p.group != "workers" || !p.alive || ::kill(p.pid, SIGSTOP) != 0) continue;
      while (!stopped(p.pid) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
      std::uint32_t held = 0;
      if (auto now = inspect_channel(frames)) {
        for (const auto& q : now->participants) {
          if (q.pid == p.pid && !q.producer) held += q.held;
        }
      }
      if (held >= 2 && stopped(p.pid)) return p.pid;
      ::kill(p.pid, SIGCONT);
    }
    std::this_thread::sleep_for(10ms);
  }
  return -1;
}

TEST_F(Run, a_worker_killed_with_sigkill_while_holding_frames_is_replaced_and_its_frames_are_redelivered) {
  // Paced streams (2 s) and batches that wait up to 200 ms to fill: workers hold frames often.
  auto run = start({"--workers", "2", "--batch", "4", "--batch-timeout", "200", "--max-fps", "15"});
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline && testing::read_text(out_).size() < 200) {
    std::this_thread::sleep_for(10ms);
  }
  const pid_t worker = freeze_a_worker_holding_frames(prefix_ + ".frames");
  ASSERT_GT(worker, 0) << testing::read_text(log_);
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  ASSERT_EQ(run->wait(120s), 0) << testing::read_text(log_);
  expect_every_frame_once_in_order();
  int restarts = 0;
  std::uint64_t again = 0;
  const auto summary = report();
  for (const auto& w : summary["workers"]) restarts += w["restarts"].get<int>();
  for (const auto& s : summary["streams"])
    again += s["redelivered"].get<std::uint64_t>() + s["duplicates"].get<std::uint64_t>();
  EXPECT_EQ(restarts, 1) << testing::read_text(log_);
  EXPECT_GT(again, 0U) << "the frames the killed worker held came back: " << summary.dump(2);
  EXPECT_FALSE(any_channel_left());
}

TEST_F(Run, a_frame_that_crashes_every_worker_is_given_up_after_three_and_reported_as_failed) {
  // Each worker that gets stream 0's frame 7 draws on it in place and dies of SIGSEGV (the
  // payload is read-only), as an OpenCV drawing call on a received frame does.
  ::setenv("FRAMEBUS_FAULT_DRAW_ON", "0:7", 1);
  auto run = start({"--workers", "2", "--batch", "4"});
  ::unsetenv("FRAMEBUS_FAULT_DRAW_ON");
  ASSERT_EQ(run->wait(120s), 0) << testing::read_text(log_);
  std::map<std::uint32_t, std::vector<std::uint64_t>> frames;
  std::vector<std::uint64_t> failed;
  std::istringstream lines(testing::read_text(out_));
  std::string line;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_FALSE(j.contains("gap")) << line;
    frames[j["stream"].get<std::uint32_t>()].push_back(j["frame"].get<std::uint64_t>());
    if (j.value("failed", false))
      failed.push_back(j["frame"].get<std::uint64_t>() + 1000 * j["stream"].get<std::uint64_t>());
  }
  EXPECT_EQ(failed, std::vector<std::uint64_t>{7}) << "only the poisonous frame fails; its batch mates are classified";
  ASSERT_EQ(frames[0].size(), static_cast<std::size_t>(kVideoFrames)) << "every frame once, in order";
  for (std::size_t i = 0; i < frames[0].size(); ++i) EXPECT_EQ(frames[0][i], i);
  EXPECT_EQ(frames[1].size(), static_cast<std::size_t>(kPictures));
  EXPECT_NE(testing::read_text(log_).find("stream 0 frame 7 killed 3 workers"), std::string::npos)
      << "three deliveries killed three workers, then the frame was given up:\n"
      << testing::read_text(log_);
  EXPECT_FALSE(any_channel_left());
}

TEST_F(Run, when_no_worker_is_left_the_run_stops_with_an_error_instead_of_hanging) {
  auto run = start({"--workers", "1", "--max-restarts", "0", "--loop", "1000", "--max-fps", "20"});
  pid_t worker = -1;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline && (worker = find_worker(prefix_ + ".frames")) <= 0) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GT(worker, 0) << testing::read_text(log_);
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  EXPECT_EQ(run->wait(60s), 1) << testing::read_text(log_);
  EXPECT_NE(testing::read_text(log_).find("no worker is left"), std::string::npos) << testing::read_text(log_);
  EXPECT_FALSE(any_channel_left());
}

TEST_F(Run, sigint_stops_every_process_and_removes_every_channel) {
  auto run = start({"--workers", "2", "--loop", "1000", "--max-fps", "10"});
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline && testing::read_text(out_).empty()) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_FALSE(testing::read_text(out_).empty()) << testing::read_text(log_);
  EXPECT_TRUE(any_channel_left());
  ASSERT_EQ(::kill(run->pid(), SIGINT), 0);
  EXPECT_EQ(run->wait(60s), 130) << testing::read_text(log_);
  EXPECT_FALSE(any_channel_left());
}

TEST_F(Run, a_file_that_is_not_a_model_is_refused_before_anything_starts) {
  const std::string fake = kDir + "/" + prefix_ + ".onnx";
  { std::ofstream(fake) << "not a model\n"; }
  auto a = args({});
  a[2] = fake;
  auto run = testing::start_program(FRAMEBUS_CLI_PATH, a, log_);
  EXPECT_EQ(run->wait(60s), 2);
  const std::string log = testing::read_text(log_);
  EXPECT_NE(log.find(fake), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(out_)) << "no stream started";
  EXPECT_FALSE(any_channel_left());
}

TEST_F(Run, a_source_that_does_not_exist_is_named_by_the_supervisor_within_a_second) {
  const std::string missing = kDir + "/" + prefix_ + "-nosuch.mp4";
  auto a = args({}, {});
  a.push_back("--source");
  a.push_back(missing);
  const auto started = std::chrono::steady_clock::now();
  auto run = testing::start_program(FRAMEBUS_CLI_PATH, a, log_);
  EXPECT_EQ(run->wait(60s), 2);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  const std::string log = testing::read_text(log_);
  EXPECT_NE(log.find(missing), std::string::npos) << log;
  EXPECT_EQ(log.find("channel"), std::string::npos) << "no worker blamed for it: " << log;
  EXPECT_FALSE(fs::exists(out_)) << "no stream started";
  EXPECT_FALSE(any_channel_left());
}

// A TCP port on loopback that nothing listens on (bound once by the kernel's choice, then closed).
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return -1;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The decoder fails at once (connection refused) while the workers may still be loading their
// model: the run ends with the source's error, and no worker blames a missing channel for it.
TEST_F(Run, a_refused_network_source_ends_the_run_with_its_error_and_no_worker_blames_a_channel) {
  const int port = closed_port();
  ASSERT_GT(port, 0);
  const std::string url = "rtsp://127.0.0.1:" + std::to_string(port) + "/cam";
  auto a = args({}, {});
  // The full-size model: its workers take a while to load it, long after the decoder failed.
  const std::string dir = FRAMEBUS_TEST_MODEL_DIR;
  a[2] = dir + "/resnet18.onnx";
  a[4] = dir + "/resnet18.txt";
  a.insert(a.end(), {"--source", url, "--workers", "2"});
  const auto started = std::chrono::steady_clock::now();
  auto run = testing::start_program(FRAMEBUS_CLI_PATH, a, log_);
  const int status = run->wait(60s);
  const auto took = std::chrono::steady_clock::now() - started;
  const std::string log = testing::read_text(log_);
  EXPECT_NE(status, 0) << log;
  EXPECT_NE(log.find(url), std::string::npos) << log;
  EXPECT_EQ(log.find("does not exist"), std::string::npos) << log;
  EXPECT_LT(took, 20s) << "a worker waited out its --open-wait (30 s) for a channel already gone: " << log;
  EXPECT_FALSE(any_channel_left());
}

// --topology, --policy and --slot-size are parsed by the library while the flags are read: a bad
// value names the flag and the accepted values, and nothing starts.
TEST_F(Run, a_flag_value_the_library_refuses_names_the_flag_and_what_it_accepts) {
  const std::vector<std::pair<std::string, std::string>> bad{
      {"--topology", "per_stream"}, {"--policy", "drop"}, {"--slot-size", "8 parsecs"}};
  for (const auto& [flag, value] : bad) {
    auto run = testing::start_program(FRAMEBUS_CLI_PATH, args({flag, value}), log_);
    EXPECT_EQ(run->wait(60s), 2) << flag;
    const std::string log = testing::read_text(log_);
    EXPECT_NE(log.find(flag + ": "), std::string::npos) << log;
    EXPECT_NE(log.find(value), std::string::npos) << log;
    EXPECT_FALSE(fs::exists(out_)) << "no stream started";
    EXPECT_FALSE(any_channel_left());
  }
  auto run = testing::start_program(FRAMEBUS_CLI_PATH, args({"--topology", "per_stream"}), log_);
  EXPECT_EQ(run->wait(60s), 2);
  EXPECT_NE(testing::read_text(log_).find("shared, per-stream, threads, queue"), std::string::npos)
      << testing::read_text(log_);
}

}  // namespace
}  // namespace framebus
