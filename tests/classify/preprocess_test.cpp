// The one-pass preprocessing against a naive reference: cv::resize, then per pixel and channel
// (value / 255 - mean) / std in double precision, written plane by plane.
#include <gtest/gtest.h>

#include <cstring>

#include <opencv2/imgproc.hpp>

#include "classify/classify_support.hpp"
#include "classify/preprocess.hpp"

namespace framebus::testing {
namespace {

// The reference: `bgr` is a BGR picture; the model gets R, G, B (or B, G, R) planes.
std::vector<float> naive(const cv::Mat& bgr, int width, int height, const ClassifierOptions& o) {
  cv::Mat resized;
  if (bgr.cols == width && bgr.rows == height) {
    resized = bgr;
  } else {
    cv::resize(bgr, resized, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
  }
  std::vector<float> out(static_cast<std::size_t>(3 * width * height));
  for (int c = 0; c < 3; ++c) {
    const int colour = o.swap_rb ? c : 2 - c;  // 0 = R
    const int bgr_index = 2 - colour;
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        const double v = resized.at<cv::Vec3b>(y, x)[bgr_index] / 255.0;
        out[static_cast<std::size_t>((c * height + y) * width + x)] = static_cast<float>(
            (v - o.mean[static_cast<std::size_t>(colour)]) / o.std[static_cast<std::size_t>(colour)]);
      }
    }
  }
  return out;
}

std::vector<float> run(const ImageRef& image, int width, int height, const ClassifierOptions& o) {
  auto norm = detail::make_normalization(o);
  EXPECT_TRUE(norm.has_value());
  detail::Preprocessor p(*norm, static_cast<std::uint32_t>(width), static_cast<std::uint32_t>(height));
  std::vector<float> out(p.floats_per_image(), -1000.0F);
  auto ok = p.run(image, 0, out.data());
  EXPECT_TRUE(ok.has_value()) << (ok ? "" : ok.error().message());
  return out;
}

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, float tolerance = 1e-5F) {
  ASSERT_EQ(got.size(), want.size());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - want[i]) > tolerance && bad++ < 5) {
      ADD_FAILURE() << "element " << i << ": got " << got[i] << ", want " << want[i];
    }
  }
  EXPECT_EQ(bad, 0U);
}

TEST(Preprocess, bgr24_with_padded_rows_equals_the_naive_reference) {
  const cv::Mat big = synthetic_bgr(160, 100, 1);
  // A view with a row stride wider than the row, as a slot with aligned rows has.
  cv::Mat canvas(100, 200, CV_8UC3, cv::Scalar(9, 9, 9));
  big.copyTo(canvas(cv::Rect(0, 0, 160, 100)));
  const cv::Mat view = canvas(cv::Rect(0, 0, 160, 100));
  ASSERT_GT(view.step[0], 160U * 3);
  const ClassifierOptions o;
  expect_near_all(run(image_ref(view, PixelFormat::bgr24), 64, 48, o), naive(big, 64, 48, o));
}

TEST(Preprocess, a_picture_of_the_model_size_is_not_resized) {
  const cv::Mat img = synthetic_bgr(64, 64, 2);
  const ClassifierOptions o;
  expect_near_all(run(image_ref(img, PixelFormat::bgr24), 64, 64, o), naive(img, 64, 64, o));
}

TEST(Preprocess, rgb24_gives_the_same_tensor_as_the_same_picture_in_bgr24) {
  const cv::Mat bgr = synthetic_bgr(90, 70, 3);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  const ClassifierOptions o;
  expect_near_all(run(image_ref(rgb, PixelFormat::rgb24), 32, 32, o), naive(bgr, 32, 32, o));
}

TEST(Preprocess, swap_rb_false_feeds_blue_first) {
  const cv::Mat img = synthetic_bgr(50, 40, 4);
  ClassifierOptions o;
  o.swap_rb = false;
  o.mean = {0.1F, 0.5F, 0.9F};
  o.std = {0.2F, 0.3F, 0.4F};
  const auto got = run(image_ref(img, PixelFormat::bgr24), 24, 20, o);
  expect_near_all(got, naive(img, 24, 20, o));
  // And it differs from the RGB order: the test can tell the two apart.
  o.swap_rb = true;
  EXPECT_NE(got, naive(img, 24, 20, o));
}

