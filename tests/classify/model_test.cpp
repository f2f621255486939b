// framebus::Model on small ONNX graphs written at test time with the onnx package (several inputs
// and outputs, weights listed as inputs the old way, integer types, a dynamic batch), their
// results checked against answers worked out by hand; and every error a caller can cause.
#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>

#include "classify/classify_support.hpp"
#include "classify/onnx_probe.hpp"
#include "framebus/classify/model.hpp"

namespace framebus::testing {
namespace {

// Writes the test graphs into argv[1]. Each is described where a test uses it.
constexpr const char* kMakeGraphs = R"PY(
import sys
from onnx import TensorProto as T, helper, save
out = sys.argv[1]
vi = helper.make_tensor_value_info

def model(path, nodes, inputs, outputs, inits=(), name="g"):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    m.ir_version = 6
    save(m, out + "/" + path)

w = helper.make_tensor("w", T.FLOAT, [3], [1.0, 2.0, 3.0])
model("arith.onnx",
      [helper.make_node("Add", ["a", "b"], ["total"], name="add0"),
       helper.make_node("Mul", ["total", "w"], ["scaled"], name="mul0"),
       helper.make_node("Relu", ["b"], ["rb"]),
       helper.make_node("Sub", ["scaled", "rb"], ["diff"], name="sub0")],
      [vi("a", T.FLOAT, [2, 3]), vi("b", T.FLOAT, [2, 3]), vi("w", T.FLOAT, [3])],
      [vi("diff", T.FLOAT, [2, 3]), vi("total", T.FLOAT, [2, 3])], [w], name="arith")
model("mixed.onnx",
      [helper.make_node("Cast", ["i"], ["f"], to=T.FLOAT),
       helper.make_node("Add", ["f", "x"], ["y"]),
       helper.make_node("ArgMax", ["y"], ["am"], axis=1, keepdims=0)],
      [vi("i", T.INT64, [1, 3]), vi("x", T.FLOAT, [1, 3])],
      [vi("y", T.FLOAT, [1, 3]), vi("am", T.INT64, [1])])
model("split.onnx",
      [helper.make_node("Split", ["x"], ["p", "q"], axis=1), helper.make_node("Identity", ["q"], ["qq"])],
      [vi("x", T.FLOAT, [1, 4])], [vi("qq", T.FLOAT, [1, 2]), vi("p", T.FLOAT, [1, 2])])
model("batch.onnx",
      [helper.make_node("Relu", ["x"], ["r"])],
      [vi("x", T.FLOAT, ["n", 3])], [vi("r", T.FLOAT, ["n", 3])])
)PY";

class ModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    ASSERT_EQ(run_program({"/usr/bin/python3", "-c", kMakeGraphs, dir_->path()}), 0) << "the onnx package is needed";
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string graph(const std::string& name) { return dir_->file(name); }

  static Model load(const std::string& name) {
    auto m = Model::create(ModelLoadOptions{.path = graph(name)});
    if (!m) throw std::runtime_error(m.error().message());
    return std::move(*m);
  }

  static TempDir* dir_;
};

TempDir* ModelTest::dir_ = nullptr;

std::vector<float> floats(const OwnedTensor& t) {
  EXPECT_EQ(t.dtype, DType::float32);
  std::vector<float> v(t.data.size() / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), t.data.data(), v.size() * sizeof(float));
  return v;
}

using Dims = std::vector<std::int64_t>;

TEST_F(ModelTest, reports_every_input_but_the_weights_and_every_output_with_types) {
  Model m = load("arith.onnx");
  EXPECT_EQ(m.graph_name(), "arith");
  ASSERT_EQ(m.inputs().size(), 2U);  // "w" is an initializer listed as an input (IR < 4 style)
  EXPECT_EQ(m.inputs()[0].name, "a");
  EXPECT_EQ(m.inputs()[1].name, "b");
  EXPECT_EQ(m.inputs()[1].dims, (Dims{2, 3}));
  EXPECT_EQ(m.inputs()[1].dtype, DType::float32);
  ASSERT_EQ(m.outputs().size(), 2U);
  EXPECT_EQ(m.outputs()[0].name, "diff");
  EXPECT_EQ(m.outputs()[1].name, "total");

  Model mixed = load("mixed.onnx");
  EXPECT_EQ(mixed.inputs()[0].dtype, DType::int64);
  EXPECT_EQ(mixed.outputs()[1].dtype, DType::int64);
  EXPECT_EQ(mixed.outputs()[1].dims, (Dims{1}));
  EXPECT_EQ(load("batch.onnx").inputs()[0].dims, (Dims{-1, 3}));

  // The probe the Classifier uses still gives the first input.
  auto info = detail::probe_onnx(slurp(graph("arith.onnx")), "arith.onnx");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->input.name, "a");
  EXPECT_EQ(info->inputs.size(), 2U);
}

