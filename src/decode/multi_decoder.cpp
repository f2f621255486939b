// MultiDecoder: the table of stream workers, and the channel handles that keep the decoder's
// channel, and the streams' own channels, open while streams come and go.
#include <condition_variable>
#include <map>
#include <mutex>
#include <stop_token>

#include "common/clock.hpp"
#include "common/enum_names.hpp"
#include "decode/stream_worker.hpp"
#include "framebus/channel/producer.hpp"
#include "framebus/decode/decoder.hpp"

namespace framebus {

namespace {
constexpr detail::EnumNames<StreamState, 6> kStreamStateNames{
    {"opening", "running", "reconnecting", "eof", "error", "stopped"}};
static_assert(kStreamStateNames.names.size() == static_cast<std::size_t>(StreamState::stopped) + 1,
              "a name for every value");
}  // namespace

std::string_view to_string(StreamState state) noexcept { return detail::name_in(kStreamStateNames, state); }

namespace detail {

// Workers are shared_ptrs so that stop() can join them without holding the mutex while
// remove_stream() takes one out of the table (a finishing worker takes the mutex to say so).
class DecoderCore {
 public:
  DecoderCore(Producer anchor, const ProducerOptions& options)
      : requested_(options), main_(std::move(anchor), options), name_(main_.anchor.name()) {}
  DecoderCore(const DecoderCore&) = delete;
  DecoderCore& operator=(const DecoderCore&) = delete;
  ~DecoderCore() { (void)close(); }

  Result<std::uint32_t> add_stream(std::string source, const StreamOptions& options) {
    if (auto ok = validate(source, options); !ok) return tl::unexpected(ok.error());
    const std::lock_guard lock(mutex_);
    if (closed_) return make_error(ErrorCode::closed, "the decoder of channel '" + channel_name() + "' is closed");
    auto target = channel_for(source, options.channel);
    if (!target) return tl::unexpected(target.error());
    const std::uint32_t id = next_id_++;
    auto worker = std::make_shared<StreamWorker>(id, std::move(source), options, (*target)->anchor.name(),
                                                 (*target)->options, [this] { notify_finished(); });
    workers_.emplace(id, worker);
    worker->start();
    return id;
  }

  Result<void> remove_stream(std::uint32_t id) {
    std::shared_ptr<StreamWorker> worker;
    {
      const std::lock_guard lock(mutex_);
      auto it = workers_.find(id);
      if (it == workers_.end()) return not_found(id);
      worker = std::move(it->second);
      workers_.erase(it);
    }
    worker->request_stop();
    worker->join();
    done_.notify_all();  // wait() may have been waiting for this one
    return {};
  }

  Result<StreamStatus> status(std::uint32_t id) const {
    const std::lock_guard lock(mutex_);
    auto it = workers_.find(id);
    if (it == workers_.end()) return not_found(id);
    return it->second->status();
  }

  std::vector<StreamStatus> statuses() const {
    const std::lock_guard lock(mutex_);
    std::vector<StreamStatus> all;
    all.reserve(workers_.size());
    for (const auto& [id, worker] : workers_) all.push_back(worker->status());
    return all;
  }

  Result<void> wait(std::optional<std::uint32_t> id, Duration timeout, const std::stop_token& stop) {
    std::unique_lock lock(mutex_);
    auto all_done = [&] {
      if (id) {
        auto it = workers_.find(*id);
        return it == workers_.end() || it->second->finished();
      }
      for (const auto& [key, worker] : workers_) {
        if (!worker->finished()) return false;
      }
      return true;
    };
    if (id && workers_.find(*id) == workers_.end()) return not_found(*id);
    // condition_variable_any waits on the stop token too: a stop wakes it at once.
    const bool done =
        timeout == forever ? done_.wait(lock, stop, all_done) : done_.wait_for(lock, stop, timeout, all_done);
    if (done) return {};
    if (stop.stop_requested())
      return make_error(ErrorCode::interrupted,
                        "cancelled while waiting for the streams of channel '" + channel_name() + "'");
    return make_error(ErrorCode::timeout,
                      "streams of channel '" + channel_name() + "' still running after the timeout");
  }

  void stop() {
    std::vector<std::shared_ptr<StreamWorker>> running;
    {
      const std::lock_guard lock(mutex_);
      for (const auto& [id, worker] : workers_) running.push_back(worker);
    }
    for (const auto& worker : running) worker->request_stop();
    for (const auto& worker : running) worker->join();
  }

  Result<void> close() {
    {
      const std::lock_guard lock(mutex_);
      if (closed_) return {};
      closed_ = true;
    }
    stop();
    // Every stream has left: closing the last producer of each channel ends it for consumers.
    // What a linger discards is counted per group in the channel (framebus ls), not lost silently.
    Result<void> result;
    if (auto closed = main_.anchor.close(); !closed) result = tl::unexpected(closed.error());
    for (auto& [name, own] : own_channels_) {
      auto closed = own.anchor.close();
      if (!closed && result) result = tl::unexpected(closed.error());
    }
    return result;
  }

  const std::string& channel_name() const noexcept { return name_; }

