// Model: options -> the ONNX file checked and described (onnx_probe) -> an engine; every run's
// inputs are checked against the graph's declarations here, so that a wrong tensor is reported
// by its name, given and expected, rather than by an engine's assertion.
#include "framebus/classify/model.hpp"

#include <algorithm>

#include "classify/onnx_probe.hpp"
#include "classify/opencv_model.hpp"
#include "classify/read_file.hpp"

namespace framebus {
namespace detail {
namespace {

constexpr std::string_view kOpenCv = "opencv";

std::string shape_text(std::span<const std::int64_t> shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i != 0 ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

TensorInfo public_info(const OnnxTensorInfo& t) { return TensorInfo{t.name, t.dims, t.has_shape, t.dtype}; }

}  // namespace

class ModelCore {
 public:
  ModelCore(ModelLoadOptions options, OnnxInfo info, std::unique_ptr<ModelEngine> engine)
      : options_(std::move(options)), info_(std::move(info)), engine_(std::move(engine)) {
    for (const auto& t : info_.inputs) inputs_.push_back(public_info(t));
    for (const auto& t : info_.outputs) outputs_.push_back(public_info(t));
  }

  Result<std::vector<OwnedTensor>> run(std::span<const TensorRef> given) {
    ordered_.assign(inputs_.size(), TensorRef{});
    std::vector<bool> seen(inputs_.size(), false);
    for (const TensorRef& t : given) {
      auto it = std::find_if(inputs_.begin(), inputs_.end(), [&](const TensorInfo& i) { return i.name == t.name; });
      if (it == inputs_.end()) {
        return fail("has no input named '" + std::string(t.name) + "' (its inputs: " + input_names() + ")");
      }
      const auto index = static_cast<std::size_t>(it - inputs_.begin());
      if (seen[index]) return fail("input '" + it->name + "' is given twice");
      seen[index] = true;
      if (auto ok = check(*it, t); !ok) return tl::unexpected(ok.error());
      ordered_[index] = t;
    }
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      if (!seen[i]) {
        return fail("input '" + inputs_[i].name + "' is missing (expected " + std::string(to_string(inputs_[i].dtype)) +
                    " " + declared_text(inputs_[i]) + "; its inputs: " + input_names() + ")");
      }
    }
    return engine_->run(ordered_);
  }

  const std::vector<TensorInfo>& inputs() const noexcept { return inputs_; }
  const std::vector<TensorInfo>& outputs() const noexcept { return outputs_; }
  const std::string& graph_name() const noexcept { return info_.graph_name; }
  const ModelLoadOptions& options() const noexcept { return options_; }

 private:
  // The given tensor against the declared one: element type, rank, fixed dimensions, data.
  Result<void> check(const TensorInfo& declared, const TensorRef& t) const {
    const std::string which = "input '" + declared.name + "'";
    if (declared.dtype == DType::unknown) {
      return fail(which + " has an element type framebus cannot feed (not a numeric type it names)");
    }
    if (t.dtype != declared.dtype) {
      return fail(which + ": " + std::string(to_string(t.dtype)) + " given, " + std::string(to_string(declared.dtype)) +
                  " expected");
    }
    std::uint64_t count = 1;
    for (const std::int64_t d : t.shape) {
      if (d < 0) return fail(which + ": shape " + shape_text(t.shape) + " has a negative dimension");
      if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(d), &count)) {
        return fail(which + ": shape " + shape_text(t.shape) + " has too many elements");
      }
    }
    bool fits = !declared.has_shape || declared.dims.size() == t.shape.size();
    for (std::size_t i = 0; fits && declared.has_shape && i < t.shape.size(); ++i) {
      fits = declared.dims[i] < 0 || declared.dims[i] == t.shape[i];
    }
    if (!fits) {
      return fail(which + ": shape " + shape_text(t.shape) + " given, " + declared_text(declared) + " expected (" +
                  std::to_string(count) + " elements given)");
    }
    if (t.data == nullptr && count != 0) return fail(which + ": no data (a null pointer)");
    return {};
  }

  static std::string declared_text(const TensorInfo& t) {
    if (!t.has_shape) return "any shape";
    std::string text = "[";
    for (std::size_t i = 0; i < t.dims.size(); ++i) {
      text += (i != 0 ? ", " : "") + (t.dims[i] < 0 ? std::string("?") : std::to_string(t.dims[i]));
    }
    return text + "]";
  }

  std::string input_names() const {
    std::string names;
    for (const auto& t : inputs_) names += (names.empty() ? "" : ", ") + t.name;
    return names;
  }

  tl::unexpected<Error> fail(const std::string& what) const {
    return make_error(ErrorCode::invalid_argument, "model '" + options_.path + "': " + what);
  }

  ModelLoadOptions options_;
  OnnxInfo info_;
  std::unique_ptr<ModelEngine> engine_;
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  std::vector<TensorRef> ordered_;  // reused: the inputs in the graph's order
};

}  // namespace detail

std::size_t OwnedTensor::element_count() const noexcept {
  std::size_t n = 1;
  for (const std::int64_t d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

Result<Model> Model::create(ModelLoadOptions options) {
  if (options.path.empty()) {
    return make_error(ErrorCode::invalid_argument, "no model given (ModelLoadOptions::path is empty)");
  }
  if (options.backend != detail::kOpenCv) {
    return make_error(ErrorCode::invalid_argument,
                      "model '" + options.path + "': unknown backend '" + options.backend + "' (backends: opencv)");
  }
  std::string bytes = std::move(options.bytes);
  options.bytes.clear();
  if (bytes.empty()) {
    auto file = detail::read_file(options.path, "model");
    if (!file) return tl::unexpected(file.error());
    bytes = std::move(*file);
  }
  auto info = detail::probe_onnx(bytes, options.path);
  if (!info) return tl::unexpected(info.error());
  auto engine = detail::make_opencv_model(bytes, *info, options.path, options.threads);
  if (!engine) return tl::unexpected(engine.error());
  return Model(std::make_unique<detail::ModelCore>(std::move(options), std::move(*info), std::move(*engine)));
}

Model::Model(std::unique_ptr<detail::ModelCore> core) : core_(std::move(core)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Result<std::vector<OwnedTensor>> Model::run(std::span<const TensorRef> inputs) {
  if (!core_) return make_error(ErrorCode::closed, "the model was moved from");
  return core_->run(inputs);
}

// A moved-from Model answers like an empty one.
const std::vector<TensorInfo>& Model::inputs() const noexcept {
  static const std::vector<TensorInfo> kNone;
  return core_ ? core_->inputs() : kNone;
}
const std::vector<TensorInfo>& Model::outputs() const noexcept {
  static const std::vector<TensorInfo> kNone;
  return core_ ? core_->outputs() : kNone;
}
const std::string& Model::graph_name() const noexcept {
  static const std::string kNone;
  return core_ ? core_->graph_name() : kNone;
}
const ModelLoadOptions& Model::options() const noexcept {
  static const ModelLoadOptions kNone;
  return core_ ? core_->options() : kNone;
}

}  // namespace framebus
