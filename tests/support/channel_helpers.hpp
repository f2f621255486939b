#pragma once
// Small helpers shared by the channel tests: sending numbered frames, draining a consumer.

#include <cstdint>
#include <future>
#include <string>
#include <vector>

#include "framebus/framebus.hpp"
#include "support/child_process.hpp"

namespace framebus::testing {

struct Got {
  std::uint32_t stream = 0;
  std::uint64_t frame = 0;
  bool redelivered = false;
  bool end_of_stream = false;
};

/// Options for a small test channel; linger short so a forgotten consumer cannot stall a test.
ProducerOptions small_channel(std::uint32_t slots = 8, std::uint64_t slot_size = 4096);

/// Sends `frame` on `stream` with a payload holding (stream, frame) so the receiver can check it.
Result<void> send_frame(Producer& producer, std::uint32_t stream, std::uint64_t frame);
/// Checks that a sample's payload is the one send_frame wrote.
bool payload_matches(const Message& sample);

/// Receives until end of channel (or `limit` messages, or a 10 s gap), returning what came.
std::vector<Got> drain(Consumer& consumer, std::size_t limit = SIZE_MAX, Duration gap = std::chrono::seconds(10));

/// Closes `producer` on another thread: close() lingers until the consumers have taken its
/// messages, so a test that consumes on this thread closes in the background.
std::future<Result<CloseReport>> close_in_background(Producer& producer);

/// Serialises received messages as "s:f:r:e,..." for a pipe, and back.
std::string encode(const std::vector<Got>& got);
std::vector<Got> decode(const std::string& text);

}  // namespace framebus::testing
