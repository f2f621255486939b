#include "decode/stream_worker.hpp"

#include <algorithm>
#include <cmath>

#include "common/clock.hpp"

namespace framebus::detail {

StreamWorker::StreamWorker(std::uint32_t id, std::string source, const StreamOptions& options, std::string channel,
                           const ProducerOptions& producer_options, std::function<void()> on_finished)
    : id_(id),
      options_(options),
      channel_(std::move(channel)),
      producer_options_(producer_options),
      on_finished_(std::move(on_finished)),
      converter_(options.format, options.width, options.height) {
  config_.source = source;
  config_.kind = classify_source(source);
  config_.threads = options.threads;
  config_.connect_timeout = options.connect_timeout;
  config_.read_timeout = options.read_timeout;
  config_.image_fps = options.max_fps > 0 ? options.max_fps : 25.0;
  status_.id = id;
  status_.source = std::move(source);
  status_.channel = channel_;
  backoff_ = options.reconnect_delay;
}

StreamWorker::~StreamWorker() {
  request_stop();
  join();
}

void StreamWorker::start() {
  thread_ = std::thread([this] { run(); });
}

// Wakes a blocked loan (through the channel's stop callback), a pacing sleep (the condition
// variable's) and FFmpeg's next interrupt check at once.
void StreamWorker::request_stop() { stop_.request_stop(); }

void StreamWorker::join() {
  const std::lock_guard lock(join_mutex_);
  if (thread_.joinable()) thread_.join();
}

StreamStatus StreamWorker::status() const {
  const std::lock_guard lock(status_mutex_);
  return status_;
}

// ---------------------------------------------------------------------------------------------
// The thread: the pipeline of one stream, top to bottom.

void StreamWorker::run() {
  auto producer = Producer::create(channel_, producer_options_);
  if (!producer) {
    finish(Outcome{Outcome::Kind::failed,
                   Error(producer.error().code(), "stream " + std::to_string(id_) + ": cannot join channel '" +
                                                      channel_ + "': " + producer.error().message())});
  } else {
    finish(decode_all_passes(*producer));
    send_end_of_stream(*producer);
    (void)producer->close();  // lingers until the consumers have taken this stream's messages
  }
  done_.store(true, std::memory_order_release);
  on_finished_();
}

StreamWorker::Outcome StreamWorker::decode_all_passes(Producer& producer) {
  std::uint32_t passes_done = 0;
  for (;;) {
    if (stop_.stop_requested()) return {Outcome::Kind::stopped};
    auto source = open_source();
    if (!source) {
      if (stop_.stop_requested()) return {Outcome::Kind::stopped};
      if (config_.kind == SourceKind::network && options_.reconnect && back_off(source.error())) continue;
      return {Outcome::Kind::failed, source.error()};
    }
    set_state(StreamState::running);
    // Every pass, and every reconnection, continues the timeline where the last frame ended: a
    // restarted camera or server starts its own pts again from wherever it likes.
    pass_started_ = false;
    Outcome pass = decode_pass(**source, producer);
    source->reset();  // close the input before any backoff wait
    switch (pass.kind) {
      case Outcome::Kind::stopped:
      case Outcome::Kind::failed:
        return pass;
      case Outcome::Kind::lost:
        if (options_.reconnect && back_off(*pass.error)) continue;
        return {Outcome::Kind::failed, pass.error};
      case Outcome::Kind::ended:
        // A live stream that ends was lost as far as a camera pipeline is concerned.
        if (config_.kind == SourceKind::network && options_.reconnect) {
          if (back_off(Error(ErrorCode::closed, "stream '" + config_.source + "': ended"))) continue;
          return {Outcome::Kind::failed,
                  Error(ErrorCode::closed, "stream '" + config_.source + "': ended, reconnect attempts exhausted")};
        }
        ++passes_done;
        if (options_.loop != StreamOptions::kLoopForever && passes_done >= options_.loop) return {Outcome::Kind::ended};
        break;
    }
  }
}

Result<std::unique_ptr<FrameSource>> StreamWorker::open_source() {
  {
    const std::lock_guard lock(status_mutex_);
    if (status_.state != StreamState::reconnecting) status_.state = StreamState::opening;
    ++status_.passes;
  }
  auto source = open_frame_source(config_, interrupter_);
  if (source) {
    const std::lock_guard lock(status_mutex_);
    status_.native_fps = (*source)->native_fps();
  } else {
    const std::lock_guard lock(status_mutex_);
    --status_.passes;  // a pass that never began
  }
  return source;
}

StreamWorker::Outcome StreamWorker::decode_pass(FrameSource& source, Producer& producer) {
  FramePtr frame(av_frame_alloc());
  if (!frame)
    return {Outcome::Kind::failed, Error(ErrorCode::system, "stream " + std::to_string(id_) + ": out of memory")};
  std::uint64_t errors_this_connection = 0;
  for (;;) {
    if (stop_.stop_requested()) return {Outcome::Kind::stopped};
    auto pulled = source.next(frame.get());
    const FrameUnref unref(frame.get());  // every pass gives the frame back, whichever way it goes
    if (!pulled) {
      if (stop_.stop_requested()) return {Outcome::Kind::stopped};
      return {config_.kind == SourceKind::network ? Outcome::Kind::lost : Outcome::Kind::failed, pulled.error()};
    }
    if (pulled->kind == Pulled::Kind::end) return {Outcome::Kind::ended};
    if (pulled->kind == Pulled::Kind::bad) {
      record_error(*pulled->problem);
      const bool folder = config_.kind == SourceKind::image_folder || config_.kind == SourceKind::image_glob;
      // A live source that reconnects: undecodable data is what a connection cut mid-packet
      // leaves (the read that follows would fail), so past the budget it is a lost connection,
      // not a bad stream, and each connection gets the budget afresh.
      const bool live = config_.kind == SourceKind::network && options_.reconnect;
      const std::uint64_t errors = live ? ++errors_this_connection : status().decode_errors;
      if (folder || errors <= options_.max_decode_errors) continue;
      return {live ? Outcome::Kind::lost : Outcome::Kind::failed, pulled->problem};
    }

    attempts_ = 0;
    backoff_ = options_.reconnect_delay;
    if (!pass_started_) {
      pass_started_ = true;
      pts_offset_us_ = pass_end_us_ - pulled->pts_us;
      if (next_frame_id_ == 0) pts_offset_us_ = 0;  // the first pass keeps the source's own pts
    }
    const std::int64_t pts_us = pulled->pts_us + pts_offset_us_;
    const double fps = source.native_fps() > 0 ? source.native_fps() : 25.0;
    pass_end_us_ = std::max<std::int64_t>(pass_end_us_, pts_us + std::llround(1e6 / fps));
    {
      const std::lock_guard lock(status_mutex_);
      ++status_.decoded;
      status_.source_width = static_cast<std::uint32_t>(frame->width);
      status_.source_height = static_cast<std::uint32_t>(frame->height);
    }
    if (options_.frame_skip > 0 && decoded_in_stream_++ % (options_.frame_skip + 1ULL) != 0) {
      const std::lock_guard lock(status_mutex_);
      ++status_.skipped;
      continue;
    }
    if (!pace(pts_us)) return {Outcome::Kind::stopped};
    if (auto ok = publish_frame(producer, *frame, pts_us, pulled->key_frame); !ok) {
      if (stop_.stop_requested()) return {Outcome::Kind::stopped};
      return {Outcome::Kind::failed, ok.error()};
    }
  }
}

Result<void> StreamWorker::publish_frame(Producer& producer, const AVFrame& frame, std::int64_t pts_us,
                                         bool key_frame) {
  const ImageDesc desc = converter_.describe(frame);
  auto loan = loan_slot(producer, desc.byte_size());
  if (!loan) return tl::unexpected(loan.error());
  const bool discarded = loan->discarded();
  if (!discarded) {
    // The one conversion: swscale writes into the slot itself.
    if (auto ok = converter_.convert(frame, desc, loan->data()); !ok) {
      return make_error(ok.error().code(), "stream '" + config_.source + "': " + ok.error().message());
    }
  }
  MessageMeta meta;
  meta.stream = id_;
  meta.frame = next_frame_id_;
  meta.pts = pts_us;
  meta.flags = key_frame ? flags::kKeyFrame : 0U;
  meta.kind = PayloadKind::image;
  meta.image = desc;
  if (auto ok = producer.publish(std::move(*loan), meta); !ok) return ok;
  ++next_frame_id_;
  last_publish_ns_ = monotonic_ns();
  const std::lock_guard lock(status_mutex_);
  ++(discarded ? status_.dropped : status_.published);
  return {};
}

Result<Loan> StreamWorker::loan_slot(Producer& producer, std::size_t bytes) {
  auto loan = producer.loan(bytes, stop_.get_token());
  if (loan) return loan;
  switch (loan.error().code()) {
    case ErrorCode::interrupted:
      return make_error(ErrorCode::interrupted, "stream stopped");
    case ErrorCode::payload_too_large:
      return make_error(ErrorCode::payload_too_large, "stream '" + config_.source + "': a " + std::to_string(bytes) +
                                                          "-byte frame: " + loan.error().message());
    case ErrorCode::timeout:
      return make_error(ErrorCode::timeout, "stream '" + config_.source + "': " + loan.error().message());
    default:
      return loan;
  }
}

void StreamWorker::send_end_of_stream(Producer& producer) {
  // The marker is never dropped, so it may wait for room, also once the stream was stopped (the
  // readers must learn where it ended); that wait is bounded by the linger time the channel's
  // owner chose for leaving.
  auto sent = producer.end_stream(id_, next_frame_id_, producer_options_.linger);
  if (!sent && sent.error().code() == ErrorCode::timeout) {
    note_error(Error(ErrorCode::timeout, "stream " + std::to_string(id_) + ": no room for the end-of-stream marker"));
  } else if (!sent) {
    note_error(sent.error());
  }
}

bool StreamWorker::pace(std::int64_t pts_us) {
  std::int64_t due_ns = 0;
  if (options_.realtime) {
    if (pace_start_ns_ < 0 || pts_us < pace_start_pts_us_) {
      pace_start_ns_ = monotonic_ns();
      pace_start_pts_us_ = pts_us;
    }
    due_ns = pace_start_ns_ + (pts_us - pace_start_pts_us_) * 1000;
  }
  if (options_.max_fps > 0 && last_publish_ns_ >= 0) {
    due_ns = std::max<std::int64_t>(due_ns, last_publish_ns_ + std::llround(1e9 / options_.max_fps));
  }
  return due_ns <= monotonic_ns() || sleep_until(due_ns);
}

bool StreamWorker::sleep_until(std::int64_t deadline_ns) {
  std::unique_lock lock(wake_mutex_);
  const auto left = std::chrono::nanoseconds(std::max<std::int64_t>(deadline_ns - monotonic_ns(), 0));
  // Returns early only when stopped (the predicate never turns true by itself).
  (void)wake_.wait_for(lock, stop_.get_token(), left, [] { return false; });
  return !stop_.stop_requested();
}

bool StreamWorker::back_off(const Error& why) {
  if (options_.max_reconnects != 0 && attempts_ >= options_.max_reconnects) return false;
  ++attempts_;
  {
    const std::lock_guard lock(status_mutex_);
    status_.state = StreamState::reconnecting;
    status_.message = why.message() + "; reconnecting in " + std::to_string(backoff_.count()) + " ms";
    status_.last_error = why;
    ++status_.reconnects;
  }
  pace_start_ns_ = -1;  // realtime pacing starts afresh on the new connection, not in a burst
  const bool slept = sleep_until(monotonic_ns() + std::chrono::nanoseconds(backoff_).count());
  backoff_ = std::min(backoff_ * 2, std::max(options_.reconnect_max_delay, options_.reconnect_delay));
  return slept;
}

void StreamWorker::set_state(StreamState state, std::string message) {
  const std::lock_guard lock(status_mutex_);
  status_.state = state;
  status_.message = std::move(message);
}

void StreamWorker::record_error(const Error& error) {
  const std::lock_guard lock(status_mutex_);
  ++status_.decode_errors;
  status_.last_error = error;
}

void StreamWorker::note_error(const Error& error) {
  const std::lock_guard lock(status_mutex_);
  status_.last_error = error;
}

void StreamWorker::finish(const Outcome& outcome) {
  const std::lock_guard lock(status_mutex_);
  switch (outcome.kind) {
    case Outcome::Kind::ended:
      status_.state = StreamState::eof;
      status_.message = status_.decode_errors > 0
                            ? "ended; " + std::to_string(status_.decode_errors) + " decode errors skipped"
                            : "ended";
      break;
    case Outcome::Kind::stopped:
      status_.state = StreamState::stopped;
      status_.message = "stopped";
      break;
    case Outcome::Kind::lost:
    case Outcome::Kind::failed:
      status_.state = StreamState::error;
      status_.message = outcome.error ? outcome.error->message() : "failed";
      if (outcome.error) status_.last_error = outcome.error;
      break;
  }
}

}  // namespace framebus::detail
