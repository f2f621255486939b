#pragma once
// A decoder on a fresh channel with one in-process consumer reading it.

#include <gtest/gtest.h>

#include <string>

#include "decode/media.hpp"
#include "support/child_process.hpp"

namespace framebus::testing {

struct Rig {
  MultiDecoder decoder;
  Consumer consumer;
};

inline Rig make_rig(const std::string& tag, const ProducerOptions& options = decoder_channel()) {
  const auto name = unique_name(tag);
  auto decoder = MultiDecoder::create(name, options);
  EXPECT_TRUE(decoder) << decoder.error().message();
  auto consumer = Consumer::open(name);
  EXPECT_TRUE(consumer) << consumer.error().message();
  return Rig{std::move(*decoder), std::move(*consumer)};
}

}  // namespace framebus::testing
