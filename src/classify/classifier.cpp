// Classifier: options -> engine (from the registry) -> batches of preprocessed images -> top-k.
#include "framebus/classify/classifier.hpp"

#include <algorithm>

#include "classify/labels.hpp"
#include "classify/postprocess.hpp"
#include "classify/preprocess.hpp"
#include "classify/registry.hpp"

namespace framebus {
namespace detail {

class ClassifierCore {
 public:
  ClassifierCore(ClassifierOptions options, std::unique_ptr<InferenceBackend> backend, std::vector<std::string> labels,
                 Normalization norm, std::uint32_t width, std::uint32_t height)
      : options_(std::move(options)),
        backend_(std::move(backend)),
        labels_(std::move(labels)),
        preprocessor_(norm, width, height),
        width_(width),
        height_(height) {}

  Result<std::vector<std::vector<Prediction>>> classify(std::span<const ImageRef> images) {
    std::vector<std::vector<Prediction>> results;
    results.reserve(images.size());
    const std::size_t per_image = preprocessor_.floats_per_image();
    const std::uint32_t classes = backend_->classes();
    for (std::size_t first = 0; first < images.size(); first += options_.max_batch) {
      const std::size_t n = std::min<std::size_t>(options_.max_batch, images.size() - first);
      blob_.resize(n * per_image);
      for (std::size_t i = 0; i < n; ++i) {
        if (auto ok = preprocessor_.run(images[first + i], first + i, blob_.data() + i * per_image); !ok) {
          return tl::unexpected(ok.error());
        }
      }
      auto ok = backend_->infer(blob_.data(), static_cast<std::uint32_t>(n), 3, height_, width_, scores_);
      if (!ok) return tl::unexpected(ok.error());
      if (scores_.size() != n * classes) {
        return make_error(ErrorCode::corrupt, "inference backend '" + std::string(backend_->name()) + "' returned " +
                                                  std::to_string(scores_.size()) + " scores for " + std::to_string(n) +
                                                  " images of " + std::to_string(classes) + " classes");
      }
      for (std::size_t i = 0; i < n; ++i) {
        const std::span<float> row(scores_.data() + i * classes, classes);
        if (!is_distribution(row)) softmax(row);
        results.push_back(top_k(row, options_.top_k));
      }
    }
    return results;
  }

  const ClassifierOptions& options() const noexcept { return options_; }
  const std::vector<std::string>& labels() const noexcept { return labels_; }
  std::uint32_t classes() const noexcept { return backend_->classes(); }
  std::uint32_t width() const noexcept { return width_; }
  std::uint32_t height() const noexcept { return height_; }

