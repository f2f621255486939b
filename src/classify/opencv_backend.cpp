#include "classify/opencv_backend.hpp"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include "classify/onnx_probe.hpp"
#include "classify/preprocess.hpp"
#include "classify/read_file.hpp"

namespace framebus::detail {
namespace {

std::uint32_t fixed_dim(const std::vector<std::int64_t>& dims, std::size_t i) {
  if (i >= dims.size() || dims[i] <= 0 || dims[i] > 1'000'000) return 0;
  return static_cast<std::uint32_t>(dims[i]);
}

class OpenCvBackend final : public InferenceBackend {
 public:
  OpenCvBackend(cv::dnn::Net net, InputShape shape, std::string model)
      : net_(std::move(net)), shape_(shape), model_(std::move(model)) {}

  [[nodiscard]] std::string_view name() const noexcept override { return kOpenCvBackendName; }
  [[nodiscard]] std::uint32_t classes() const noexcept override { return classes_; }
  [[nodiscard]] InputShape input_shape() const noexcept override { return shape_; }

  Result<void> infer(const float* nchw, std::uint32_t batch, std::uint32_t channels, std::uint32_t height,
                     std::uint32_t width, std::vector<float>& scores) override {
    const int dims[4] = {static_cast<int>(batch), static_cast<int>(channels), static_cast<int>(height),
                         static_cast<int>(width)};
    try {
      // A header over the caller's tensor: setInput keeps a reference, forward() only reads it.
      const cv::Mat blob(4, dims, CV_32F, const_cast<float*>(nchw));  // NOLINT: read-only use
      net_.setInput(blob);
      const cv::Mat out = net_.forward();
      if (out.type() != CV_32F || out.total() % batch != 0 || !out.isContinuous()) {
        return make_error(ErrorCode::corrupt, "model '" + model_ + "': OpenCV returned " + std::to_string(out.total()) +
                                                  " outputs for a batch of " + std::to_string(batch));
      }
      const std::size_t per_image = out.total() / batch;
      if (classes_ != 0 && per_image != classes_) {
        return make_error(ErrorCode::corrupt, "model '" + model_ + "': " + std::to_string(per_image) +
                                                  " scores per image, " + std::to_string(classes_) + " expected");
      }
      classes_ = static_cast<std::uint32_t>(per_image);
      const auto* first = out.ptr<float>();
      scores.assign(first, first + out.total());
      return {};
    } catch (const cv::Exception& e) {
      return make_error(ErrorCode::invalid_argument, "model '" + model_ + "': OpenCV failed to run it on a " +
                                                         std::to_string(batch) + "x" + std::to_string(channels) + "x" +
                                                         std::to_string(height) + "x" + std::to_string(width) +
                                                         " input: " + e.what());
    }
  }

 private:
  cv::dnn::Net net_;
  InputShape shape_;
  std::string model_;
  std::uint32_t classes_ = 0;  // learnt from the first run
};

}  // namespace

Result<std::unique_ptr<InferenceBackend>> make_opencv_backend(const ClassifierOptions& options) {
  if (options.model.empty()) {
    return make_error(ErrorCode::invalid_argument, "no model given (ClassifierOptions::model is empty)");
  }
  auto bytes = read_file(options.model, "model");
  if (!bytes) return tl::unexpected(bytes.error());
  auto info = probe_onnx(*bytes, options.model);
  if (!info) return tl::unexpected(info.error());
  if (info->outputs.size() != 1) {
    return make_error(ErrorCode::invalid_argument, "model '" + options.model + "' has " +
                                                       std::to_string(info->outputs.size()) +
                                                       " outputs; a classifier has one (the class scores)");
  }
  const auto& dims = info->input.dims;
  if (dims.size() != 4) {
    return make_error(ErrorCode::invalid_argument, "model '" + options.model + "': input '" + info->input.name +
                                                       "' has " + std::to_string(dims.size()) +
                                                       " dimensions; an NCHW image input has 4");
  }
  const InputShape shape{fixed_dim(dims, 1), fixed_dim(dims, 2), fixed_dim(dims, 3)};

  if (options.threads > 0) cv::setNumThreads(options.threads);
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(bytes->data(), bytes->size());
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  } catch (const cv::Exception& e) {
    return make_error(ErrorCode::corrupt, "model '" + options.model + "': OpenCV cannot import it: " + e.what());
  }
  if (net.empty()) return make_error(ErrorCode::corrupt, "model '" + options.model + "': OpenCV imported no layers");

  auto backend = std::make_unique<OpenCvBackend>(std::move(net), shape, options.model);
  // A trial run on a zero picture: proves OpenCV can run the model, and gives the class count.
  const std::uint32_t channels = shape.channels != 0 ? shape.channels : 3;
  // A fixed model size wins here; the Classifier reports options that ask for another one.
  const std::uint32_t height = shape.height != 0           ? shape.height
                               : options.input_height != 0 ? options.input_height
                                                           : kDefaultInputSize;
  const std::uint32_t width = shape.width != 0           ? shape.width
                              : options.input_width != 0 ? options.input_width
                                                         : kDefaultInputSize;
  std::vector<float> zeros(std::size_t{channels} * height * width, 0.0F);
  std::vector<float> scores;
  if (auto ok = backend->infer(zeros.data(), 1, channels, height, width, scores); !ok)
    return tl::unexpected(ok.error());
  if (scores.empty()) return make_error(ErrorCode::corrupt, "model '" + options.model + "' gives no scores");
  return std::unique_ptr<InferenceBackend>(std::move(backend));
}

}  // namespace framebus::detail
