// scripts/make-model: the same options give the same bytes, run after run; another seed does not.
#include <gtest/gtest.h>

#include "classify/classify_support.hpp"
#include "classify/onnx_probe.hpp"

namespace framebus::testing {
namespace {

std::vector<std::string> tiny_args(const std::string& out, const std::string& labels, const std::string& seed) {
  return {make_model_script(), "--out", out,      "--labels", labels, "--width", "8", "--classes", "10",
          "--input-size",      "64",    "--seed", seed};
}

TEST(ModelGenerator, two_runs_write_identical_files) {
  TempDir dir;
  ASSERT_EQ(run_program(tiny_args(dir.file("a.onnx"), dir.file("a.txt"), "18")), 0);
  ASSERT_EQ(run_program(tiny_args(dir.file("b.onnx"), dir.file("b.txt"), "18")), 0);
  const std::string a = slurp(dir.file("a.onnx"));
  ASSERT_GT(a.size(), 100000U);
  EXPECT_TRUE(a == slurp(dir.file("b.onnx")));
  EXPECT_EQ(slurp(dir.file("a.txt")), slurp(dir.file("b.txt")));
  // The fixture made the build's tiny model with the same options (default seed 18).
  EXPECT_TRUE(a == slurp(tiny_model()));
  EXPECT_EQ(slurp(dir.file("a.txt")), slurp(tiny_labels()));
}

TEST(ModelGenerator, another_seed_gives_other_weights) {
  TempDir dir;
  ASSERT_EQ(run_program(tiny_args(dir.file("c.onnx"), dir.file("c.txt"), "7")), 0);
  const std::string c = slurp(dir.file("c.onnx"));
  const std::string tiny = slurp(tiny_model());
  ASSERT_GT(c.size(), 100000U);
  EXPECT_FALSE(c == tiny);
}

TEST(ModelGenerator, the_model_has_the_promised_interface) {
  auto info = detail::probe_onnx(slurp(tiny_model()), tiny_model());
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->input.name, "input");
  EXPECT_EQ(info->input.dims, (std::vector<std::int64_t>{-1, 3, 64, 64}));  // dynamic batch
  ASSERT_EQ(info->outputs.size(), 1U);
  EXPECT_EQ(info->outputs[0].name, "logits");
  EXPECT_EQ(info->outputs[0].dims, (std::vector<std::int64_t>{-1, 10}));
  EXPECT_EQ(info->opset, 11);
  // conv1, bn1, relu, maxpool; 8 blocks of 7 (conv, bn, relu, conv, bn, add, relu), 3 of them with
  // a downsample conv + bn; pool, flatten, fc.
  EXPECT_EQ(info->nodes, 4U + 8 * 7 + 3 * 2 + 3);

  auto full = detail::probe_onnx(slurp(full_model()), full_model());
  ASSERT_TRUE(full) << full.error().message();
  EXPECT_EQ(full->input.dims, (std::vector<std::int64_t>{-1, 3, 224, 224}));
  EXPECT_EQ(full->outputs[0].dims, (std::vector<std::int64_t>{-1, 1000}));
}

TEST(ModelGenerator, bad_options_fail) {
  TempDir dir;
  EXPECT_NE(run_program({make_model_script(), "--out", dir.file("x.onnx"), "--classes", "0"}), 0);
  EXPECT_NE(run_program({make_model_script(), "--classes", "3"}), 0);  // no --out
}

}  // namespace
}  // namespace framebus::testing
