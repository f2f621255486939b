// What `framebus run` shows and writes, from counters set by hand: the live display (per-stream
// fps, frames done, drops; queue depth and workers), the JSON line of each frame, the summary
// tables and the report.

#include "run_output.hpp"

#include <cmath>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace framebus::cli {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kMs = 1'000'000;

InferenceResult frame(std::uint32_t stream, std::uint64_t n, std::int64_t published_ns) {
  InferenceResult r;
  r.stream = stream;
  r.frame = n;
  r.pts_us = static_cast<std::int64_t>(n) * 40'000;
  r.published_ns = published_ns;
  r.worker = 1;
  r.top = {{7, 0.61234F}, {2, 0.2F}, {4, 0.1F}};
  return r;
}

// The whitespace-separated words of `text`. (No std::regex here: GCC 12 warns inside its
// <regex> under the sanitizers, and the warning is an error in CI.)
std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

bool is_number(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos; }

// Whether `words` from position `at` on are `pattern`, where "#" stands for any number.
bool matches_at(const std::vector<std::string>& words, std::size_t at, const std::vector<std::string>& pattern) {
  if (at + pattern.size() > words.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == "#" ? !is_number(words[at + i]) : words[at + i] != pattern[i]) return false;
  }
  return true;
}

// The number written just before `phrase` ("  5.0 fps" -> 5.0); NaN when there is none.
double number_before(const std::string& line, const std::string& phrase) {
  const auto words = words_of(line);
  const auto wanted = words_of(phrase);
  for (std::size_t at = 1; at < words.size(); ++at) {
    if (matches_at(words, at, wanted) && is_number(words[at - 1])) return std::stod(words[at - 1]);
  }
  return std::nan("");
}

// Whether some line of `text` begins with the words of `pattern` ("#": any number).
bool has_line(const std::string& text, const std::vector<std::string>& pattern) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (matches_at(words_of(line), 0, pattern)) return true;
  }
  return false;
}

std::set<std::string> keys(const nlohmann::json& j) {
  std::set<std::string> out;
  for (const auto& [key, value] : j.items()) out.insert(key);
  return out;
}

// Two streams 2 s into a run: stream 0 decoded 12 frames, 10 of them done, 1 dropped by the
// decoder and 2 by the workers' queue; stream 1 (ended) decoded and did 4.
class RunStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stats_.topology = "shared";
    stats_.start_ns = kSecond;
    stats_.decoder[0] = DecoderStream{"cam0.mp4", "running", "", 25.0, 12, 1, 0};
    stats_.decoder[1] = DecoderStream{"pictures/", "eof", "", 0.0, 4, 0, 0};
    stats_.channel_drops[0] = 2;
    stats_.queued = 7;
    for (std::uint64_t i = 0; i < 10; ++i)
      add(frame(0, i, kSecond + static_cast<std::int64_t>(i) * 100 * kMs), 20 * kMs);
    for (std::uint64_t i = 0; i < 4; ++i)
      add(frame(1, i, kSecond + static_cast<std::int64_t>(i) * 100 * kMs), 40 * kMs);
  }

  void add(InferenceResult r, std::int64_t latency_ns) {
    const std::int64_t arrived = r.published_ns + latency_ns;
    stats_.count(r);
    sink_.add(std::move(r), arrived);
  }

  RunStats stats_;
  std::vector<SinkEntry> emitted_;
  ResultSink sink_{SinkOptions{}, [this](const SinkEntry& e) { emitted_.push_back(e); }};
};

TEST_F(RunStatsTest, the_progress_display_shows_frames_done_fps_queue_depth_and_workers_overall) {
  const auto lines = progress_lines(stats_, sink_, 3 * kSecond, 2, 3);
  ASSERT_EQ(lines.size(), 3U) << "a head line and one line per stream";
  const std::string& head = lines[0];
  EXPECT_EQ(number_before(head, "frames done"), 14) << head;
  EXPECT_DOUBLE_EQ(number_before(head, "fps"), 7.0) << head;
  EXPECT_NE(head.find("queue 7"), std::string::npos) << head;
  EXPECT_NE(head.find("workers 2/3"), std::string::npos) << head;
}

TEST_F(RunStatsTest, the_progress_display_shows_each_streams_fps_frames_done_decoded_and_drops) {
  const auto lines = progress_lines(stats_, sink_, 3 * kSecond, 2, 3);
  ASSERT_EQ(lines.size(), 3U);
  const std::string& cam = lines[1];
  EXPECT_NE(cam.find("[0]"), std::string::npos) << cam;
  EXPECT_NE(cam.find("running"), std::string::npos) << cam;
  EXPECT_NE(cam.find("cam0.mp4"), std::string::npos) << cam;
  EXPECT_DOUBLE_EQ(number_before(cam, "fps"), 5.0) << cam;
  EXPECT_EQ(number_before(cam, "done"), 10) << cam;
  EXPECT_EQ(number_before(cam, "decoded"), 12) << cam;
  EXPECT_EQ(number_before(cam, "drops"), 3) << "the decoder's and the queue's drops together: " << cam;
  const std::string& pictures = lines[2];
  EXPECT_NE(pictures.find("[1]"), std::string::npos) << pictures;
  EXPECT_NE(pictures.find("eof"), std::string::npos) << pictures;
  EXPECT_DOUBLE_EQ(number_before(pictures, "fps"), 2.0) << pictures;
  EXPECT_EQ(number_before(pictures, "done"), 4) << pictures;
  EXPECT_EQ(number_before(pictures, "drops"), 0) << pictures;
}

