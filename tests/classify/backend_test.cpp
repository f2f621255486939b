// The engine seam: a test engine registered under its own name gets exactly the tensor the
// Classifier prepared, and its scores come back as top-k lists.
#include <gtest/gtest.h>

#include <numeric>

#include "classify/classify_support.hpp"
#include "framebus/framebus.hpp"

namespace framebus::testing {
namespace {

// Scores each image by its per-channel means: class c gets mean of channel c % 3, plus c / 100,
// so the ranking follows what the picture looks like. It records every call.
struct Calls {
  std::vector<std::uint32_t> batches;
  std::uint32_t channels = 0, height = 0, width = 0;
  std::vector<float> first_tensor;
};

class MeanBackend final : public InferenceBackend {
 public:
  MeanBackend(Calls* calls, bool probabilities) : calls_(calls), probabilities_(probabilities) {}
  [[nodiscard]] std::string_view name() const noexcept override { return "mean"; }
  [[nodiscard]] std::uint32_t classes() const noexcept override { return 6; }
  [[nodiscard]] InputShape input_shape() const noexcept override { return {3, 0, 0}; }

  Result<void> infer(const float* nchw, std::uint32_t batch, std::uint32_t channels, std::uint32_t height,
                     std::uint32_t width, std::vector<float>& scores) override {
    calls_->batches.push_back(batch);
    calls_->channels = channels;
    calls_->height = height;
    calls_->width = width;
    const std::size_t plane = std::size_t{height} * width;
    if (calls_->first_tensor.empty()) calls_->first_tensor.assign(nchw, nchw + plane * channels);
    scores.assign(std::size_t{batch} * classes(), 0.0F);
    for (std::uint32_t b = 0; b < batch; ++b) {
      float* row = scores.data() + std::size_t{b} * classes();
      for (std::uint32_t c = 0; c < classes(); ++c) {
        const float* p = nchw + (std::size_t{b} * channels + c % 3) * plane;
        row[c] = std::accumulate(p, p + plane, 0.0F) / static_cast<float>(plane) + static_cast<float>(c) / 100.0F;
      }
      if (probabilities_) {  // a distribution the Classifier must pass through untouched
        for (std::uint32_t c = 0; c < classes(); ++c) row[c] = static_cast<float>(c + 1) / 21.0F;
      }
    }
    return {};
  }

 private:
  Calls* calls_;
  bool probabilities_;
};

std::string register_mean(Calls* calls, bool probabilities) {
  static int counter = 0;
  std::string name = "mean-" + std::to_string(counter++);
  auto ok = register_backend(
      name, [calls, probabilities](const ClassifierOptions& o) -> Result<std::unique_ptr<InferenceBackend>> {
        if (o.model != "no-file-needed") return make_error(ErrorCode::not_found, "unexpected model " + o.model);
        return std::make_unique<MeanBackend>(calls, probabilities);
      });
  EXPECT_TRUE(ok) << ok.error().message();
  return name;
}

TEST(Backend, a_registered_engine_gets_the_prepared_tensor_and_its_scores_are_ranked) {
  Calls calls;
  ClassifierOptions o;
  o.model = "no-file-needed";
  o.backend = register_mean(&calls, false);
  o.input_width = 20;
  o.input_height = 10;
  o.max_batch = 2;
  o.top_k = 6;
  auto c = Classifier::create(o);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->classes(), 6U);
  EXPECT_EQ(c->input_width(), 20U);

  // A pure red picture (BGR 0,0,255): the R plane comes first and is the largest.
  cv::Mat red(30, 40, CV_8UC3, cv::Scalar(0, 0, 255));
  cv::Mat blue(30, 40, CV_8UC3, cv::Scalar(255, 0, 0));
  const std::vector<ImageRef> images{image_ref(red, PixelFormat::bgr24), image_ref(blue, PixelFormat::bgr24),
                                     image_ref(red, PixelFormat::bgr24)};
  auto r = c->classify(images);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(calls.batches, (std::vector<std::uint32_t>{2, 1}));
  EXPECT_EQ(calls.channels, 3U);
  EXPECT_EQ(calls.height, 10U);
  EXPECT_EQ(calls.width, 20U);
  ASSERT_EQ(calls.first_tensor.size(), 600U);
  EXPECT_NEAR(calls.first_tensor[0], (1.0F - 0.485F) / 0.229F, 1e-5F);    // R plane
  EXPECT_NEAR(calls.first_tensor[200], (0.0F - 0.456F) / 0.224F, 1e-5F);  // G plane
  EXPECT_NEAR(calls.first_tensor[599], (0.0F - 0.406F) / 0.225F, 1e-5F);  // B plane

  ASSERT_EQ(r->size(), 3U);
  EXPECT_EQ((*r)[0][0].class_id, 3U);  // channel 0 (R) wins; class 3 has the larger offset
  EXPECT_EQ((*r)[0][1].class_id, 0U);
  EXPECT_EQ((*r)[1][0].class_id, 5U);  // channel 2 (B)
  EXPECT_EQ((*r)[1][1].class_id, 2U);
  EXPECT_EQ((*r)[2][0].class_id, 3U);
  float sum = 0.0F;
  for (const auto& p : (*r)[0]) sum += p.score;
  EXPECT_NEAR(sum, 1.0F, 1e-5F);  // logits went through softmax
}

TEST(Backend, scores_that_already_are_probabilities_are_kept) {
  Calls calls;
  ClassifierOptions o;
  o.model = "no-file-needed";
  o.backend = register_mean(&calls, true);
  o.top_k = 2;
  auto c = Classifier::create(o);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->input_width(), 224U);  // neither the options nor the engine fix it
  cv::Mat img(8, 8, CV_8UC3, cv::Scalar(1, 2, 3));
  const ImageRef one = image_ref(img, PixelFormat::bgr24);
  auto r = c->classify(std::span<const ImageRef>(&one, 1));
  ASSERT_TRUE(r);
  ASSERT_EQ((*r)[0].size(), 2U);
  EXPECT_EQ((*r)[0][0].class_id, 5U);
  EXPECT_FLOAT_EQ((*r)[0][0].score, 6.0F / 21.0F);
  EXPECT_FLOAT_EQ((*r)[0][1].score, 5.0F / 21.0F);
}

TEST(Backend, a_factory_error_reaches_the_caller) {
  Calls calls;
  ClassifierOptions o;
  o.model = "some-other-file";
  o.backend = register_mean(&calls, false);
  auto c = Classifier::create(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::not_found);
  EXPECT_EQ(c.error().message(), "unexpected model some-other-file");
}

TEST(Backend, names_are_unique_and_listed) {
  Calls calls;
  const std::string name = register_mean(&calls, false);
  const auto names = backend_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "opencv"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), name), names.end());
  auto again = register_backend(name, [](const ClassifierOptions&) -> Result<std::unique_ptr<InferenceBackend>> {
    return make_error(ErrorCode::invalid_argument, "unused");
  });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::already_exists);
  auto unnamed = register_backend("", [](const ClassifierOptions&) -> Result<std::unique_ptr<InferenceBackend>> {
    return make_error(ErrorCode::invalid_argument, "unused");
  });
  ASSERT_FALSE(unnamed);
  EXPECT_EQ(unnamed.error().code(), ErrorCode::invalid_argument);
  auto empty = register_backend("empty-factory", nullptr);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace framebus::testing
