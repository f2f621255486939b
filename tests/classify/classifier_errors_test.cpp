// Every way create() can fail says which file or option is wrong, with a fitting code.
#include <gtest/gtest.h>

#include "classify/classify_support.hpp"
#include "framebus/framebus.hpp"

namespace framebus::testing {
namespace {

Error create_error(ClassifierOptions o) {
  auto c = Classifier::create(std::move(o));
  if (c) throw std::runtime_error("create() succeeded");
  return c.error();
}

ClassifierOptions with_model(const std::string& model) {
  ClassifierOptions o;
  o.model = model;
  return o;
}

void expect_mentions(const Error& e, const std::string& words) {
  EXPECT_NE(e.message().find(words), std::string::npos) << "'" << e.message() << "' lacks '" << words << "'";
}

TEST(ClassifierErrors, a_missing_model_is_not_found_and_named) {
  TempDir dir;
  const Error e = create_error(with_model(dir.file("nothing.onnx")));
  EXPECT_EQ(e.code(), ErrorCode::not_found);
  expect_mentions(e, "model '" + dir.file("nothing.onnx") + "' does not exist");
}

TEST(ClassifierErrors, no_model_at_all_is_an_invalid_argument) {
  const Error e = create_error(with_model(""));
  EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  expect_mentions(e, "no model");
}

TEST(ClassifierErrors, a_directory_is_not_a_model) {
  TempDir dir;
  const Error e = create_error(with_model(dir.path()));
  EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  expect_mentions(e, "'" + dir.path() + "' is a directory");
}

TEST(ClassifierErrors, an_empty_file_is_a_corrupt_model) {
  TempDir dir;
  write_bytes(dir.file("empty.onnx"), "");
  const Error e = create_error(with_model(dir.file("empty.onnx")));
  EXPECT_EQ(e.code(), ErrorCode::corrupt);
  expect_mentions(e, "model '" + dir.file("empty.onnx") + "' is not a valid ONNX file: the file is empty");
}

TEST(ClassifierErrors, a_text_file_named_onnx_is_a_corrupt_model) {
  TempDir dir;
  write_bytes(dir.file("text.onnx"), "This is not a model.\nJust some words on two lines.\n");
  const Error e = create_error(with_model(dir.file("text.onnx")));
  EXPECT_EQ(e.code(), ErrorCode::corrupt);
  expect_mentions(e, "model '" + dir.file("text.onnx") + "' is not a valid ONNX file: ");
}

TEST(ClassifierErrors, a_truncated_model_is_corrupt_and_says_so) {
  TempDir dir;
  const std::string whole = slurp(tiny_model());
  ASSERT_GT(whole.size(), 1000U);
  for (const std::size_t keep : {whole.size() / 2, whole.size() - 1, std::size_t{10}}) {
    write_bytes(dir.file("cut.onnx"), whole.substr(0, keep));
    const Error e = create_error(with_model(dir.file("cut.onnx")));
    EXPECT_EQ(e.code(), ErrorCode::corrupt) << keep;
    expect_mentions(e, "model '" + dir.file("cut.onnx") + "' is not a valid ONNX file");
    expect_mentions(e, "truncated");
  }
}

TEST(ClassifierErrors, a_label_count_that_differs_from_the_classes_is_refused) {
  TempDir dir;
  write_bytes(dir.file("labels.txt"), "cat\ndog\nbird\n");
  ClassifierOptions o = tiny_options();
  o.labels = dir.file("labels.txt");
  const Error e = create_error(o);
  EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  expect_mentions(
      e, "label file '" + dir.file("labels.txt") + "' has 3 names, model '" + tiny_model() + "' has 10 classes");
}

TEST(ClassifierErrors, a_missing_label_file_is_not_found) {
  ClassifierOptions o = tiny_options();
  o.labels = "/nonexistent/labels.txt";
  const Error e = create_error(o);
  EXPECT_EQ(e.code(), ErrorCode::not_found);
  expect_mentions(e, "label file '/nonexistent/labels.txt' does not exist");
}

TEST(ClassifierErrors, an_unknown_backend_is_refused_naming_the_known_ones) {
  ClassifierOptions o = tiny_options();
  o.backend = "tensorrt-not-here";
  const Error e = create_error(o);
  EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  expect_mentions(e, "unknown inference backend 'tensorrt-not-here' (registered: ");
  expect_mentions(e, "opencv");
}

TEST(ClassifierErrors, an_input_size_the_model_does_not_take_is_refused) {
  ClassifierOptions o = tiny_options();
  o.input_width = 32;
  const Error e = create_error(o);
  EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  expect_mentions(e, "takes input width 64, the options ask for 32");
}

TEST(ClassifierErrors, zero_top_k_or_max_batch_is_refused) {
  ClassifierOptions o = tiny_options();
  o.top_k = 0;
  expect_mentions(create_error(o), "top_k");
  o = tiny_options();
  o.max_batch = 0;
  expect_mentions(create_error(o), "max_batch");
}

}  // namespace
}  // namespace framebus::testing