 private:
  // One channel the decoder keeps open, with the geometry its workers join with.
  struct OpenChannel {
    OpenChannel(Producer producer, const ProducerOptions& requested) : anchor(std::move(producer)), options(requested) {
      // Workers join with the channel's real geometry, which may come from an earlier creator.
      options.slots = anchor.slot_count();
      options.slot_size = anchor.slot_size();
    }
    Producer anchor;
    ProducerOptions options;
  };

  // The channel a new stream publishes into: the decoder's own, or the stream's, created or
  // joined on first use and kept open until close(). Called with mutex_ held.
  Result<const OpenChannel*> channel_for(const std::string& source, const std::string& channel) {
    if (channel.empty() || channel == name_) return &main_;
    if (auto it = own_channels_.find(channel); it != own_channels_.end()) return &it->second;
    auto anchor = Producer::create(channel, requested_);
    if (!anchor) {
      return make_error(anchor.error().code(), "add_stream '" + source + "': cannot open its channel '" + channel +
                                                   "': " + anchor.error().message());
    }
    const auto it = own_channels_.emplace(channel, OpenChannel(std::move(*anchor), requested_)).first;
    return &it->second;
  }

  static Result<void> validate(const std::string& source, const StreamOptions& options) {
    if (source.empty()) return make_error(ErrorCode::invalid_argument, "add_stream: empty source");
    if (to_av_pixel_format(options.format) == AV_PIX_FMT_NONE) {
      return make_error(ErrorCode::invalid_argument,
                        "add_stream '" + source + "': output format must be bgr24, rgb24, gray8, nv12 or yuv420p");
    }
    if (options.max_fps < 0)
      return make_error(ErrorCode::invalid_argument, "add_stream '" + source + "': max_fps is negative");
    if (options.threads < 0) {
      return make_error(ErrorCode::invalid_argument, "add_stream '" + source + "': threads is negative (" +
                                                         std::to_string(options.threads) + "); 0 lets FFmpeg choose");
    }
    if (options.width > 16384 || options.height > 16384) {
      return make_error(ErrorCode::invalid_argument, "add_stream '" + source + "': output size above 16384");
    }
    return {};
  }

  static tl::unexpected<Error> not_found(std::uint32_t id) {
    return make_error(ErrorCode::not_found, "no stream " + std::to_string(id));
  }

  void notify_finished() {
    { const std::lock_guard lock(mutex_); }  // a waiter between its check and its sleep sees the flag
    done_.notify_all();
  }

  const ProducerOptions requested_;  // what create() was given: the streams' own channels get it too
  OpenChannel main_;
  const std::string name_;
  std::map<std::string, OpenChannel> own_channels_;  // by name; never erased before close()
  mutable std::mutex mutex_;
  std::condition_variable_any done_;
  std::map<std::uint32_t, std::shared_ptr<StreamWorker>> workers_;
  std::uint32_t next_id_ = 0;
  bool closed_ = false;
};

}  // namespace detail

Result<MultiDecoder> MultiDecoder::create(std::string_view channel, const ProducerOptions& options) {
  if (auto ok = detail::apply_ffmpeg_log_level(); !ok) return tl::unexpected(ok.error());
  auto anchor = Producer::create(channel, options);
  if (!anchor) return tl::unexpected(anchor.error());
  return MultiDecoder(std::make_unique<detail::DecoderCore>(std::move(*anchor), options));
}

MultiDecoder::MultiDecoder(std::unique_ptr<detail::DecoderCore> core) : core_(std::move(core)) {}
MultiDecoder::MultiDecoder(MultiDecoder&&) noexcept = default;
MultiDecoder& MultiDecoder::operator=(MultiDecoder&&) noexcept = default;
MultiDecoder::~MultiDecoder() = default;

namespace {
Error closed_decoder() { return Error(ErrorCode::closed, "the decoder was moved from"); }
}  // namespace

Result<std::uint32_t> MultiDecoder::add_stream(std::string source, const StreamOptions& options) {
  if (!core_) return tl::unexpected(closed_decoder());
  return core_->add_stream(std::move(source), options);
}

Result<void> MultiDecoder::remove_stream(std::uint32_t id) {
  if (!core_) return tl::unexpected(closed_decoder());
  return core_->remove_stream(id);
}

Result<StreamStatus> MultiDecoder::status(std::uint32_t id) const {
  if (!core_) return tl::unexpected(closed_decoder());
  return core_->status(id);
}

std::vector<StreamStatus> MultiDecoder::statuses() const {
  return core_ ? core_->statuses() : std::vector<StreamStatus>{};
}

Result<void> MultiDecoder::wait(Duration timeout, std::stop_token stop) {
  if (!core_) return tl::unexpected(closed_decoder());
  return core_->wait(std::nullopt, timeout, stop);
}

Result<void> MultiDecoder::wait(std::uint32_t id, Duration timeout, std::stop_token stop) {
  if (!core_) return tl::unexpected(closed_decoder());
  return core_->wait(id, timeout, stop);
}

void MultiDecoder::stop() {
  if (core_) core_->stop();
}

Result<void> MultiDecoder::close() {
  if (!core_) return {};
  return core_->close();
}

const std::string& MultiDecoder::channel() const noexcept {
  static const std::string kNone;
  return core_ ? core_->channel_name() : kNone;
}

}  // namespace framebus
