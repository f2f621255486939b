#pragma once
/// @file decoder_process.hpp
/// A decoder process: every source decoded into one channel, or source i into channel NAME.i.
/// `framebus decode` runs one; a Pipeline's decoder child is run_decoder_child(), which reports
/// to the supervisor with decoder_status.hpp's codec.

#include <atomic>
#include <chrono>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "framebus/channel/options.hpp"
#include "framebus/decode/decoder.hpp"
#include "framebus/error.hpp"
#include "framebus/units.hpp"

namespace framebus {

struct DecoderProcessOptions {
  std::vector<std::string> sources;  ///< Stream i is sources[i].
  std::string channel;
  bool channel_per_stream = false;                  ///< Stream i publishes into channel `channel`.i.
  ProducerOptions producer;                         ///< Of the channels.
  StreamOptions stream;                             ///< Every source's (its channel is set per source)...
  std::map<std::size_t, StreamOptions> per_stream;  ///< ...but these streams', by index.
};

class DecoderProcess {
 public:
  /// Checks every channel name before any channel is made (so a bad one leaves nothing behind),
  /// then starts every stream. An error naming the option or the source otherwise.
  static Result<DecoderProcess> start(const DecoderProcessOptions& options);

  /// Waits up to `interval`; true once every stream that does not loop forever has ended.
  bool wait(Duration interval);
  [[nodiscard]] std::vector<StreamStatus> statuses() const { return decoder_.statuses(); }
  void stop() { decoder_.stop(); }
  /// Stops the streams and closes the channels: their consumers then see their end.
  Result<void> close() { return decoder_.close(); }

 private:
  DecoderProcess(MultiDecoder decoder, bool finite) : decoder_(std::move(decoder)), finite_(finite) {}

  MultiDecoder decoder_;
  bool finite_;  // some stream ends by itself, and its end ends the process
};

/// The decoder child of a Pipeline (`framebus decode --status-json`): runs until the streams
/// end or `stop` is set, writing one status line to `out` per `status_interval` and, after
/// closing the channels (so that consumers see their end first), a final one. Returns the exit
/// status: 1 when a stream ended in error or the decoder could not start or close.
int run_decoder_child(const DecoderProcessOptions& options, Duration status_interval, const std::atomic<bool>& stop,
                      std::ostream& out);

}  // namespace framebus
