#pragma once
// One stream's decode thread: open the source, decode, skip, pace, convert into a loaned slot,
// publish; loop, reconnect; keep the status; send the end-of-stream marker however it ends.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "decode/converter.hpp"
#include "decode/source.hpp"
#include "framebus/channel/producer.hpp"
#include "framebus/decode/decoder.hpp"

namespace framebus::detail {

/// Thread contract: the owner calls start(), request_stop() and join() (join may be called from
/// several threads); status() and finished() from any thread. The worker's own thread touches
/// everything else.
class StreamWorker {
 public:
  StreamWorker(std::uint32_t id, std::string source, const StreamOptions& options, std::string channel,
               const ProducerOptions& producer_options, std::function<void()> on_finished);
  StreamWorker(const StreamWorker&) = delete;
  StreamWorker& operator=(const StreamWorker&) = delete;
  ~StreamWorker();

  void start();
  /// Interrupts any read, wait or blocked loan; the stream ends as `stopped`.
  void request_stop();
  void join();
  [[nodiscard]] StreamStatus status() const;
  /// True once the thread has sent its marker and left the channel.
  [[nodiscard]] bool finished() const noexcept { return done_.load(std::memory_order_acquire); }

 private:
  /// How a pass (or the whole stream) came to an end.
  struct Outcome {
    enum class Kind { ended, lost, failed, stopped };
    Kind kind = Kind::ended;
    std::optional<Error> error{};
  };

  void run();
  Outcome decode_all_passes(Producer& producer);
  Result<std::unique_ptr<FrameSource>> open_source();
  Outcome decode_pass(FrameSource& source, Producer& producer);
  Result<void> publish_frame(Producer& producer, const AVFrame& frame, std::int64_t pts_us, bool key_frame);
  Result<Loan> loan_slot(Producer& producer, std::size_t bytes);
  void send_end_of_stream(Producer& producer);
  /// Waits for the next frame's turn (realtime and max_fps); false when stopped meanwhile.
  bool pace(std::int64_t pts_us);
  /// Sleeps until `deadline_ns` (monotonic) unless stopped; false when stopped.
  bool sleep_until(std::int64_t deadline_ns);
  /// Waits before reopening a lost network source; false when stopped or out of attempts.
  bool back_off(const Error& why);
  void set_state(StreamState state, std::string message = {});
  /// A decode error that was skipped: counted, and the last error.
  void record_error(const Error& error);
  /// An error that is not a decode error (the marker could not be sent): the last error only.
  void note_error(const Error& error);
  void finish(const Outcome& outcome);

  const std::uint32_t id_;
  const StreamOptions options_;
  const std::string channel_;
  ProducerOptions producer_options_;
  const std::function<void()> on_finished_;
  SourceConfig config_;

  std::stop_source stop_;  // request_stop(); every wait of the thread takes its token
  std::atomic<bool> done_{false};
  Interrupter interrupter_{stop_.get_token()};
  std::mutex wake_mutex_;  // with wake_: pacing sleeps, which the stop token wakes
  std::condition_variable_any wake_;
  std::mutex join_mutex_;
  std::thread thread_;

  mutable std::mutex status_mutex_;
  StreamStatus status_;

  // Decode-thread state.
  Converter converter_;
  std::uint64_t next_frame_id_ = 0;
  std::uint64_t decoded_in_stream_ = 0;  // for frame_skip
  std::int64_t pts_offset_us_ = 0;       // added to pts so later passes continue the timeline
  std::int64_t pass_end_us_ = 0;         // where the timeline of the pass so far ends
  bool pass_started_ = false;            // a frame of this pass has been seen
  std::int64_t pace_start_ns_ = -1;      // realtime pacing: wall time of the first paced frame...
  std::int64_t pace_start_pts_us_ = 0;   // ...and its pts
  std::int64_t last_publish_ns_ = -1;    // max_fps pacing
  std::chrono::milliseconds backoff_{0};
  std::uint32_t attempts_ = 0;  // reconnect attempts since the last frame
};

}  // namespace framebus::detail
