#include "run/model_args.hpp"

namespace framebus::cli {

void add_model_options(CLI::App& cmd, ModelArgs& args) {
  cmd.add_option("--model", args.model, "ONNX image-classification model (e.g. from scripts/make-model)")->required();
  cmd.add_option("--labels", args.labels, "Label file, one class name per line");
  cmd.add_option("--top-k", args.top_k, "Predictions kept per frame")->capture_default_str()->check(CLI::Range(1, 16));
  cmd.add_option("--input-size", args.input_size, "Model input size in pixels (0: from the model)");
  cmd.add_option("--backend", args.backend, "Inference backend")->capture_default_str();
}

std::vector<std::string> to_args(const ModelArgs& args) {
  std::vector<std::string> out{"--model", args.model, "--top-k", std::to_string(args.top_k), "--backend", args.backend};
  if (!args.labels.empty()) out.insert(out.end(), {"--labels", args.labels});
  if (args.input_size != 0) out.insert(out.end(), {"--input-size", std::to_string(args.input_size)});
  return out;
}

ClassifierOptions to_classifier_options(const ModelArgs& args, int threads, std::uint32_t max_batch) {
  ClassifierOptions o;
  o.model = args.model;
  o.labels = args.labels;
  o.backend = args.backend;
  o.input_width = args.input_size;
  o.input_height = args.input_size;
  o.top_k = args.top_k;
  o.threads = threads;
  o.max_batch = max_batch;
  return o;
}

}  // namespace framebus::cli
