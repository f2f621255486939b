#pragma once
/// @file model.hpp
/// Model: runs any ONNX graph on named tensors (several inputs and outputs, any element type the
/// graph declares), for programs that do their own pre- and post-processing. The Classifier is the
/// ready-made path for image classification; Model is the general one beneath sail's Engine.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "framebus/error.hpp"
#include "framebus/message.hpp"

namespace framebus {

namespace detail {
class ModelCore;
}

/// How a Model is made. Every field has a default but `path`.
struct ModelLoadOptions {
  /// The ONNX file. With `bytes` given, only the name the model goes by in messages.
  std::string path;
  /// The whole ONNX file, already in memory; empty: read `path`.
  std::string bytes;
  /// > 0: cv::setNumThreads(threads) for the "opencv" backend. Process-wide (see
  /// ClassifierOptions::threads).
  int threads = 0;
  /// The engine: "opencv" (OpenCV's DNN module, CPU) is the one there is.
  std::string backend = "opencv";
};

/// A graph input or output as the ONNX file declares it.
struct TensorInfo {
  /// The tensor's name in the graph.
  std::string name;
  /// Dimensions; -1 for a dynamic (symbolic or unknown) one. Empty with `has_shape` false: the
  /// graph says nothing of the shape; empty with `has_shape` true: a scalar.
  std::vector<std::int64_t> dims;
  /// true when the graph declares a shape (see `dims`).
  bool has_shape = true;
  /// The element type; DType::unknown for one framebus has no name for (string, bfloat16, ...).
  DType dtype = DType::float32;
};

/// An input tensor, read in place during run(): dense, C order, `shape` elements of `dtype`.
struct TensorRef {
  /// The graph input it feeds.
  std::string_view name;
  /// Its element type; must be the one the graph declares.
  DType dtype = DType::float32;
  /// Its dimensions (each >= 0).
  std::span<const std::int64_t> shape;
  /// The first element; may be null only when the shape has no elements.
  const void* data = nullptr;
};

/// An output tensor, owned: dense, C order.
struct OwnedTensor {
  /// The graph output it is.
  std::string name;
  /// Its element type: the one the graph declares (float32 when it declares none).
  DType dtype = DType::float32;
  /// Its dimensions.
  std::vector<std::int64_t> shape;
  /// element_count() x dtype_size(dtype) bytes.
  std::vector<std::byte> data;

  /// The product of `shape` (1 for a scalar).
  [[nodiscard]] std::size_t element_count() const noexcept;
};

/// Runs one ONNX graph: named input tensors in, the graph's outputs out, in the graph's order.
/// Inputs are checked against the graph's declarations (name, element type, rank and every fixed
/// dimension) before the engine sees them; dynamic dimensions take any size.
///
/// The "opencv" backend computes in float32 whatever the declared types: integer inputs are
/// converted to float32 on the way in, and outputs converted to their declared type on the way
/// out (rounded to the nearest integer for integer types).
///
/// Thread-compatible: one thread at a time per Model; use one Model per thread or process.
/// Move-only.
class Model {
 public:
  /// Reads and checks the model, and imports it into the engine.
  /// Errors: invalid_argument (no path, an unknown backend, a directory); not_found (the file
  /// does not exist, naming it); corrupt (no ONNX file, truncated, or the engine cannot import
  /// it: the message names the path and why).
  static Result<Model> create(ModelLoadOptions options);

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  ~Model();

  /// Runs the graph on `inputs`, one per graph input, in any order; the outputs come in the
  /// graph's output order. invalid_argument, naming the model and the tensor, for an unknown,
  /// repeated or missing input, an element type other than the declared one, or a shape of
  /// another rank or with another size in a fixed dimension (the message shows the given and the
  /// expected shape); invalid_argument also when the engine refuses the inputs (its reason
  /// follows); closed for a moved-from Model.
  Result<std::vector<OwnedTensor>> run(std::span<const TensorRef> inputs);

  /// The graph inputs that are not weights (initializers), in the graph's order.
  [[nodiscard]] const std::vector<TensorInfo>& inputs() const noexcept;
  /// The graph outputs, in the graph's order.
  [[nodiscard]] const std::vector<TensorInfo>& outputs() const noexcept;
  /// The name the ONNX graph gives itself (GraphProto.name); may be empty.
  [[nodiscard]] const std::string& graph_name() const noexcept;
  /// The options it was made with (without the bytes, which are not kept).
  [[nodiscard]] const ModelLoadOptions& options() const noexcept;

 private:
  explicit Model(std::unique_ptr<detail::ModelCore> core);
  std::unique_ptr<detail::ModelCore> core_;
};

}  // namespace framebus