TEST_F(ModelTest, runs_named_inputs_given_in_any_order) {
  Model m = load("arith.onnx");
  const std::vector<float> a{0, 1, 2, 3, 4, 5};
  const std::vector<float> b{-1, -1, -1, 2, 2, 2};
  const Dims shape{2, 3};
  const TensorRef in[] = {{"b", DType::float32, shape, b.data()}, {"a", DType::float32, shape, a.data()}};
  auto out = m.run(in);
  ASSERT_TRUE(out) << out.error().message();
  ASSERT_EQ(out->size(), 2U);
  // total = a + b; diff = total * [1, 2, 3] - relu(b).
  EXPECT_EQ((*out)[0].name, "diff");
  EXPECT_EQ((*out)[0].shape, shape);
  EXPECT_EQ(floats((*out)[0]), (std::vector<float>{-1, 0, 3, 3, 10, 19}));
  EXPECT_EQ((*out)[1].name, "total");
  EXPECT_EQ(floats((*out)[1]), (std::vector<float>{-1, 0, 1, 5, 6, 7}));
  EXPECT_EQ((*out)[1].element_count(), 6U);

  // Again, with other values: nothing is left over from the first run.
  const std::vector<float> zeros(6, 0.0F);
  const TensorRef again[] = {{"a", DType::float32, shape, zeros.data()}, {"b", DType::float32, shape, zeros.data()}};
  out = m.run(again);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(floats((*out)[0]), zeros);
}

TEST_F(ModelTest, outputs_come_in_the_graph_order_under_their_onnx_names) {
  // The graph lists its outputs (qq, p): not the order of its nodes, nor OpenCV's.
  Model m = load("split.onnx");
  const std::vector<float> x{1, 2, 3, 4};
  const Dims shape{1, 4};
  const TensorRef in[] = {{"x", DType::float32, shape, x.data()}};
  auto out = m.run(in);
  ASSERT_TRUE(out) << out.error().message();
  ASSERT_EQ(out->size(), 2U);
  EXPECT_EQ((*out)[0].name, "qq");
  EXPECT_EQ(floats((*out)[0]), (std::vector<float>{3, 4}));
  EXPECT_EQ((*out)[1].name, "p");
  EXPECT_EQ(floats((*out)[1]), (std::vector<float>{1, 2}));
}

TEST_F(ModelTest, integer_inputs_and_outputs_keep_their_declared_types_and_ranks) {
  Model m = load("mixed.onnx");
  const std::int64_t i[] = {1, 5, 2};
  const float x[] = {0, 0, 10};
  const Dims shape{1, 3};
  const TensorRef in[] = {{"i", DType::int64, shape, i}, {"x", DType::float32, shape, x}};
  auto out = m.run(in);
  ASSERT_TRUE(out) << out.error().message();
  ASSERT_EQ(out->size(), 2U);
  EXPECT_EQ(floats((*out)[0]), (std::vector<float>{1, 5, 12}));
  const OwnedTensor& am = (*out)[1];
  EXPECT_EQ(am.name, "am");
  EXPECT_EQ(am.dtype, DType::int64);
  EXPECT_EQ(am.shape, (Dims{1}));  // OpenCV gives [1, 1]; the graph declares [1]
  ASSERT_EQ(am.data.size(), sizeof(std::int64_t));
  std::int64_t index = -1;
  std::memcpy(&index, am.data.data(), sizeof index);
  EXPECT_EQ(index, 2);
}

TEST_F(ModelTest, a_dynamic_dimension_takes_any_size) {
  Model m = load("batch.onnx");
  for (const std::int64_t n : {1, 4, 2}) {
    std::vector<float> x(static_cast<std::size_t>(n) * 3);
    for (std::size_t k = 0; k < x.size(); ++k) x[k] = (k % 2 == 0 ? -1.0F : 1.0F) * static_cast<float>(k);
    const Dims shape{n, 3};
    const TensorRef in[] = {{"x", DType::float32, shape, x.data()}};
    auto out = m.run(in);
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ((*out)[0].shape, shape);
    std::vector<float> expected(x.size());
    for (std::size_t k = 0; k < x.size(); ++k) expected[k] = x[k] > 0 ? x[k] : 0.0F;
    EXPECT_EQ(floats((*out)[0]), expected);
  }
}

TEST_F(ModelTest, loads_from_bytes_in_memory) {
  auto m = Model::create(ModelLoadOptions{.path = "in-memory", .bytes = slurp(graph("batch.onnx"))});
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->options().path, "in-memory");
  EXPECT_TRUE(m->options().bytes.empty());
  EXPECT_EQ(m->outputs()[0].name, "r");
}

TEST_F(ModelTest, runs_the_generated_classifier) {
  auto m = Model::create(ModelLoadOptions{.path = tiny_model(), .threads = 1});
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_EQ(m->inputs().size(), 1U);
  EXPECT_EQ(m->inputs()[0].dims, (Dims{-1, 3, 64, 64}));
  std::vector<float> pixels(2 * 3 * 64 * 64, 0.5F);
  const Dims shape{2, 3, 64, 64};
  const TensorRef in[] = {{"input", DType::float32, shape, pixels.data()}};
  auto out = m->run(in);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ((*out)[0].name, "logits");
  EXPECT_EQ((*out)[0].shape, (Dims{2, 10}));
  const auto scores = floats((*out)[0]);
  for (std::size_t k = 0; k < 10; ++k) EXPECT_FLOAT_EQ(scores[k], scores[10 + k]);  // same picture twice
}

