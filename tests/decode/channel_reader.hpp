#pragma once
// Reads several channels the way a per-channel toolkit does: one reader that takes a short
// receive on each channel's consumer in turn, never waiting on one channel for long.

#include <chrono>
#include <string>
#include <vector>

#include "decode/media.hpp"

namespace framebus::testing {

/// What one channel delivered.
struct ChannelRead {
  std::vector<Frame> frames;  ///< Without payload bytes.
  int end_markers = 0;
  bool end_of_channel = false;
  bool failed = false;  ///< receive() returned an error: reading this channel stopped.
};

/// Receives on each consumer in turn with a `slice` timeout until every channel has sent an
/// end-of-stream marker (and, with `until_end_of_channel`, reported its end) or `limit` passes.
std::vector<ChannelRead> read_round_robin(std::vector<Consumer>& consumers, bool until_end_of_channel,
                                          std::chrono::milliseconds limit = std::chrono::seconds(60),
                                          std::chrono::milliseconds slice = std::chrono::milliseconds(5));

/// One line per channel for a pipe ("markers eoc failed stream:frame:pts:width ..."), and back.
std::string encode_read(const ChannelRead& read);
ChannelRead decode_read(const std::string& line);

}  // namespace framebus::testing