 private:
  ClassifierOptions options_;
  std::unique_ptr<InferenceBackend> backend_;
  std::vector<std::string> labels_;
  Preprocessor preprocessor_;
  std::uint32_t width_;
  std::uint32_t height_;
  std::vector<float> blob_;    // reused: the batch tensor
  std::vector<float> scores_;  // reused: the engine's output
};

namespace {

// The size the model gets: the options', else the model's, else 224; a fixed model size must match.
Result<std::uint32_t> resolve_side(std::uint32_t asked, std::uint32_t model, const char* which,
                                   const ClassifierOptions& options) {
  if (asked != 0 && model != 0 && asked != model) {
    return make_error(ErrorCode::invalid_argument, "model '" + options.model + "' takes input " + which + " " +
                                                       std::to_string(model) + ", the options ask for " +
                                                       std::to_string(asked));
  }
  if (asked > kMaxImageSide) {
    return make_error(ErrorCode::invalid_argument, std::string("input ") + which + " " + std::to_string(asked) +
                                                       " is larger than " + std::to_string(kMaxImageSide));
  }
  return asked != 0 ? asked : model != 0 ? model : kDefaultInputSize;
}

}  // namespace
}  // namespace detail

Result<Classifier> Classifier::create(ClassifierOptions options) {
  if (options.top_k == 0)
    return make_error(ErrorCode::invalid_argument, "classifier options: top_k must be at least 1");
  if (options.max_batch == 0) {
    return make_error(ErrorCode::invalid_argument, "classifier options: max_batch must be at least 1");
  }
  auto norm = detail::make_normalization(options);
  if (!norm) return tl::unexpected(norm.error());
  auto factory = detail::find_backend(options.backend);
  if (!factory) return tl::unexpected(factory.error());

  auto backend = (*factory)(options);
  if (!backend) return tl::unexpected(backend.error());
  if (!*backend) {
    return make_error(ErrorCode::invalid_argument, "inference backend '" + options.backend + "' made no engine");
  }
  const std::uint32_t classes = (*backend)->classes();
  const InputShape shape = (*backend)->input_shape();
  if (classes == 0) {
    return make_error(ErrorCode::invalid_argument,
                      "model '" + options.model + "' has no classes (backend '" + options.backend + "')");
  }
  if (shape.channels != 0 && shape.channels != 3) {
    return make_error(ErrorCode::invalid_argument, "model '" + options.model + "' takes " +
                                                       std::to_string(shape.channels) +
                                                       " input channels; the classifier feeds 3 (colour pictures)");
  }
  auto width = detail::resolve_side(options.input_width, shape.width, "width", options);
  if (!width) return tl::unexpected(width.error());
  auto height = detail::resolve_side(options.input_height, shape.height, "height", options);
  if (!height) return tl::unexpected(height.error());

  std::vector<std::string> labels;
  if (!options.labels.empty()) {
    auto names = detail::read_labels(options.labels);
    if (!names) return tl::unexpected(names.error());
    if (names->size() != classes) {
      return make_error(ErrorCode::invalid_argument,
                        "label file '" + options.labels + "' has " + std::to_string(names->size()) + " names, model '" +
                            options.model + "' has " + std::to_string(classes) + " classes");
    }
    labels = std::move(*names);
  }
  return Classifier(std::make_unique<detail::ClassifierCore>(std::move(options), std::move(*backend), std::move(labels),
                                                             *norm, *width, *height));
}

Classifier::Classifier(std::unique_ptr<detail::ClassifierCore> core) : core_(std::move(core)) {}
Classifier::Classifier(Classifier&&) noexcept = default;
Classifier& Classifier::operator=(Classifier&&) noexcept = default;
Classifier::~Classifier() = default;

Result<std::vector<std::vector<Prediction>>> Classifier::classify(std::span<const ImageRef> images) {
  if (!core_) return make_error(ErrorCode::closed, "the classifier was moved from");
  return core_->classify(images);
}

Result<std::vector<std::vector<Prediction>>> Classifier::classify(std::span<const Message> samples) {
  if (!core_) return make_error(ErrorCode::closed, "the classifier was moved from");
  std::vector<ImageRef> images;
  images.reserve(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    auto ref = image_of(samples[i]);
    if (!ref) return make_error(ref.error().code(), "image " + std::to_string(i) + ": " + ref.error().message());
    images.push_back(*ref);
  }
  return core_->classify(images);
}

Result<ImageRef> image_of(const Message& sample) {
  if (!sample.valid()) return make_error(ErrorCode::invalid_argument, "the sample is empty (released)");
  const std::string which =
      "message (stream " + std::to_string(sample.stream()) + ", frame " + std::to_string(sample.frame()) + ")";
  if (sample.kind() != PayloadKind::image) {
    return make_error(ErrorCode::invalid_argument, which + " is not an image");
  }
  const ImageRef ref{sample.data().data(), sample.image()};
  if (auto ok = detail::check_image(ref, which, sample.size()); !ok) return tl::unexpected(ok.error());
  return ref;
}

// A moved-from Classifier answers like an empty one.
const std::vector<std::string>& Classifier::labels() const noexcept {
  static const std::vector<std::string> kNone;
  return core_ ? core_->labels() : kNone;
}
std::uint32_t Classifier::classes() const noexcept { return core_ ? core_->classes() : 0; }
std::uint32_t Classifier::input_width() const noexcept { return core_ ? core_->width() : 0; }
std::uint32_t Classifier::input_height() const noexcept { return core_ ? core_->height() : 0; }
const ClassifierOptions& Classifier::options() const noexcept {
  static const ClassifierOptions kNone;
  return core_ ? core_->options() : kNone;
}

}  // namespace framebus
