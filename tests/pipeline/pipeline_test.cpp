// framebus::Pipeline: its options are checked before anything starts (each error names the
// option), the executable is found or named, and a small run over a folder of pictures gives
// every frame one result, in order, with statistics that agree.

#include "framebus/pipeline/pipeline.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace framebus {
namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t kPictures = 6;

// A 24-bit BMP of w x h pixels, a gradient that changes with `seed`.
void write_bmp(const fs::path& path, std::uint32_t w, std::uint32_t h, std::uint32_t seed) {
  const std::uint32_t row = (w * 3 + 3) & ~3U;
  const std::uint32_t size = 54 + row * h;
  std::vector<std::uint8_t> b(size, 0);
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
  };
  b[0] = 'B';
  b[1] = 'M';
  put32(2, size);
  put32(10, 54);
  put32(14, 40);
  put32(18, w);
  put32(22, h);
  b[26] = 1;
  b[28] = 24;
  put32(34, row * h);
  for (std::uint32_t y = 0; y < h; ++y) {
    for (std::uint32_t x = 0; x < w; ++x) {
      auto* p = &b[54 + y * row + x * 3];
      p[0] = static_cast<std::uint8_t>(x * 4 + seed * 40);
      p[1] = static_cast<std::uint8_t>(y * 5 + seed * 20);
      p[2] = static_cast<std::uint8_t>((x + y) * 2 + seed * 10);
    }
  }
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("framebus-pipeline-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "pictures");
    for (std::uint32_t i = 0; i < kPictures; ++i) {
      write_bmp(dir_ / "pictures" / ("p" + std::to_string(i) + ".bmp"), 64, 48, i);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  PipelineOptions options() const {
    PipelineOptions o;
    o.sources = {(dir_ / "pictures").string()};
    o.model.model = std::string(FRAMEBUS_TEST_MODEL_DIR) + "/tiny.onnx";
    o.model.labels = std::string(FRAMEBUS_TEST_MODEL_DIR) + "/tiny.txt";
    o.executable = FRAMEBUS_CLI_PATH;
    o.name = "pipeline-test-" + std::to_string(::getpid());
    o.workers = 1;
    return o;
  }

  fs::path dir_;
};

void expect_invalid(const PipelineOptions& o, const std::string& option) {
  auto p = Pipeline::create(o);
  ASSERT_FALSE(p) << option;
  EXPECT_EQ(p.error().code(), ErrorCode::invalid_argument) << p.error().message();
  EXPECT_EQ(p.error().message().rfind(option + ":", 0), 0U) << p.error().message();
}

TEST_F(PipelineTest, each_bad_option_is_an_invalid_argument_naming_it) {
  auto o = options();
  o.sources.clear();
  expect_invalid(o, "sources");
  o = options();
  o.workers = 0;
  expect_invalid(o, "workers");
  o = options();
  o.batch = 257;
  expect_invalid(o, "batch");
  o = options();
  o.batch_timeout = -std::chrono::milliseconds(1);
  expect_invalid(o, "batch_timeout");
  o = options();
  o.progress_interval = Duration::zero();
  expect_invalid(o, "progress_interval");
  o = options();
  o.model.top_k = 0;
  expect_invalid(o, "top_k");
  o = options();
  o.model.model.clear();
  expect_invalid(o, "model");
  o = options();
  o.slot_size = 0;
  expect_invalid(o, "slot_size");
}

TEST_F(PipelineTest, topologies_are_named_as_framebus_run_names_them) {
  for (auto t : {Topology::shared, Topology::per_stream, Topology::threads, Topology::queue}) {
    auto parsed = parse_topology(to_string(t));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, t);
  }
  auto bad = parse_topology("ring");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("per-stream"), std::string::npos);
}

TEST_F(PipelineTest, a_missing_executable_is_an_error_naming_it) {
  auto o = options();
  o.executable = (dir_ / "no-such-framebus").string();
  auto p = Pipeline::create(o);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("no-such-framebus"), std::string::npos);
}

TEST_F(PipelineTest, a_model_that_does_not_load_ends_create_with_its_name) {
  auto o = options();
  o.model.model = (dir_ / "missing.onnx").string();
  auto p = Pipeline::create(o);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("missing.onnx"), std::string::npos) << p.error().message();
}