// The message of a failed run on `in`; it must be invalid_argument.
std::string run_error(Model& m, std::span<const TensorRef> in) {
  auto out = m.run(in);
  EXPECT_FALSE(out);
  if (out) return "";
  EXPECT_EQ(out.error().code(), ErrorCode::invalid_argument) << out.error().message();
  return out.error().message();
}

TEST_F(ModelTest, wrong_inputs_are_named_with_what_was_given_and_what_is_expected) {
  Model m = load("arith.onnx");
  const std::vector<float> v(6, 1.0F);
  const std::vector<std::int32_t> ints(6, 1);
  const Dims shape{2, 3};
  const Dims flat{6};
  const Dims other{3, 2};
  const TensorRef a{"a", DType::float32, shape, v.data()};
  const TensorRef b{"b", DType::float32, shape, v.data()};

  const TensorRef unknown[] = {a, b, {"c", DType::float32, shape, v.data()}};
  std::string e = run_error(m, unknown);
  EXPECT_NE(e.find("no input named 'c'"), std::string::npos) << e;
  EXPECT_NE(e.find("a, b"), std::string::npos) << e;
  EXPECT_NE(e.find("arith.onnx"), std::string::npos) << e;

  const TensorRef missing[] = {a};
  e = run_error(m, missing);
  EXPECT_NE(e.find("input 'b' is missing"), std::string::npos) << e;
  EXPECT_NE(e.find("[2, 3]"), std::string::npos) << e;

  const TensorRef twice[] = {a, b, a};
  e = run_error(m, twice);
  EXPECT_NE(e.find("input 'a' is given twice"), std::string::npos) << e;

  const TensorRef wrong_type[] = {a, {"b", DType::int32, shape, ints.data()}};
  e = run_error(m, wrong_type);
  EXPECT_NE(e.find("input 'b': int32 given, float32 expected"), std::string::npos) << e;

  const TensorRef wrong_rank[] = {{"a", DType::float32, flat, v.data()}, b};
  e = run_error(m, wrong_rank);
  EXPECT_NE(e.find("input 'a': shape [6] given, [2, 3] expected"), std::string::npos) << e;

  const TensorRef wrong_dims[] = {a, {"b", DType::float32, other, v.data()}};
  e = run_error(m, wrong_dims);
  EXPECT_NE(e.find("input 'b': shape [3, 2] given, [2, 3] expected"), std::string::npos) << e;

  const TensorRef no_data[] = {a, {"b", DType::float32, shape, nullptr}};
  e = run_error(m, no_data);
  EXPECT_NE(e.find("input 'b': no data"), std::string::npos) << e;

  // A dynamic dimension shows as '?'.
  Model batch = load("batch.onnx");
  const TensorRef narrow[] = {{"x", DType::float32, other, v.data()}};
  e = run_error(batch, narrow);
  EXPECT_NE(e.find("shape [3, 2] given, [?, 3] expected"), std::string::npos) << e;
}

TEST_F(ModelTest, bad_models_and_options_are_refused_naming_the_file) {
  auto missing = Model::create(ModelLoadOptions{.path = graph("nothing.onnx")});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::not_found);
  EXPECT_NE(missing.error().message().find("nothing.onnx"), std::string::npos);

  auto empty = Model::create(ModelLoadOptions{});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), ErrorCode::invalid_argument);

  auto backend = Model::create(ModelLoadOptions{.path = graph("arith.onnx"), .backend = "tensorrt"});
  ASSERT_FALSE(backend);
  EXPECT_EQ(backend.error().code(), ErrorCode::invalid_argument);
  EXPECT_NE(backend.error().message().find("'tensorrt'"), std::string::npos);

  write_bytes(graph("text.onnx"), "not a model at all\n");
  auto text = Model::create(ModelLoadOptions{.path = graph("text.onnx")});
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code(), ErrorCode::corrupt);
  EXPECT_NE(text.error().message().find("text.onnx"), std::string::npos);

  const std::string whole = slurp(graph("arith.onnx"));
  auto cut = Model::create(ModelLoadOptions{.path = "cut.onnx", .bytes = whole.substr(0, whole.size() / 2)});
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code(), ErrorCode::corrupt);
  EXPECT_NE(cut.error().message().find("cut.onnx"), std::string::npos);
}

TEST_F(ModelTest, a_moved_from_model_is_closed) {
  Model m = load("batch.onnx");
  Model other = std::move(m);
  // The moved-from state is documented.
  // NOLINTBEGIN(bugprone-use-after-move)
  EXPECT_TRUE(m.inputs().empty());
  EXPECT_TRUE(m.graph_name().empty());
  const TensorRef none[] = {{"x", DType::float32, {}, nullptr}};
  auto out = m.run(none);
  // NOLINTEND(bugprone-use-after-move)
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), ErrorCode::closed);
  EXPECT_EQ(other.inputs().size(), 1U);
}

}  // namespace
}  // namespace framebus::testing
