// The price of one copy: a single process copying the payload from 8 rotating sources into 4
// rotating destinations on one core. framebus send() performs exactly one such copy per message,
// so its frames/s cannot exceed this row; the ratio says how much the channel adds on top.

#include <array>
#include <cstring>
#include <exception>
#include <vector>

#include "harness.hpp"
#include "peers.hpp"

namespace framebus::bench {

PeerResult run_memcpy_reference(const PeerArgs& args) {
  PeerResult result;
  try {
    constexpr std::size_t kDestinations = 4;  // the queue depth: as many slots as a channel has
    SourceFrames sources(args.payload);
    std::vector<MappedBuffer> destinations;
    destinations.reserve(kDestinations);
    for (std::size_t i = 0; i < kDestinations; ++i) destinations.emplace_back(args.payload, 0);

    PeerArgs burst = args;
    burst.mode = Mode::burst;
    Pacer pacer(burst);
    LatencyHistogram per_copy;
    std::uint64_t total = 0;
    unsigned checksum = 0;
    while (pacer.next()) {
      const WireHeader header{pacer.seq(), now_ns(), pacer.flags(), 0};
      std::byte* dst = destinations[header.seq % kDestinations].data();
      std::memcpy(dst, sources.frame_for(header.seq, header), args.payload);
      const std::int64_t done = now_ns();
      checksum += static_cast<unsigned>(dst[args.payload - 1]);  // keeps the copy observable
      ++total;
      if ((header.flags & kWireMeasured) == 0) continue;
      if (per_copy.count() == 0) result.first_ns = done;
      result.last_ns = done;
      per_copy.add(done - header.stamp_ns);
    }
    result.ok = 1;
    result.messages = per_copy.count();
    result.total = total;
    result.latency_p50_ns = per_copy.quantile(0.50);
    result.latency_p99_ns = per_copy.quantile(0.99);
    result.latency_max_ns = per_copy.max();
    result.latency_mean_ns = per_copy.mean();
    result.payload_errors = checksum == 0xFFFFFFFFU ? 1 : 0;  // never true; defeats dead-code elimination
  } catch (const std::exception& e) {
    result.set_error(e.what());
  }
  return result;
}

}  // namespace framebus::bench
