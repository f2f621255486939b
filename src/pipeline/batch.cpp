// Batching across streams: the first frame may take any time to come; once it is here, the
// batch waits at most batch_timeout for more, so a quiet channel never holds a frame back long.

#include <algorithm>
#include <chrono>

#include "common/clock.hpp"
#include "framebus/pipeline/batch.hpp"

namespace framebus {

Result<Batch> collect_batch(Consumer& consumer, std::uint32_t max, Duration batch_timeout, std::stop_token stop) {
  if (max == 0) return make_error(ErrorCode::invalid_argument, "a batch holds at least one frame");
  Batch batch;
  std::int64_t deadline_ns = -1;  // set once the first frame is here
  const std::int64_t timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(batch_timeout).count();
  while (batch.frames.size() < max) {
    Duration wait = forever;
    if (deadline_ns >= 0) {
      const std::int64_t left = deadline_ns - detail::monotonic_ns();
      if (left <= 0) break;
      wait = std::chrono::nanoseconds(left);
    }
    auto received = consumer.receive(wait, stop);
    if (!received && received.error().code() == ErrorCode::interrupted && stop.stop_requested()) break;
    if (!received) return tl::unexpected(received.error());
    if (received->status == Received::Status::end_of_channel) {
      batch.end_of_channel = true;
      batch.reason = received->reason;
      break;
    }
    if (!received->has_message()) continue;
    if (received->message.is_end_of_stream()) {
      batch.end_markers.push_back(std::move(received->message));
      // An end marker comes after the stream's last frame: hand over what we have now rather
      // than sit on the stream's final frames (or its marker) for the batch timeout.
      break;
    }
    const bool suspect = received->message.redelivered();
    batch.frames.push_back(std::move(received->message));
    // A redelivered frame may be what killed the worker that held it: at most one per batch, and
    // the batch ends with it, so that a worker it kills holds no other frame (see run_worker).
    if (suspect) break;
    if (deadline_ns < 0) deadline_ns = detail::monotonic_ns() + timeout_ns;
  }
  return batch;
}

}  // namespace framebus
