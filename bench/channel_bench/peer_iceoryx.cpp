// Eclipse iceoryx 2.0.3 peers: untyped loan/publish of the payload, a WaitSet on the subscriber,
// and back-pressure instead of drops (publisher WAIT_FOR_CONSUMER, subscriber BLOCK_PRODUCER with a
// queue of `depth`), so the row is comparable to framebus' blocking policy. The orchestrator runs
// iox-roudi; this file only talks to it through the iceoryx runtime.
//
// Compiled into its own static library: iceoryx's headers do not pass the project's warning set.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>

#include "harness.hpp"
#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"
#include "peers.hpp"

namespace framebus::bench {
namespace {

void init_runtime(const char* role) {
  // Warnings and errors only, and without the "Log level set to" banner in the table output.
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn,
                                                           iox::log::LogLevelOutput::kHideLogLevel);
  // One registration per process; the pid keeps names unique across runs of the same RouDi.
  const std::string name = std::string("fbbench-") + role + "-" + std::to_string(getpid());
  iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name));
}

iox::capro::ServiceDescription service_of(const PeerArgs& args) {
  // A fresh instance per run: nothing of a previous run's ports can connect to this one.
  // std::string arguments: the const char* constructors trip GCC 12's bounds warnings.
  using iox::capro::IdString_t;
  return {IdString_t(iox::cxx::TruncateToCapacity, std::string("framebus-bench")),
          IdString_t(iox::cxx::TruncateToCapacity, args.name),
          IdString_t(iox::cxx::TruncateToCapacity, std::string("frames"))};
}

/// Polls `ready` every millisecond for up to `timeout_ms`: connection set-up goes through RouDi's
/// discovery loop, so there is no event to block on.
template <typename Predicate>
bool poll_until(Predicate ready, int timeout_ms) {
  const std::int64_t deadline = now_ns() + static_cast<std::int64_t>(timeout_ms) * 1'000'000;
  while (!ready()) {
    if (now_ns() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::string allocation_error(iox::popo::AllocationError error) {
  return "loan failed (iceoryx AllocationError " + std::to_string(static_cast<int>(error)) +
         "; is RouDi's mempool large enough?)";
}

}  // namespace

bool iceoryx_compiled_in() noexcept { return true; }

PeerResult run_iceoryx_producer(const PeerArgs& args) {
  PeerResult result;
  init_runtime("pub");
  iox::popo::PublisherOptions options;
  options.historyCapacity = 0;
  options.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  iox::popo::UntypedPublisher publisher(service_of(args), options);

  if (!wait_ready(args.go_fd, kAttachTimeoutMs, result)) return result;
  if (!poll_until([&] { return publisher.hasSubscribers(); }, kAttachTimeoutMs)) {
    result.set_error("publisher saw no subscriber within 10 s");
    return result;
  }

  const auto payload = static_cast<std::uint32_t>(args.payload);
  Pacer pacer(args);
  std::uint64_t sent = 0;
  while (pacer.next()) {
    // Stamped before loan(); a full subscriber queue blocks in publish() (it spins on yield()).
    const WireHeader header{pacer.seq(), now_ns(), pacer.flags(), 0};
    auto loaned = publisher.loan(payload);
    if (loaned.has_error()) {
      result.set_error(allocation_error(loaned.get_error()));
      return result;
    }
    write_header(static_cast<std::byte*>(loaned.value()), header);
    publisher.publish(loaned.value());
    ++sent;
  }
  auto last = publisher.loan(payload);
  if (last.has_error()) {
    result.set_error(allocation_error(last.get_error()));
    return result;
  }
  write_header(static_cast<std::byte*>(last.value()), WireHeader{sent, now_ns(), kWireEnd, 0});
  publisher.publish(last.value());
  result.ok = 1;
  result.total = sent;
  return result;
}

PeerResult run_iceoryx_consumer(const PeerArgs& args) {
  PeerResult result;
  init_runtime("sub");
  iox::popo::SubscriberOptions options;
  options.queueCapacity = args.depth;
  options.historyRequest = 0;
  options.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
  iox::popo::UntypedSubscriber subscriber(service_of(args), options);
  if (!poll_until([&] { return subscriber.getSubscriptionState() == iox::SubscribeState::SUBSCRIBED; },
                  kAttachTimeoutMs)) {
    result.set_error("subscriber not connected within 10 s");
    return result;
  }
  iox::popo::WaitSet<> waitset;
  if (waitset.attachState(subscriber, iox::popo::SubscriberState::HAS_DATA).has_error()) {
    result.set_error("WaitSet::attachState failed");
    return result;
  }
  signal_ready(args.go_fd);

  ConsumerStats stats;
  std::int64_t last_message_ns = now_ns();
  for (bool done = false; !done;) {
    // An empty wake-up is not a timeout: a HAS_DATA notification can arrive for a chunk the
    // drain loop below already took, and then the state is gone when the WaitSet checks it.
    (void)waitset.timedWait(iox::units::Duration::fromMilliseconds(kReceiveTimeoutMs));
    if (now_ns() - last_message_ns > std::int64_t{kReceiveTimeoutMs} * 1'000'000) {
      result.set_error("no message within " + std::to_string(kReceiveTimeoutMs) + " ms");
      return result;
    }
    // Drain what is queued: each take() is one receipt.
    for (;;) {
      auto taken = subscriber.take();
      if (taken.has_error()) break;  // NO_CHUNK_AVAILABLE
      const std::int64_t received_ns = now_ns();
      last_message_ns = received_ns;
      const WireHeader header = read_header(static_cast<const std::byte*>(taken.value()));
      if ((header.flags & kWireEnd) != 0) {
        done = true;
      } else {
        stats.on_message(header.seq, header.stamp_ns, header.flags, received_ns, true);
      }
      subscriber.release(taken.value());
      if (done) break;
    }
  }
  waitset.detachState(subscriber, iox::popo::SubscriberState::HAS_DATA);
  return stats.finish();
}

}  // namespace framebus::bench
