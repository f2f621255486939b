#pragma once
// Reads what the Classifier needs to know from an ONNX file before any engine sees it: that it
// is a well-formed ONNX ModelProto, and the shape of its input. Engines' own importers report a
// text file or a truncated model with messages that name neither the file nor the fault; this
// check does, and OpenCV 4.6 has no call that gives a model's input shape.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "framebus/error.hpp"

namespace framebus::detail {

struct OnnxTensorInfo {
  std::string name;
  /// Dimensions; -1 for a symbolic or unknown one.
  std::vector<std::int64_t> dims;
};

struct OnnxInfo {
  std::int64_t ir_version = 0;
  std::int64_t opset = 0;  ///< Version of the default ("" or "ai.onnx") operator set.
  std::size_t nodes = 0;
  OnnxTensorInfo input;  ///< The first graph input that is not an initializer.
  std::vector<OnnxTensorInfo> outputs;
};

/// Walks the protobuf wire format of `bytes` (a whole ONNX file). corrupt, naming `path` and the
/// byte offset, when it is not a ModelProto with a graph that has nodes, an input and an output.
Result<OnnxInfo> probe_onnx(std::string_view bytes, const std::string& path);

}  // namespace framebus::detail
