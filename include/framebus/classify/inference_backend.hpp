#pragma once
/// @file inference_backend.hpp
/// The seam between Classifier and an inference engine. "opencv" (OpenCV DNN, CPU) is built in;
/// other engines (ONNX Runtime, TensorRT, ...) register a factory under their own name and are
/// chosen with ClassifierOptions::backend. The Classifier does everything around the engine:
/// reading frames, resizing, normalising, batching, softmax and top-k.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "framebus/classify/classifier.hpp"
#include "framebus/error.hpp"

namespace framebus {

/// The input a model accepts; 0 in a field means "any" (a dynamic dimension).
struct InputShape {
  std::uint32_t channels = 3;
  std::uint32_t height = 0;
  std::uint32_t width = 0;
};

/// An engine running one model. Called by one thread at a time (its Classifier's).
class InferenceBackend {
 public:
  InferenceBackend() = default;
  InferenceBackend(const InferenceBackend&) = delete;
  InferenceBackend& operator=(const InferenceBackend&) = delete;
  virtual ~InferenceBackend();

  /// The registry name it was made under, for messages.
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  /// Number of scores per image (> 0).
  [[nodiscard]] virtual std::uint32_t classes() const noexcept = 0;
  /// The input the model accepts.
  [[nodiscard]] virtual InputShape input_shape() const noexcept = 0;
  /// Runs the model on `batch` images in `nchw` (batch x channels x height x width floats,
  /// normalised) and stores batch x classes() scores in `scores` (resized as needed; logits or
  /// probabilities). An error names the engine and what failed.
  virtual Result<void> infer(const float* nchw, std::uint32_t batch, std::uint32_t channels, std::uint32_t height,
                             std::uint32_t width, std::vector<float>& scores) = 0;
};

/// Makes a backend for the given options (it loads options.model its own way).
using BackendFactory = std::function<Result<std::unique_ptr<InferenceBackend>>(const ClassifierOptions&)>;

/// Adds an engine under `name` for every Classifier created afterwards in this process.
/// invalid_argument for an empty name or factory; already_exists when the name is taken.
/// Thread-safe.
Result<void> register_backend(std::string name, BackendFactory factory);
/// The registered names, sorted ("opencv" among them).
std::vector<std::string> backend_names();

}  // namespace framebus
