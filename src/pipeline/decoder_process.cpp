#include "framebus/pipeline/decoder_process.hpp"

#include <iostream>
#include <thread>

#include "framebus/channel/admin.hpp"
#include "framebus/pipeline/decoder_status.hpp"

namespace framebus {
namespace {

// The channel of stream `index`: NAME, or NAME.<index> with a channel per stream.
std::string stream_channel(const DecoderProcessOptions& o, std::size_t index) {
  return o.channel_per_stream ? o.channel + "." + std::to_string(index) : o.channel;
}

}  // namespace

Result<DecoderProcess> DecoderProcess::start(const DecoderProcessOptions& o) {
  for (std::size_t i = 0; i < o.sources.size(); ++i) {
    if (auto ok = validate_name(stream_channel(o, i)); !ok) {
      return make_error(ok.error().code(), "--channel '" + o.channel + "'" +
                                               (o.channel_per_stream ? " gives stream " + std::to_string(i) +
                                                                           " the channel '" + stream_channel(o, i) + "'"
                                                                     : std::string()) +
                                               ": " + ok.error().message());
    }
  }
  // With a channel per stream the decoder's own channel is stream 0's, so no channel is left
  // without a stream.
  auto decoder = MultiDecoder::create(stream_channel(o, 0), o.producer);
  if (!decoder) return tl::unexpected(decoder.error());
  bool finite = false;
  for (std::size_t i = 0; i < o.sources.size(); ++i) {
    const auto own = o.per_stream.find(i);
    StreamOptions stream = own == o.per_stream.end() ? o.stream : own->second;
    stream.channel = stream_channel(o, i);
    finite = finite || stream.loop != StreamOptions::kLoopForever;
    if (auto id = decoder->add_stream(o.sources[i], stream); !id) {
      return make_error(id.error().code(), o.sources[i] + ": " + id.error().message());
    }
  }
  return DecoderProcess(std::move(*decoder), finite);
}

bool DecoderProcess::wait(Duration interval) {
  // Waiting on the streams paces the reports and returns at once when they are done; streams
  // that loop forever never are, so the wait only paces.
  const bool done = decoder_.wait(interval).has_value();
  if (done && !finite_) std::this_thread::sleep_for(interval);  // every endless stream failed
  return finite_ && done;
}

int run_decoder_child(const DecoderProcessOptions& options, Duration status_interval, const std::atomic<bool>& stop,
                      std::ostream& out) {
  auto decoder = DecoderProcess::start(options);
  if (!decoder) {
    std::cerr << "framebus decode: " << decoder.error().message() << '\n';
    return 1;
  }
  for (;;) {
    const bool done = decoder->wait(status_interval);
    out << encode_decoder_status(decoder->statuses(), false) << std::endl;
    if (done || stop.load()) break;
  }
  decoder->stop();
  int status = 0;
  const auto statuses = decoder->statuses();
  for (const auto& s : statuses) {
    if (s.state == StreamState::error) status = 1;
  }
  // Closing first lets consumers see the end of the channel before the last report.
  auto closed = decoder->close();
  if (!closed) status = 1;
  out << encode_decoder_status(statuses, true,
                               closed ? std::nullopt : std::optional<std::string>(closed.error().message()))
      << std::endl;
  return status;
}

}  // namespace framebus
