#pragma once
// From an engine's scores to top-k lists: softmax (when the scores are not probabilities yet),
// then a partial sort.

#include <cstdint>
#include <span>
#include <vector>

#include "framebus/classify/classifier.hpp"

namespace framebus::detail {

/// True when `scores` already are a probability distribution (each in [0, 1], summing to 1), as
/// a model that ends in Softmax gives. Decided per image, so a batch changes nothing.
bool is_distribution(std::span<const float> scores) noexcept;

/// Softmax of `scores` in place (shifted by the maximum, so large logits do not overflow).
void softmax(std::span<float> scores) noexcept;

/// The `k` best classes of one image's probabilities, best first, ties to the lower class id.
std::vector<Prediction> top_k(std::span<const float> probabilities, std::uint32_t k);

}  // namespace framebus::detail
