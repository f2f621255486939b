#pragma once
// Reads what the Classifier and Model need to know from an ONNX file before any engine sees it:
// that it is a well-formed ONNX ModelProto, and the names, shapes and element types of its inputs
// and outputs. Engines' own importers report a text file or a truncated model with messages that
// name neither the file nor the fault; this check does, and OpenCV 4.6 has no call that gives a
// model's input shapes or element types.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "framebus/error.hpp"
#include "framebus/message.hpp"

namespace framebus::detail {

struct OnnxTensorInfo {
  std::string name;
  /// Dimensions; -1 for a symbolic or unknown one.
  std::vector<std::int64_t> dims;
  /// The element type; DType::unknown for a type framebus has no name for (string, complex,
  /// bfloat16) or none given.
  DType dtype = DType::unknown;
  /// false when the graph gives no shape at all (then `dims` is empty and any shape is possible);
  /// true with empty `dims` is a scalar.
  bool has_shape = false;
};

struct OnnxInfo {
  std::int64_t ir_version = 0;
  std::int64_t opset = 0;  ///< Version of the default ("" or "ai.onnx") operator set.
  std::size_t nodes = 0;
  std::string graph_name;              ///< GraphProto.name; may be empty.
  OnnxTensorInfo input;                ///< The first graph input that is not an initializer.
  std::vector<OnnxTensorInfo> inputs;  ///< Every graph input that is not an initializer, in order.
  std::vector<OnnxTensorInfo> outputs;
};

/// Walks the protobuf wire format of `bytes` (a whole ONNX file). corrupt, naming `path` and the
/// byte offset, when it is not a ModelProto with a graph that has nodes, an input and an output.
Result<OnnxInfo> probe_onnx(std::string_view bytes, const std::string& path);

}  // namespace framebus::detail
