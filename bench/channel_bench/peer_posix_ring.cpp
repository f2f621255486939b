// Baseline peers on the POSIX ring: what a hand-written shared-memory queue costs, with a copy into
// the slot (ring_copy) and without one (ring_nocopy: the producer writes the header in place and
// the slot index is the hand-off).

#include <cstring>
#include <exception>
#include <optional>
#include <string>

#include "harness.hpp"
#include "peers.hpp"
#include "posix_ring.hpp"

namespace framebus::bench {

PeerResult run_ring_producer(const PeerArgs& args) {
  PeerResult result;
  try {
    RingMapping ring = RingMapping::open(args.name);
    RingControl& control = ring.control();
    if (control.payload < args.payload || control.payload < sizeof(WireHeader)) {
      result.set_error("ring slots are smaller than the payload");
      return result;
    }
    std::optional<SourceFrames> sources;
    if (args.transport == Transport::ring_copy) sources.emplace(args.payload);

    if (!wait_ready(args.go_fd, kAttachTimeoutMs, result)) return result;

    Pacer pacer(args);
    std::uint64_t sent = 0;
    while (pacer.next()) {
      // Stamped before waiting for a free slot, like every other producer.
      const WireHeader header{pacer.seq(), now_ns(), pacer.flags(), 0};
      if (!wait_semaphore(control.free_slots, kAttachTimeoutMs)) {
        result.set_error("no free slot within 10 s (consumer gone?)");
        return result;
      }
      std::byte* slot = ring.slot(header.seq);
      if (sources) {
        std::memcpy(slot, sources->frame_for(header.seq, header), args.payload);
      } else {
        write_header(slot, header);
      }
      sem_post(&control.full_slots);
      ++sent;
    }
    // In-band end marker: this queue has no notion of a closed channel.
    if (!wait_semaphore(control.free_slots, kAttachTimeoutMs)) {
      result.set_error("no free slot for the end marker");
      return result;
    }
    write_header(ring.slot(sent), WireHeader{sent, now_ns(), kWireEnd, 0});
    sem_post(&control.full_slots);
    result.ok = 1;
    result.total = sent;
  } catch (const std::exception& e) {
    result.set_error(e.what());
  }
  return result;
}

PeerResult run_ring_consumer(const PeerArgs& args) {
  PeerResult result;
  try {
    RingMapping ring = RingMapping::open(args.name);
    RingControl& control = ring.control();
    signal_ready(args.go_fd);

    ConsumerStats stats;
    for (std::uint64_t index = 0;; ++index) {
      if (!wait_semaphore(control.full_slots, kReceiveTimeoutMs)) {
        result.set_error("no message within " + std::to_string(kReceiveTimeoutMs) + " ms");
        return result;
      }
      const std::int64_t received_ns = now_ns();
      // The header is the payload's first bytes: reading it is the "one byte of payload" here.
      const WireHeader header = read_header(ring.slot(index));
      const bool end = (header.flags & kWireEnd) != 0;
      if (!end) {
        stats.on_message(header.seq, header.stamp_ns, header.flags, received_ns, header.seq == index);
      }
      sem_post(&control.free_slots);  // the slot goes back only after the consumer is done
      if (end) break;
    }
    return stats.finish();
  } catch (const std::exception& e) {
    result.set_error(e.what());
  }
  return result;
}

}  // namespace framebus::bench
