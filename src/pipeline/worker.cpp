// The worker loop: batch, classify, publish results, then release the frames. Publishing before
// releasing is what makes a kill -9 at any point lose nothing (see worker.hpp).

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "framebus/channel/producer.hpp"
#include "framebus/pipeline/result.hpp"
#include "framebus/pipeline/worker.hpp"

namespace framebus {
namespace {

// A frame copied out of its slot (copy_on_receive).
struct CopiedFrame {
  std::vector<std::byte> bytes;
  ImageDesc desc;
};

// Fault injection for recovery drills and tests: FRAMEBUS_FAULT_DRAW_ON=STREAM:FRAME makes a worker
// draw on that frame in place, as code that paints boxes on frames would. Payloads are mapped
// read-only, so the worker dies of SIGSEGV; the channel redelivers the frame to the next worker
// until its group gives it up as a dead letter (max_deliveries), and `framebus run` reports it
// as a failed frame. Unset (always, outside drills), it costs one branch per batch.
struct DrawFault {
  bool armed = false;
  std::uint32_t stream = 0;
  std::uint64_t frame = 0;
};

const DrawFault& draw_fault() {
  static const DrawFault kFault = [] {
    DrawFault f;
    const char* spec = std::getenv("FRAMEBUS_FAULT_DRAW_ON");
    if (spec == nullptr) return f;
    unsigned stream = 0;
    unsigned long long frame = 0;
    if (std::sscanf(spec, "%u:%llu", &stream, &frame) == 2) f = DrawFault{true, stream, frame};
    return f;
  }();
  return kFault;
}

void inject_draw_fault(const std::vector<Message>& frames) {
  const DrawFault& fault = draw_fault();
  if (!fault.armed) return;
  for (const Message& s : frames) {
    if (s.stream() != fault.stream || s.frame() != fault.frame || s.size() == 0) continue;
    // The write the drill is about: into the shared, read-only payload.
    *reinterpret_cast<volatile std::byte*>(const_cast<std::byte*>(s.data().data())) = std::byte{0xFF};
  }
}

Result<void> publish(Producer& results, const InferenceResult& record) {
  std::array<std::byte, 512> buffer{};
  static_assert(sizeof(buffer) >= 224, "a result record fits the stack buffer");
  auto size = encode_result(record, buffer);
  if (!size) return tl::unexpected(size.error());
  MessageMeta meta;
  meta.stream = record.stream;
  meta.frame = record.frame;
  meta.pts = record.pts_us;
  meta.kind = PayloadKind::bytes;
  return results.send(std::span(buffer).first(*size), meta);
}

InferenceResult record_for(const Message& sample, const WorkerOptions& options, std::int64_t received_ns) {
  InferenceResult r;
  r.stream = sample.stream();
  r.frame = sample.frame();
  r.pts_us = sample.pts();
  r.published_ns = sample.publish_time_ns();
  r.received_ns = received_ns;
  r.worker = options.worker_id;
  r.worker_pid = static_cast<std::uint32_t>(::getpid());
  r.redelivered = sample.redelivered();
  return r;
}

// Classifies frames from the slots themselves, or from private copies when asked to. The slots
// are held until the results are out either way: a worker killed mid-batch must leave its frames
// to be redelivered.
Result<std::vector<std::vector<Prediction>>> classify_frames(Classifier& classifier, std::span<Message> frames,
                                                             bool copy) {
  if (!copy) return classifier.classify(std::span<const Message>(frames));
  std::vector<CopiedFrame> copies;
  copies.reserve(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    // Checked as in place, so that a frame that is no image fails naming its stream and frame.
    auto ref = image_of(frames[i]);
    if (!ref) return make_error(ref.error().code(), "image " + std::to_string(i) + ": " + ref.error().message());
    CopiedFrame c;
    c.bytes.assign(frames[i].data().begin(), frames[i].data().end());
    c.desc = ref->desc;
    copies.push_back(std::move(c));
  }
  std::vector<ImageRef> refs;
  refs.reserve(copies.size());
  for (const auto& c : copies) refs.push_back(ImageRef{c.bytes.data(), c.desc});
  return classifier.classify(std::span<const ImageRef>(refs));
}

// Predictions for every frame of the batch. One frame that cannot be classified (not an image, a
// broken picture) must not cost its batch-mates their results: when the batch fails, each frame
// is classified alone, and only the frames that fail alone are left without predictions.
std::vector<std::vector<Prediction>> classify_batch(Classifier& classifier, std::vector<Message>& frames, bool copy,
                                                    WorkerStats& stats) {
  auto all = classify_frames(classifier, frames, copy);
  if (all) return std::move(*all);
  std::vector<std::vector<Prediction>> tops(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto one = classify_frames(classifier, std::span<Message>(frames).subspan(i, 1), copy);
    if (one) {
      tops[i] = std::move(one->front());
    } else {
      stats.last_error = one.error();
      ++stats.errors;  // published with no predictions, so that the sink does not wait for it
    }
  }
  return tops;
}

}  // namespace

ProducerOptions results_channel_options() {
  ProducerOptions options;
  options.slots = 256;
  options.slot_size = 4096;
  options.policy = Policy::block;
  options.groups = {GroupSpec{"sink", Policy::block}};
  options.linger = std::chrono::seconds(30);
  return options;
}

Result<WorkerStats> run_worker(Classifier& classifier, const WorkerOptions& options) {
  if (options.batch == 0) return make_error(ErrorCode::invalid_argument, "worker batch must be at least 1");
  const std::int64_t start_ns = detail::monotonic_ns();
  ConsumerOptions consumer_options;
  consumer_options.group = options.group;
  consumer_options.wait = options.open_wait;
  auto consumer = Consumer::open(options.channel, consumer_options, options.stop);
  if (!consumer && options.stop.stop_requested()) return WorkerStats{};  // stopped before any frame
  if (!consumer) return tl::unexpected(consumer.error());
  auto results = Producer::create(options.results, results_channel_options());
  if (!results) return tl::unexpected(results.error());

  WorkerStats stats;
  for (;;) {
    auto batch = collect_batch(*consumer, options.batch, options.batch_timeout, options.stop);
    if (!batch) return tl::unexpected(batch.error());
    const std::int64_t received_ns = detail::monotonic_ns();
    // A frame redelivered after a worker died holding it may be what killed that worker: it is
    // classified alone, so the frames that happened to share its batch are not lost with it, and
    // only the frame that crashes every worker reaches its group's delivery limit.
    std::vector<Message> suspects;
    std::vector<Message> healthy;
    for (Message& s : batch->frames) (s.redelivered() ? suspects : healthy).push_back(std::move(s));
    std::vector<std::vector<Message>> runs;
    if (!healthy.empty()) runs.push_back(std::move(healthy));
    for (Message& s : suspects) runs.emplace_back().push_back(std::move(s));
    for (std::vector<Message>& frames : runs) {
      std::vector<InferenceResult> records;
      records.reserve(frames.size());
      for (const Message& s : frames) records.push_back(record_for(s, options, received_ns));
      inject_draw_fault(frames);
      const std::int64_t infer_start = detail::monotonic_ns();
      auto tops = classify_batch(classifier, frames, options.copy_on_receive, stats);
      const std::int64_t infer_end = detail::monotonic_ns();
      ++stats.batches;
      stats.busy_ns += infer_end - infer_start;
      for (std::size_t i = 0; i < records.size(); ++i) {
        InferenceResult& r = records[i];
        r.infer_start_ns = infer_start;
        r.infer_end_ns = infer_end;
        r.batch = stats.batches;
        r.batch_size = static_cast<std::uint32_t>(records.size());
        r.top = std::move(tops[i]);
        if (r.redelivered) ++stats.redelivered;
        if (auto sent = publish(*results, r); !sent) return tl::unexpected(sent.error());
      }
      stats.frames += records.size();
      for (Message& s : frames) s.release();
    }
    for (Message& marker : batch->end_markers) {
      InferenceResult r;
      r.kind = InferenceResult::Kind::end_of_stream;
      r.stream = marker.stream();
      r.frame = marker.frame();
      r.worker = options.worker_id;
      r.worker_pid = static_cast<std::uint32_t>(::getpid());
      if (auto sent = publish(*results, r); !sent) return tl::unexpected(sent.error());
      marker.release();
      ++stats.end_markers;
    }
    if (batch->end_of_channel) {
      stats.end = batch->reason;
      break;
    }
    if (options.stop.stop_requested()) break;
  }
  stats.wall_ns = detail::monotonic_ns() - start_ns;
  consumer->close();
  if (auto closed = results->close(); !closed) return tl::unexpected(closed.error());
  return stats;
}

}  // namespace framebus
