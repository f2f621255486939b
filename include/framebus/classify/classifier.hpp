#pragma once
/// @file classifier.hpp
/// Classifier: image classification of frames, straight from channel slots, with an ONNX model.
/// The default engine is OpenCV's DNN module (CPU); others plug in through inference_backend.hpp.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "framebus/channel/consumer.hpp"
#include "framebus/classify/prediction.hpp"
#include "framebus/error.hpp"
#include "framebus/message.hpp"

namespace framebus {

namespace detail {
class ClassifierCore;
}

/// An image to classify, read in place: `data` is the payload start, plane offsets and strides
/// come from `desc` (the ImageDesc a message carries). Nothing is copied or kept.
struct ImageRef {
  const std::byte* data = nullptr;
  ImageDesc desc{};
};

/// The ImageRef of a received image message, checked against its payload (the description comes
/// from shared memory). invalid_argument naming the message (stream, frame) otherwise.
Result<ImageRef> image_of(const Message& sample);

/// How a Classifier is made. Every field has a default but `model`.
struct ClassifierOptions {
  /// The model file (.onnx for the "opencv" backend): input NCHW float32, output one score per class.
  std::string model;
  /// A label file, one class name per line (as ImageNet's); its line count must equal the model's
  /// class count. Empty: no names (labels() is empty).
  std::string labels;
  /// The engine, by its name in the backend registry (see inference_backend.hpp).
  std::string backend = "opencv";
  /// The size pictures are resized to. 0 takes the model's input size, or 224 when the model
  /// leaves it open. A model with a fixed input size accepts only that size.
  std::uint32_t input_width = 0;
  std::uint32_t input_height = 0;
  /// Per-colour normalisation, (pixel / 255 - mean) / std, given for R, G, B (whatever the
  /// channel order the model wants). The defaults are ImageNet's.
  std::array<float, 3> mean{0.485F, 0.456F, 0.406F};
  std::array<float, 3> std{0.229F, 0.224F, 0.225F};
  /// The channel order the model wants: true = R, G, B (most models, trained from RGB pictures);
  /// false = B, G, R. Frames of any pixel format are reordered to it.
  bool swap_rb = true;
  /// Length of each result list (capped at the class count).
  std::uint32_t top_k = 5;
  /// > 0: cv::setNumThreads(threads) for the "opencv" backend. It is process-wide: when several
  /// worker processes share the cores, give each a share (threads = cores / workers).
  int threads = 0;
  /// The largest batch handed to the engine at once; classify() splits larger inputs.
  std::uint32_t max_batch = 8;
};

/// Classifies images with one model. Each image is read once from its own memory (a channel slot
/// is never copied): resized to the model's size, then normalised and reordered into the batch
/// tensor in one pass. Results are the same whether an image is classified alone or in a batch.
///
/// Thread-compatible: one thread at a time per Classifier (it reuses its buffers); use one
/// Classifier per thread or process (each worker process makes its own, after it forked, so that
/// no engine state is shared between processes). Move-only.
class Classifier {
 public:
  /// Loads the model and checks everything that can be checked up front.
  /// Errors: not_found (model or label file missing, naming the path); invalid_argument (a
  /// directory given as model, an unknown backend, a label count that differs from the model's
  /// class count, an input size the model does not accept, bad options); corrupt (the file is no
  /// ONNX model, is truncated, or the engine cannot import it: the message names the path and
  /// why).
  static Result<Classifier> create(ClassifierOptions options);

  Classifier(Classifier&&) noexcept;
  Classifier& operator=(Classifier&&) noexcept;
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;
  ~Classifier();

  /// One top-k list per image, in input order, best first (ties: lower class id first).
  /// Accepts bgr24, rgb24, gray8 (replicated to three channels), nv12 and yuv420p (converted to
  /// colour first; odd sizes lose their last row or column there). A null, empty, unknown-format
  /// or inconsistent image is invalid_argument naming its index; nothing is returned then.
  Result<std::vector<std::vector<Prediction>>> classify(std::span<const ImageRef> images);
  /// The same for received messages (read in place, zero copy). Each must be an image message
  /// whose description fits its payload; anything else is invalid_argument naming its index.
  Result<std::vector<std::vector<Prediction>>> classify(std::span<const Message> samples);

  /// Class names from the label file, by class id; empty without one.
  [[nodiscard]] const std::vector<std::string>& labels() const noexcept;
  [[nodiscard]] std::uint32_t classes() const noexcept;
  /// The size images are resized to.
  [[nodiscard]] std::uint32_t input_width() const noexcept;
  [[nodiscard]] std::uint32_t input_height() const noexcept;
  /// The options it was made with (input size and top_k as given, not as resolved).
  [[nodiscard]] const ClassifierOptions& options() const noexcept;

 private:
  explicit Classifier(std::unique_ptr<detail::ClassifierCore> core);
  std::unique_ptr<detail::ClassifierCore> core_;
};

}  // namespace framebus
