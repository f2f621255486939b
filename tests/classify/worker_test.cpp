// run_worker on a real frames channel with the tiny model: a frame that cannot be classified (a
// message that is not an image, an image of no rows) comes out with an empty result, and the
// frames of its batch are classified as if it were not there.

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "classify/classify_support.hpp"
#include "framebus/framebus.hpp"
#include "framebus/pipeline/result.hpp"
#include "framebus/pipeline/worker.hpp"
#include "support/child_process.hpp"

namespace framebus::testing {
namespace {

constexpr int kWidth = 64;
constexpr int kHeight = 48;

void publish_picture(Producer& tx, std::uint64_t frame, const cv::Mat& mat) {
  const ImageDesc desc = ImageDesc::packed(kWidth, kHeight, PixelFormat::bgr24);
  auto loan = tx.loan(desc.byte_size());
  ASSERT_TRUE(loan) << loan.error().message();
  for (int y = 0; y < kHeight; ++y) std::memcpy(loan->data().data() + y * desc.stride[0], mat.ptr(y), kWidth * 3);
  ASSERT_TRUE(tx.publish(std::move(*loan), {.stream = 0, .frame = frame, .kind = PayloadKind::image, .image = desc}));
}

class Worker : public ::testing::TestWithParam<bool> {};

TEST_P(Worker, a_frame_that_cannot_be_classified_gets_an_empty_result_and_its_batch_mates_are_classified) {
  const bool copy = GetParam();
  auto classifier = Classifier::create(tiny_options());
  ASSERT_TRUE(classifier) << classifier.error().message();
  const std::string frames = unique_name("worker-frames");
  const std::string results = unique_name("worker-results");
  ProducerOptions frame_options{.slots = 8, .slot_size = 1 << 20, .groups = {GroupSpec{"workers", Policy::block}}};
  frame_options.linger = Duration::zero();
  auto tx = Producer::create(frames, frame_options);
  ASSERT_TRUE(tx) << tx.error().message();
  ProducerOptions result_options = results_channel_options();
  result_options.linger = Duration::zero();
  auto results_keepalive = Producer::create(results, result_options);
  ASSERT_TRUE(results_keepalive) << results_keepalive.error().message();
  auto sink = Consumer::open(results, {.group = "sink"});
  ASSERT_TRUE(sink) << sink.error().message();

  // Five frames queued before the worker starts, then the end marker: one batch of five.
  std::vector<cv::Mat> pictures;
  for (std::uint32_t seed : {1U, 2U, 3U}) pictures.push_back(synthetic_bgr(kWidth, kHeight, seed));
  publish_picture(*tx, 0, pictures[0]);
  const std::vector<std::byte> bytes(32, std::byte{7});
  ASSERT_TRUE(tx->send(bytes, {.stream = 0, .frame = 1}));  // not an image
  publish_picture(*tx, 2, pictures[1]);
  ASSERT_TRUE(tx->send(bytes, {.stream = 0,
                               .frame = 3,
                               .kind = PayloadKind::image,
                               .image = ImageDesc::packed(kWidth, 0, PixelFormat::bgr24)}));  // no rows
  publish_picture(*tx, 4, pictures[2]);
  ASSERT_TRUE(tx->end_stream(0, 5));

  WorkerOptions options;
  options.channel = frames;
  options.results = results;
  options.batch = 8;
  options.batch_timeout = std::chrono::seconds(30);  // the end marker closes the batch long before
  options.copy_on_receive = copy;
  std::stop_source stop;
  options.stop = stop.get_token();
  std::optional<Result<WorkerStats>> outcome;
  std::thread worker([&] { outcome = run_worker(*classifier, options); });

  // No ASSERT until the worker is joined.
  std::vector<InferenceResult> got;
  while (got.size() < 6) {
    auto received = sink->receive(std::chrono::seconds(30));
    if (!received || !received->has_message()) break;
    auto record = decode_result(received->message.data());
    EXPECT_TRUE(record) << record.error().message();
    if (!record) break;
    got.push_back(std::move(*record));
  }
  // Closing the only producer ends the frames channel: the worker sees it and returns.
  stop.request_stop();
  ASSERT_TRUE(tx->close());
  worker.join();
  ASSERT_EQ(got.size(), 6U) << "five frames and the end marker";
  ASSERT_TRUE(outcome);
  const Result<WorkerStats>& stats = *outcome;
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->frames, 5U);
  EXPECT_EQ(stats->batches, 1U) << "the bad frames were in the same batch as the good ones";
  EXPECT_EQ(stats->errors, 2U);
  ASSERT_TRUE(stats->last_error);
  EXPECT_NE(stats->last_error->message().find("frame 3"), std::string::npos) << stats->last_error->message();

  auto expected = classifier->classify(std::vector<ImageRef>{image_ref(pictures[0], PixelFormat::bgr24),
                                                             image_ref(pictures[1], PixelFormat::bgr24),
                                                             image_ref(pictures[2], PixelFormat::bgr24)});
  ASSERT_TRUE(expected) << expected.error().message();
  std::size_t good = 0;
  for (const InferenceResult& r : got) {
    if (r.kind == InferenceResult::Kind::end_of_stream) {
      EXPECT_EQ(r.frame, 5U);
      continue;
    }
    ASSERT_LT(r.frame, 5U);
    EXPECT_EQ(r.batch_size, 5U);
    if (r.frame == 1 || r.frame == 3) {
      EXPECT_TRUE(r.top.empty()) << "frame " << r.frame;
      continue;
    }
    const auto& want = (*expected)[good++];
    ASSERT_EQ(r.top.size(), want.size()) << "frame " << r.frame;
    for (std::size_t k = 0; k < want.size(); ++k) {
      EXPECT_EQ(r.top[k].class_id, want[k].class_id) << "frame " << r.frame;
      EXPECT_NEAR(r.top[k].score, want[k].score, 1e-4F) << "frame " << r.frame;
    }
  }
  EXPECT_EQ(good, 3U);
  sink->close();
  ASSERT_TRUE(results_keepalive->close());
}

INSTANTIATE_TEST_SUITE_P(ZeroCopyAndCopy, Worker, ::testing::Bool(),
                         [](const auto& param_info) { return param_info.param ? "copy_on_receive" : "zero_copy"; });

}  // namespace
}  // namespace framebus::testing
