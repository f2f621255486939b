// The real ResNet-18 architecture (width 64, 1000 classes, 224x224) loads and classifies a frame.
#include <gtest/gtest.h>

#include "classify/classify_support.hpp"
#include "framebus/framebus.hpp"

namespace framebus::testing {
namespace {

TEST(FullModel, resnet18_loads_and_classifies_a_frame) {
  ClassifierOptions o;
  o.model = full_model();
  o.labels = full_labels();
  o.threads = 2;
  auto c = Classifier::create(o);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->classes(), 1000U);
  EXPECT_EQ(c->input_width(), 224U);
  EXPECT_EQ(c->input_height(), 224U);
  ASSERT_EQ(c->labels().size(), 1000U);

  const cv::Mat frame = synthetic_bgr(640, 480, 42);
  const cv::Mat other = synthetic_bgr(640, 480, 43);
  const std::vector<ImageRef> images{image_ref(frame, PixelFormat::bgr24), image_ref(other, PixelFormat::bgr24)};
  auto r = c->classify(images);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 2U);
  ASSERT_EQ((*r)[0].size(), 5U);
  for (std::size_t k = 1; k < 5; ++k) {
    EXPECT_GE((*r)[0][k - 1].score, (*r)[0][k].score);
  }
  EXPECT_LT((*r)[0][0].class_id, 1000U);
  EXPECT_FALSE(c->labels()[(*r)[0][0].class_id].empty());
  // Scores are not saturated (the model is calibrated), and two frames get different answers.
  EXPECT_LT((*r)[0][0].score, 0.999F);
  EXPECT_NE((*r)[0][0].score, (*r)[1][0].score);
}

}  // namespace
}  // namespace framebus::testing
