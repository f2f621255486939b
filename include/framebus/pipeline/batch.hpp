#pragma once
/// @file batch.hpp
/// Taking frames from a channel in batches, across streams, as inference engines want them.

#include <cstdint>
#include <stop_token>
#include <vector>

#include "framebus/channel/consumer.hpp"
#include "framebus/channel/options.hpp"
#include "framebus/error.hpp"

namespace framebus {

/// A batch taken from a channel: up to `max` frames, plus the end markers met on the way.
struct Batch {
  std::vector<Message> frames;
  std::vector<Message> end_markers;
  bool end_of_channel = false;  ///< The channel ended (after these messages).
  EndReason reason = EndReason::none;
};

/// Takes up to `max` frames from `consumer`: waits as long as needed for the first one (a stop
/// requested on `stop` ends the wait at once: the frames taken so far come back, maybe none), then at most
/// `batch_timeout` more for the batch to fill, as a stream muxer batches across streams. An end
/// marker ends the batch at once (the stream's last frames should not wait for more). So does a
/// redelivered frame (a suspect: it may have killed the worker that held it), at most one a batch.
Result<Batch> collect_batch(Consumer& consumer, std::uint32_t max, Duration batch_timeout, std::stop_token stop = {});

}  // namespace framebus
