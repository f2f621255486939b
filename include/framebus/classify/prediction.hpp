#pragma once
/// @file prediction.hpp
/// One line of a classifier's answer: a class and its score.

#include <cstdint>

namespace framebus {

/// A class id (an index into the model's outputs and its label file) and its score (a
/// probability after softmax), as returned best first by a classifier.
struct Prediction {
  std::uint32_t class_id = 0;
  float score = 0.0F;

  friend bool operator==(const Prediction&, const Prediction&) = default;
};

}  // namespace framebus
