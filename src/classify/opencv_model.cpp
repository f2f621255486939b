// Model's OpenCV DNN engine. OpenCV 4.6 computes in float32 only and knows graph outputs by its
// own layer names, so this file converts element types on the way in and out, maps each ONNX
// output to the layer OpenCV made for it, and restores the declared rank OpenCV loses (it has no
// 0-D or 1-D blobs).
#include "classify/opencv_model.hpp"

#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

namespace framebus::detail {

ModelEngine::~ModelEngine() = default;

namespace {

template <typename T>
void widen(const std::byte* src, std::size_t n, float* out) {
  for (std::size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));  // the caller's data may be unaligned
    out[i] = static_cast<float>(v);
  }
}

// n elements of `dtype` at `src` as float32.
void to_float(DType dtype, const void* src, std::size_t n, float* out) {
  const auto* p = static_cast<const std::byte*>(src);
  switch (dtype) {
    case DType::uint8:
      return widen<std::uint8_t>(p, n, out);
    case DType::int8:
      return widen<std::int8_t>(p, n, out);
    case DType::uint16:
      return widen<std::uint16_t>(p, n, out);
    case DType::int16:
      return widen<std::int16_t>(p, n, out);
    case DType::uint32:
      return widen<std::uint32_t>(p, n, out);
    case DType::int32:
      return widen<std::int32_t>(p, n, out);
    case DType::uint64:
      return widen<std::uint64_t>(p, n, out);
    case DType::int64:
      return widen<std::int64_t>(p, n, out);
    case DType::float64:
      return widen<double>(p, n, out);
    case DType::float32:
      return widen<float>(p, n, out);
    case DType::bool8:
      return widen<std::uint8_t>(p, n, out);
    case DType::float16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t bits = 0;
        std::memcpy(&bits, p + i * 2, 2);
        out[i] = static_cast<float>(cv::float16_t::fromBits(bits));
      }
      return;
    case DType::unknown:
      return;
  }
}

// The nearest T to v, saturated; 0 for NaN (a float-to-integer cast out of range is undefined).
template <typename T>
T round_to(float v) {
  if (std::isnan(v)) return T{0};
  const double r = std::nearbyint(static_cast<double>(v));
  if (r <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (r >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(r);
}

template <typename T>
void narrow(const float* in, std::size_t n, std::byte* out) {
  for (std::size_t i = 0; i < n; ++i) {
    T v;
    if constexpr (std::is_integral_v<T>) {
      v = round_to<T>(in[i]);
    } else {
      v = static_cast<T>(in[i]);
    }
    std::memcpy(out + i * sizeof(T), &v, sizeof(T));
  }
}

// n float32 values as `dtype` (its dtype_size() bytes each) at `out`.
void from_float(DType dtype, const float* in, std::size_t n, std::byte* out) {
  switch (dtype) {
    case DType::uint8:
      return narrow<std::uint8_t>(in, n, out);
    case DType::int8:
      return narrow<std::int8_t>(in, n, out);
    case DType::uint16:
      return narrow<std::uint16_t>(in, n, out);
    case DType::int16:
      return narrow<std::int16_t>(in, n, out);
    case DType::uint32:
      return narrow<std::uint32_t>(in, n, out);
    case DType::int32:
      return narrow<std::int32_t>(in, n, out);
    case DType::uint64:
      return narrow<std::uint64_t>(in, n, out);
    case DType::int64:
      return narrow<std::int64_t>(in, n, out);
    case DType::float64:
      return narrow<double>(in, n, out);
    case DType::float32:
    case DType::unknown:
      if (n != 0) std::memcpy(out, in, n * sizeof(float));
      return;
    case DType::bool8:
      for (std::size_t i = 0; i < n; ++i) out[i] = std::byte{in[i] != 0.0F ? std::uint8_t{1} : std::uint8_t{0}};
      return;
    case DType::float16:
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint16_t bits = cv::float16_t(in[i]).bits();
        std::memcpy(out + i * 2, &bits, 2);
      }
      return;
  }
}

bool fits(const OnnxTensorInfo& declared, const std::vector<std::int64_t>& shape) {
  if (declared.dims.size() != shape.size()) return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (declared.dims[i] >= 0 && declared.dims[i] != shape[i]) return false;
  }
  return true;
}

// OpenCV's shape of an output in the declared rank: OpenCV 4.6 has no 0-D or 1-D blobs and adds
// dimensions of 1 (an ArgMax over [1, 3] comes back [1, 1], not [1]). Dimensions of 1 are dropped
// or added until the rank is the declared one; OpenCV's shape is kept when that does not fit.
std::vector<std::int64_t> declared_rank(const OnnxTensorInfo& declared, const std::vector<std::int64_t>& got) {
  if (!declared.has_shape || declared.dims.size() == got.size()) return got;
  std::vector<std::int64_t> shape = got;
  while (shape.size() > declared.dims.size()) {
    std::size_t i = shape.size();
    while (i > 0 && shape[i - 1] != 1) --i;
    if (i == 0) return got;
    shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(i - 1));
  }
  while (shape.size() < declared.dims.size()) shape.insert(shape.begin(), 1);
  return fits(declared, shape) ? shape : got;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i != 0 ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