TEST(Preprocess, gray8_is_replicated_to_three_channels) {
  const cv::Mat bgr = synthetic_bgr(80, 60, 5);
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::Mat gray3;
  cv::cvtColor(gray, gray3, cv::COLOR_GRAY2BGR);
  const ClassifierOptions o;
  expect_near_all(run(image_ref(gray, PixelFormat::gray8), 40, 30, o), naive(gray3, 40, 30, o));
}

TEST(Preprocess, nv12_and_yuv420p_are_converted_like_opencv_converts_them) {
  const int w = 96;
  const int h = 64;
  const cv::Mat bgr = synthetic_bgr(w, h, 6);
  cv::Mat i420;
  cv::cvtColor(bgr, i420, cv::COLOR_BGR2YUV_I420);  // Y, then U, then V, packed
  cv::Mat reference;
  cv::cvtColor(i420, reference, cv::COLOR_YUV2BGR_I420);
  const ClassifierOptions o;
  const auto want = naive(reference, 48, 32, o);

  ImageRef yuv;
  yuv.data = reinterpret_cast<const std::byte*>(i420.data);
  yuv.desc = ImageDesc::packed(w, h, PixelFormat::yuv420p);
  expect_near_all(run(yuv, 48, 32, o), want);

  // NV12 with padded rows: Y plane, then interleaved U/V, each row 128 bytes apart.
  const std::size_t stride = 128;
  std::vector<std::uint8_t> nv12(stride * h + stride * h / 2, 0);
  for (int y = 0; y < h; ++y) std::memcpy(&nv12[stride * y], i420.ptr(y), w);
  const std::uint8_t* u = i420.ptr(h);
  const std::uint8_t* v = u + (w / 2) * (h / 2);
  for (int y = 0; y < h / 2; ++y) {
    for (int x = 0; x < w / 2; ++x) {
      nv12[stride * h + stride * y + 2 * x] = u[y * (w / 2) + x];
      nv12[stride * h + stride * y + 2 * x + 1] = v[y * (w / 2) + x];
    }
  }
  ImageRef nv;
  nv.data = reinterpret_cast<const std::byte*>(nv12.data());
  nv.desc = ImageDesc::packed(w, h, PixelFormat::nv12, 128);
  ASSERT_EQ(nv.desc.stride[0], stride);
  expect_near_all(run(nv, 48, 32, o), want);
}

TEST(Preprocess, bad_images_are_refused_naming_their_index) {
  const cv::Mat img = synthetic_bgr(16, 16, 7);
  auto norm = detail::make_normalization(ClassifierOptions{});
  ASSERT_TRUE(norm);
  detail::Preprocessor p(*norm, 8, 8);
  std::vector<float> out(p.floats_per_image());
  auto refused = [&](ImageRef ref, std::size_t index, const std::string& words) {
    auto r = p.run(ref, index, out.data());
    ASSERT_FALSE(r.has_value()) << words;
    EXPECT_EQ(r.error().code(), ErrorCode::invalid_argument);
    EXPECT_NE(r.error().message().find("image " + std::to_string(index)), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find(words), std::string::npos) << r.error().message();
  };
  ImageRef unknown = image_ref(img, PixelFormat::unknown);
  refused(unknown, 3, "pixel format 'unknown'");
  ImageRef empty = image_ref(img, PixelFormat::bgr24);
  empty.desc.width = 0;
  refused(empty, 4, "empty picture (0x16)");
  ImageRef null = image_ref(img, PixelFormat::bgr24);
  null.data = nullptr;
  refused(null, 5, "null");
  ImageRef narrow = image_ref(img, PixelFormat::bgr24);
  narrow.desc.stride[0] = 16;  // less than 16 * 3
  refused(narrow, 6, "stride 16");
  ImageRef planes = image_ref(img, PixelFormat::nv12);
  refused(planes, 7, "planes");
  // A payload smaller than the description (a description read from shared memory).
  auto r = detail::check_image(image_ref(img, PixelFormat::bgr24), "image 8", 100);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("image 8: the description needs 768 bytes, the payload has 100"),
            std::string::npos)
      << r.error().message();
}

TEST(Preprocess, a_std_of_zero_is_refused) {
  ClassifierOptions o;
  o.std = {0.2F, 0.0F, 0.2F};
  auto n = detail::make_normalization(o);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code(), ErrorCode::invalid_argument);
  EXPECT_NE(n.error().message().find("std"), std::string::npos);
}

}  // namespace
}  // namespace framebus::testing