TEST_F(RunStatsTest, a_frames_line_has_exactly_the_documented_keys) {
  ASSERT_EQ(emitted_.size(), 14U);
  const auto j = nlohmann::json::parse(result_line(emitted_[3]));
  EXPECT_EQ(keys(j), (std::set<std::string>{"stream", "frame", "pts_us", "top", "latency_ms", "worker"}));
  EXPECT_EQ(j["stream"], 0);
  EXPECT_EQ(j["frame"], 3);
  EXPECT_EQ(j["pts_us"], 120'000);
  EXPECT_EQ(j["top"], nlohmann::json::parse("[[7,0.6123],[2,0.2],[4,0.1]]")) << "best first, four decimals";
  EXPECT_DOUBLE_EQ(j["latency_ms"].get<double>(), 20.0);
  EXPECT_EQ(j["worker"], 1);
}

TEST_F(RunStatsTest, a_redelivered_or_failed_frame_says_so_and_a_gap_has_only_stream_frame_and_gap) {
  SinkEntry redelivered = emitted_[0];
  redelivered.result.redelivered = true;
  EXPECT_EQ(nlohmann::json::parse(result_line(redelivered))["redelivered"], true);

  SinkEntry failed = emitted_[1];
  failed.result.top.clear();
  const auto f = nlohmann::json::parse(result_line(failed));
  EXPECT_EQ(keys(f), (std::set<std::string>{"stream", "frame", "pts_us", "top", "latency_ms", "worker", "failed"}));
  EXPECT_TRUE(f["top"].empty());

  SinkEntry gap;
  gap.stream = 2;
  gap.frame = 13;
  gap.gap = true;
  EXPECT_EQ(result_line(gap), R"({"stream":2,"frame":13,"gap":true})");
}

TEST_F(RunStatsTest, the_report_has_per_stream_latency_fps_and_drops_and_per_worker_batches_and_busy_share) {
  // Worker 1 classified everything in two batches of 200 ms each.
  RunStats stats = stats_;
  stats.workers.clear();
  for (std::uint64_t i = 0; i < 14; ++i) {
    InferenceResult r = frame(i < 10 ? 0 : 1, i, 0);
    r.worker_pid = 100;
    r.batch = i < 7 ? 1 : 2;
    r.infer_start_ns = static_cast<std::int64_t>(r.batch) * kSecond;
    r.infer_end_ns = r.infer_start_ns + 200 * kMs;
    stats.count(r);
  }
  stats.end_ns = 5 * kSecond;  // a 4 s run
  const auto report = nlohmann::json::parse(to_json(snapshot(stats, sink_, 0)));
  EXPECT_EQ(report["frames"], 14);
  EXPECT_DOUBLE_EQ(report["fps"].get<double>(), 3.5);
  ASSERT_EQ(report["streams"].size(), 2U);
  const auto& cam = report["streams"][0];
  EXPECT_EQ(cam["frames"], 10);
  EXPECT_DOUBLE_EQ(cam["fps"].get<double>(), 2.5);
  EXPECT_NEAR(cam["latency_p50_ms"].get<double>(), 20.0, 0.2);
  EXPECT_NEAR(cam["latency_p99_ms"].get<double>(), 20.0, 0.2);
  EXPECT_NEAR(report["streams"][1]["latency_p50_ms"].get<double>(), 40.0, 0.4);
  EXPECT_EQ(cam["drops"], 3);
  EXPECT_EQ(cam["decoded"], 12);
  EXPECT_EQ(cam["redelivered"], 0);
  ASSERT_EQ(report["workers"].size(), 1U);
  const auto& worker = report["workers"][0];
  EXPECT_EQ(worker["worker"], 1);
  EXPECT_EQ(worker["frames"], 14);
  EXPECT_EQ(worker["batches"], 2);
  EXPECT_DOUBLE_EQ(worker["busy_percent"].get<double>(), 10.0) << "400 ms of inference in 4 s";
}

TEST_F(RunStatsTest, a_restarted_worker_whose_batch_counter_starts_again_counts_new_batches) {
  // Worker 1 classifies batches 1 and 2 as pid 100, is killed, and its replacement (pid 200)
  // numbers its batches from 1 again: four batches, each 100 ms of inference counted once.
  RunStats stats = stats_;
  stats.workers.clear();
  const std::pair<std::uint32_t, std::uint64_t> batches[] = {{100, 1}, {100, 2}, {200, 1}, {200, 2}};
  std::uint64_t n = 0;
  for (const auto& [pid, batch] : batches) {
    for (int i = 0; i < 3; ++i) {
      InferenceResult r = frame(0, n++, 0);
      r.worker_pid = pid;
      r.batch = batch;
      r.infer_start_ns = static_cast<std::int64_t>(n) * kSecond;
      r.infer_end_ns = r.infer_start_ns + 100 * kMs;
      stats.count(r);
    }
  }
  const WorkerTally& w = stats.workers.at(1);
  EXPECT_EQ(w.frames, 12U);
  EXPECT_EQ(w.batches, 4U);
  EXPECT_EQ(w.busy_ns, 400 * kMs);
}

TEST_F(RunStatsTest, the_summary_has_a_stream_table_and_a_worker_table) {
  stats_.end_ns = 3 * kSecond;
  std::ostringstream out;
  print_summary(out, stats_, sink_);
  const std::string text = out.str();
  ASSERT_TRUE(
      has_line(text, {"stream", "frames", "fps", "p50", "ms", "p99", "ms", "gaps", "drops", "redelivered", "state"}))
      << text;
  ASSERT_TRUE(has_line(text, {"worker", "frames", "batches", "busy", "%", "restarts"})) << text;
  EXPECT_TRUE(has_line(text, {"0", "10", "5.0", "#", "#", "0", "3", "0", "running"})) << text;
  EXPECT_NE(text.find("14 frames in 2.00 s: 7.0 frames/s"), std::string::npos) << text;
}

}  // namespace
}  // namespace framebus::cli
