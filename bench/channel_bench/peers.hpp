#pragma once
// Entry points of the peer processes, one pair per transport, plus the start barrier they share.
// Each runs in its own process (the orchestrator fork+execs this binary in a role mode) and
// returns its PeerResult; none of them throws past its own boundary.

#include "wire.hpp"

namespace framebus::bench {

PeerResult run_framebus_producer(const PeerArgs& args);
PeerResult run_framebus_consumer(const PeerArgs& args);

PeerResult run_iceoryx_producer(const PeerArgs& args);
PeerResult run_iceoryx_consumer(const PeerArgs& args);
/// False when this binary was built without iceoryx (the rows are then skipped).
bool iceoryx_compiled_in() noexcept;

PeerResult run_ring_producer(const PeerArgs& args);
PeerResult run_ring_consumer(const PeerArgs& args);

PeerResult run_memcpy_reference(const PeerArgs& args);

/// Consumer side of the start barrier: "I am attached, start sending".
void signal_ready(int go_fd) noexcept;
/// Producer side: waits (bounded) for the consumer's signal. False with `error` set on timeout
/// or when the consumer died before signalling (EOF).
bool wait_ready(int go_fd, int timeout_ms, PeerResult& error);

/// How long a peer waits for its counterpart at start-up and for a message before giving up.
inline constexpr int kAttachTimeoutMs = 10'000;
inline constexpr int kReceiveTimeoutMs = 5'000;

}  // namespace framebus::bench
