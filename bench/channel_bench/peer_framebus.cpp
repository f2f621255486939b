// framebus peers: the producer publishes by loan()/publish() (zero copy) or send() (one copy);
// the consumer receives and touches only the message header plus the payload's first byte.

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "framebus/channel/consumer.hpp"
#include "framebus/channel/producer.hpp"
#include "harness.hpp"
#include "peers.hpp"

namespace framebus::bench {
namespace {

// The benchmark's own flags ride above flags::kUserBase, out of the library's way.
constexpr unsigned kWireFlagShift = 16;
static_assert((1U << kWireFlagShift) == flags::kUserBase);

constexpr std::uint64_t kFrame1080pBgr = 1920ULL * 1080ULL * 3ULL;

MessageMeta base_meta(std::uint64_t payload) {
  MessageMeta meta;
  // Describe the 1080p frame as what it is, as a video producer would: any per-message cost of
  // image metadata is then part of the figure.
  if (payload == kFrame1080pBgr) {
    meta.kind = PayloadKind::image;
    meta.image = ImageDesc::packed(1920, 1080, PixelFormat::bgr24);
  }
  return meta;
}

}  // namespace

PeerResult run_framebus_producer(const PeerArgs& args) {
  PeerResult result;
  ProducerOptions options;
  options.slots = args.depth;
  options.slot_size = args.payload;
  // A consumer that died must not hang the producer forever; the orchestrator reports the error.
  options.block_timeout = std::chrono::seconds(10);
  auto producer = Producer::create(args.name, options);
  if (!producer) {
    result.set_error("Producer::create: " + producer.error().message());
    return result;
  }
  // Allocated and faulted in before the clock starts, and only for the copying variant.
  std::optional<SourceFrames> sources;
  if (args.transport == Transport::framebus_send) sources.emplace(args.payload);

  if (!wait_ready(args.go_fd, kAttachTimeoutMs, result)) return result;

  MessageMeta meta = base_meta(args.payload);
  Pacer pacer(args);
  std::uint64_t sent = 0;
  while (pacer.next()) {
    // Stamped before loan()/send(), which are where the producer waits for a free slot.
    const WireHeader header{pacer.seq(), now_ns(), pacer.flags(), 0};
    meta.frame = header.seq;
    meta.pts = header.stamp_ns;
    meta.flags = header.flags << kWireFlagShift;
    if (args.transport == Transport::framebus_loan) {
      auto loan = producer->loan(args.payload);
      if (!loan) {
        result.set_error("loan: " + loan.error().message());
        return result;
      }
      write_header(loan->data().data(), header);
      if (auto published = producer->publish(std::move(*loan), meta); !published) {
        result.set_error("publish: " + published.error().message());
        return result;
      }
    } else {
      const std::byte* frame = sources->frame_for(header.seq, header);
      if (auto sent_ok = producer->send(std::span(frame, args.payload), meta); !sent_ok) {
        result.set_error("send: " + sent_ok.error().message());
        return result;
      }
    }
    ++sent;
  }
  if (auto ended = producer->end_stream(0); !ended) {
    result.set_error("end_stream: " + ended.error().message());
    return result;
  }
  if (auto closed = producer->close(); !closed) {
    result.set_error("close: " + closed.error().message());
    return result;
  }
  result.ok = 1;
  result.total = sent;
  return result;
}

PeerResult run_framebus_consumer(const PeerArgs& args) {
  PeerResult result;
  ConsumerOptions options;
  options.wait = std::chrono::milliseconds(kAttachTimeoutMs);
  auto consumer = Consumer::open(args.name, options);
  if (!consumer) {
    result.set_error("Consumer::open: " + consumer.error().message());
    return result;
  }
  signal_ready(args.go_fd);

  ConsumerStats stats;
  for (;;) {
    auto received = consumer->receive(std::chrono::milliseconds(kReceiveTimeoutMs));
    if (!received) {
      result.set_error("receive: " + received.error().message());
      return result;
    }
    if (received->status == Received::Status::end_of_channel) break;
    if (received->status == Received::Status::timeout) {
      result.set_error("receive: no message within " + std::to_string(kReceiveTimeoutMs) + " ms");
      return result;
    }
    const std::int64_t received_ns = now_ns();
    const Message& sample = received->message;
    if (sample.is_end_of_stream()) continue;
    // Header fields plus one payload byte: the producer wrote the sequence number's low byte
    // there, so this also proves the consumer sees the producer's bytes in place.
    const auto data = sample.data();
    const bool payload_ok =
        sample.size() == args.payload && !data.empty() && data[0] == static_cast<std::byte>(sample.frame() & 0xFFU);
    stats.on_message(sample.frame(), sample.pts(), sample.flags() >> kWireFlagShift, received_ns, payload_ok);
    // `received` (and with it the sample's slot) is released at the end of this iteration.
  }
  return stats.finish();
}

}  // namespace framebus::bench
