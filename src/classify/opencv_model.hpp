#pragma once
// The engine seam beneath framebus::Model, and its OpenCV DNN implementation. Model checks every
// input against the graph's declarations first, so an engine sees only well-formed tensors.

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "classify/onnx_probe.hpp"
#include "framebus/classify/model.hpp"

namespace framebus::detail {

/// Runs one imported graph. Called by one thread at a time (its Model's).
class ModelEngine {
 public:
  ModelEngine() = default;
  ModelEngine(const ModelEngine&) = delete;
  ModelEngine& operator=(const ModelEngine&) = delete;
  virtual ~ModelEngine();

  /// `inputs` holds one tensor per graph input, in the graph's order, already checked; the result
  /// holds one tensor per graph output, in the graph's order, of the declared element types.
  virtual Result<std::vector<OwnedTensor>> run(std::span<const TensorRef> inputs) = 0;
};

/// Imports `bytes` (an ONNX file, checked by probe_onnx into `info`) into cv::dnn. corrupt, naming
/// `path`, when OpenCV cannot import it or has no layer for one of the graph's outputs.
Result<std::unique_ptr<ModelEngine>> make_opencv_model(const std::string& bytes, const OnnxInfo& info,
                                                       const std::string& path, int threads);

}  // namespace framebus::detail