TEST_F(PipelineTest, local_sources_that_cannot_be_read_end_create_at_once_naming_each) {
  auto o = options();
  o.sources.clear();
  const std::string missing = (dir_ / "missing.mp4").string();
  const std::string empty = (dir_ / "empty-folder").string();
  const std::string text = (dir_ / "not-a-video.mp4").string();
  std::filesystem::create_directories(empty);
  std::ofstream(text) << "plain text\n";
  o.sources = {missing, empty, text};
  const auto started = std::chrono::steady_clock::now();
  auto p = Pipeline::create(o);
  ASSERT_FALSE(p);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  EXPECT_EQ(p.error().message().rfind("sources: ", 0), 0U) << p.error().message();
  for (const auto& path : {missing, empty, text})
    EXPECT_NE(p.error().message().find(path), std::string::npos) << p.error().message();
}

TEST_F(PipelineTest, an_unreadable_source_among_readable_ones_leaves_the_run_to_the_others) {
  auto o = options();
  const std::size_t readable = o.sources.size();
  o.sources.push_back((dir_ / "missing.mp4").string());
  auto p = Pipeline::create(o);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->options().sources.size(), readable + 1);
}

TEST_F(PipelineTest, a_small_run_gives_every_frame_one_result_in_order) {
  for (auto topology : {Topology::shared, Topology::queue}) {
    auto o = options();
    o.topology = topology;
    o.collect_results = true;
    std::uint32_t callbacks = 0;
    o.on_result = [&](const SinkEntry&) { ++callbacks; };
    auto p = Pipeline::create(o);
    ASSERT_TRUE(p) << p.error().message();
    RunReport report;
    std::thread runner([&] { report = p->run(); });
    std::vector<SinkEntry> entries;
    while (auto e = p->next_result()) entries.push_back(std::move(*e));
    runner.join();
    EXPECT_EQ(report.exit_status, kRunOk) << to_string(topology);
    ASSERT_EQ(entries.size(), kPictures) << to_string(topology);
    EXPECT_EQ(callbacks, kPictures);
    for (std::uint32_t i = 0; i < kPictures; ++i) {
      EXPECT_EQ(entries[i].stream, 0U);
      EXPECT_EQ(entries[i].frame, i);
      EXPECT_FALSE(entries[i].gap);
      EXPECT_FALSE(entries[i].result.top.empty());
    }
    EXPECT_EQ(report.stats.frames, kPictures);
    ASSERT_EQ(report.stats.streams.size(), 1U);
    EXPECT_EQ(report.stats.streams[0].frames, kPictures);
    EXPECT_EQ(report.stats.topology, to_string(topology));
    EXPECT_TRUE(report.stats.errors.empty());
    EXPECT_EQ(p->stats().frames, kPictures) << "stats() after the run is the final count";
  }
}

TEST_F(PipelineTest, a_source_decoded_otherwise_keeps_its_own_options) {
  for (auto topology : {Topology::shared, Topology::queue}) {
    auto o = options();
    o.topology = topology;
    o.sources.push_back(o.sources[0]);
    o.source_options[1].loop = 3;  // the second stream passes three times over the pictures
    auto p = Pipeline::create(o);
    ASSERT_TRUE(p) << p.error().message();
    const RunReport report = p->run();
    EXPECT_EQ(report.exit_status, kRunOk) << to_string(topology);
    ASSERT_EQ(report.stats.streams.size(), 2U);
    EXPECT_EQ(report.stats.streams[0].frames, kPictures) << to_string(topology);
    EXPECT_EQ(report.stats.streams[1].frames, 3 * kPictures) << to_string(topology);
  }
  auto o = options();
  o.source_options[1].loop = 2;  // there is one source
  expect_invalid(o, "source_options[1]");
}

TEST_F(PipelineTest, stop_ends_a_run_whose_sources_loop_forever) {
  auto o = options();
  o.decode.loop = SourceOptions::kLoopForever;  // 0, as `framebus run --loop 0` / `--forever`
  o.decode.realtime = true;
  o.collect_results = true;
  auto p = Pipeline::create(o);
  ASSERT_TRUE(p) << p.error().message();
  RunReport report;
  std::thread runner([&] { report = p->run(); });
  // More results than one pass holds: the sources really do start over.
  std::uint64_t results = 0;
  while (results <= 2 * kPictures) {
    auto entry = p->next_result(std::chrono::seconds(30));
    ASSERT_TRUE(entry) << "the run ended or stalled after " << results << " results";
    ++results;
  }
  const auto start = std::chrono::steady_clock::now();
  p->stop();
  while (p->next_result(std::chrono::seconds(30))) {
  }
  runner.join();
  EXPECT_EQ(report.exit_status, kRunInterrupted);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

}  // namespace
}  // namespace framebus
