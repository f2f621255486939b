#include "classify/postprocess.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace framebus::detail {

bool is_distribution(std::span<const float> scores) noexcept {
  double sum = 0.0;
  for (const float s : scores) {
    if (!(s >= 0.0F && s <= 1.0F)) return false;
    sum += s;
  }
  return std::abs(sum - 1.0) < 1e-3;
}

void softmax(std::span<float> scores) noexcept {
  if (scores.empty()) return;
  const float top = *std::max_element(scores.begin(), scores.end());
  double sum = 0.0;
  for (float& s : scores) {
    s = std::exp(s - top);
    sum += s;
  }
  const auto inv = static_cast<float>(1.0 / sum);
  for (float& s : scores) s *= inv;
}

std::vector<Prediction> top_k(std::span<const float> probabilities, std::uint32_t k) {
  std::vector<std::uint32_t> ids(probabilities.size());
  std::iota(ids.begin(), ids.end(), 0U);
  const auto n = std::min<std::size_t>(k, ids.size());
  auto better = [&](std::uint32_t a, std::uint32_t b) {
    return probabilities[a] > probabilities[b] || (probabilities[a] == probabilities[b] && a < b);
  };
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(), better);
  std::vector<Prediction> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back({ids[i], probabilities[ids[i]]});
  return out;
}

}  // namespace framebus::detail
