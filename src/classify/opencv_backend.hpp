#pragma once
// The built-in inference engine: OpenCV's DNN module on the CPU, reading ONNX models.

#include <memory>
#include <string_view>

#include "framebus/classify/inference_backend.hpp"

namespace framebus::detail {

inline constexpr std::string_view kOpenCvBackendName = "opencv";

/// Reads options.model (checked by probe_onnx first), imports it into cv::dnn and runs it once
/// on a zero picture: a model that OpenCV cannot run fails here, and the run tells the class count.
Result<std::unique_ptr<InferenceBackend>> make_opencv_backend(const ClassifierOptions& options);

}  // namespace framebus::detail