class OpenCvModel final : public ModelEngine {
 public:
  OpenCvModel(cv::dnn::Net net, OnnxInfo info, std::string path)
      : net_(std::move(net)), info_(std::move(info)), path_(std::move(path)) {
    for (const auto& out : info_.outputs) out_names_.push_back(out.name);
  }

  Result<std::vector<OwnedTensor>> run(std::span<const TensorRef> inputs) override {
    scratch_.resize(inputs.size());
    try {
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        const TensorRef& in = inputs[i];
        std::vector<int> dims;
        std::size_t count = 1;
        for (const std::int64_t d : in.shape) {
          if (d > INT_MAX) {
            return make_error(ErrorCode::invalid_argument,
                              "model '" + path_ + "': input '" + std::string(in.name) + "' has a dimension of " +
                                  std::to_string(d) + ", more than OpenCV takes (" + std::to_string(INT_MAX) + ")");
          }
          dims.push_back(static_cast<int>(d));
          count *= static_cast<std::size_t>(d);
        }
        if (dims.empty()) dims.push_back(1);  // a scalar: OpenCV has no 0-D blob
        const float* data = static_cast<const float*>(in.data);
        if (in.dtype != DType::float32) {
          scratch_[i].resize(count);
          to_float(in.dtype, in.data, count, scratch_[i].data());
          data = scratch_[i].data();
        }
        // A header over the data: setInput keeps a reference, forward() only reads it.
        const cv::Mat blob(static_cast<int>(dims.size()), dims.data(), CV_32F,
                           const_cast<float*>(data));  // NOLINT: read-only use
        net_.setInput(blob, std::string(in.name));
      }
      std::vector<cv::Mat> outs;
      net_.forward(outs, out_names_);
      if (outs.size() != out_names_.size()) {
        return make_error(ErrorCode::corrupt, "model '" + path_ + "': OpenCV returned " + std::to_string(outs.size()) +
                                                  " outputs, the graph has " + std::to_string(out_names_.size()));
      }
      std::vector<OwnedTensor> result(outs.size());
      for (std::size_t i = 0; i < outs.size(); ++i) {
        cv::Mat mat = outs[i];
        if (mat.type() != CV_32F) mat.convertTo(mat, CV_32F);
        if (!mat.isContinuous()) mat = mat.clone();
        std::vector<std::int64_t> shape;
        for (int d = 0; d < mat.dims; ++d) shape.push_back(mat.size[d]);
        const OnnxTensorInfo& declared = info_.outputs[i];
        OwnedTensor& t = result[i];
        t.name = declared.name;
        t.dtype = declared.dtype == DType::unknown ? DType::float32 : declared.dtype;
        t.shape = declared_rank(declared, shape);
        const std::size_t n = mat.total();
        t.data.resize(n * dtype_size(t.dtype));
        from_float(t.dtype, mat.ptr<float>(), n, t.data.data());
      }
      return result;
    } catch (const cv::Exception& e) {
      std::string given;
      for (const auto& in : inputs) {
        std::vector<std::int64_t> shape(in.shape.begin(), in.shape.end());
        given += (given.empty() ? "" : ", ") + std::string(in.name) + " " + shape_text(shape);
      }
      return make_error(ErrorCode::invalid_argument,
                        "model '" + path_ + "': OpenCV failed to run it on " + given + ": " + e.what());
    }
  }

 private:
  cv::dnn::Net net_;
  OnnxInfo info_;
  std::string path_;
  std::vector<std::string> out_names_;
  std::vector<std::vector<float>> scratch_;  // reused: inputs converted to float32
};

}  // namespace

Result<std::unique_ptr<ModelEngine>> make_opencv_model(const std::string& bytes, const OnnxInfo& info,
                                                       const std::string& path, int threads) {
  if (threads > 0) cv::setNumThreads(threads);
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  } catch (const cv::Exception& e) {
    return make_error(ErrorCode::corrupt, "model '" + path + "': OpenCV cannot import it: " + e.what());
  }
  if (net.empty()) return make_error(ErrorCode::corrupt, "model '" + path + "': OpenCV imported no layers");
  // OpenCV 4.6 makes a layer named after each graph output; forward() finds outputs by those names.
  for (const auto& out : info.outputs) {
    if (net.getLayerId(out.name) < 0) {
      std::string known;
      for (const auto& name : net.getUnconnectedOutLayersNames()) known += (known.empty() ? "" : ", ") + name;
      return make_error(ErrorCode::corrupt, "model '" + path + "': OpenCV's import has no layer for output '" +
                                                out.name + "' (its final layers: " + known + ")");
    }
  }
  return std::unique_ptr<ModelEngine>(std::make_unique<OpenCvModel>(std::move(net), info, path));
}

}  // namespace framebus::detail
