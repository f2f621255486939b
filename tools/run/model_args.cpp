#include "run/model_args.hpp"

namespace framebus::cli {

void add_model_options(CLI::App& cmd, ModelOptions& model) {
  cmd.add_option("--model", model.model, "ONNX image-classification model (e.g. from scripts/make-model)")->required();
  cmd.add_option("--labels", model.labels, "Label file, one class name per line");
  cmd.add_option("--top-k", model.top_k, "Predictions kept per frame")->capture_default_str()->check(CLI::Range(1, 16));
  cmd.add_option("--input-size", model.input_size, "Model input size in pixels (0: from the model)");
  cmd.add_option("--backend", model.backend, "Inference backend")->capture_default_str();
}

}  // namespace framebus::cli
