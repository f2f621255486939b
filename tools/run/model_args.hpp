#pragma once
// The model options shared by `framebus run` and `framebus worker`, so that the supervisor
// starts its workers with exactly what it was given.

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "framebus/classify/classifier.hpp"

namespace framebus::cli {

struct ModelArgs {
  std::string model;
  std::string labels;
  std::uint32_t top_k = 5;
  std::uint32_t input_size = 0;  // 0: from the model
  std::string backend = "opencv";
};

void add_model_options(CLI::App& cmd, ModelArgs& args);
/// The same options as command-line arguments (for a child process).
std::vector<std::string> to_args(const ModelArgs& args);
ClassifierOptions to_classifier_options(const ModelArgs& args, int threads, std::uint32_t max_batch);

}  // namespace framebus::cli
