// A participant with write access scribbles garbage over the shared state while others are
// blocked in receive() and loan(): they may get errors, or go on, but never crash. What
// tests/fuzz/fuzz_channel explores input by input, this does live, across real processes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "channel/layout.hpp"
#include "framebus/framebus.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::Pipe;
using testing::unique_name;

// A victim that does not finish in this time is killed by SIGALRM (exit status 128 + 14): a
// hang is told apart from a crash, and both fail the test.
constexpr unsigned kVictimWatchdogSeconds = 30;

// Reads everything of a message, as an application would.
std::uint64_t touch(const Message& s) {
  std::uint64_t sum = s.stream() + s.frame() + s.flags() + s.image().byte_size() + s.tensor().byte_size();
  for (const std::byte b : s.data()) sum += static_cast<std::uint8_t>(b);
  for (const std::byte b : s.user_meta()) sum += static_cast<std::uint8_t>(b);
  return sum;
}

// Victim processes loop until the parent says "stop" (a 5 ms look at the pipe per turn: Pipe
// gives a wait under one millisecond no look at all). Every call is bounded
// (receive and loan with short timeouts), so a victim notices "stop" whatever the garbage does,
// unless a call never returns, which the watchdog turns into a failure.
bool told_to_stop(Pipe& control) { return control.receive(5ms).has_value(); }

int consumer_victim(const std::string& name, Pipe& ready, Pipe& control) {
  ::alarm(kVictimWatchdogSeconds);
  auto rx = Consumer::open(name, {.group = "g", .wait = 10s});
  if (!rx) return 10;
  ready.send("consumer");
  std::uint64_t sum = 0;
  std::size_t messages = 0;
  std::size_t errors = 0;
  while (!told_to_stop(control)) {
    auto r = rx->receive(20ms);  // often blocked here, asleep on the group's futex
    if (!r) {
      ++errors;
      continue;
    }
    if (!r->has_message()) continue;
    sum += touch(r->message);
    if (++messages == 1) ready.send("flowing");  // the scribbler starts on a live pipeline
  }
  // Keeps the reads from being optimised away.
  static std::atomic<std::uint64_t> sink;
  sink.store(sum, std::memory_order_relaxed);
  ready.send("consumer received " + std::to_string(messages) + ", errors " + std::to_string(errors));
  return 0;
}

int producer_victim(const std::string& name, Pipe& ready, Pipe& control) {
  ::alarm(kVictimWatchdogSeconds);
  auto opts = testing::small_channel(4);
  opts.groups = {{"g", Policy::block}};
  opts.block_timeout = 20ms;
  opts.linger = Duration::zero();
  auto tx = Producer::create(name, opts);
  if (!tx) return 10;
  ready.send("producer");
  std::uint64_t frame = 0;
  std::size_t errors = 0;
  while (!told_to_stop(control)) {
    auto loan = tx->loan(64);  // often blocked here: the consumer is slower than this loop
    if (!loan) {
      ++errors;
      continue;
    }
    std::memset(loan->data().data(), 0x33, loan->data().size());
    if (!tx->publish(std::move(*loan), {.stream = 0, .frame = frame++})) ++errors;
  }
  ready.send("producer published " + std::to_string(frame) + ", errors " + std::to_string(errors));
  return 0;
}

// Writes random bytes at random places of the control region (header, participants, groups,
// slot table, free stack, queues) and of the per-slot metadata, which a producer may write too.
// The lock word is left alone: a participant that writes a live process's id there makes
// everyone wait for it, which is the same denial of service as taking the lock and keeping it
// (docs/security.md); what is tested here is that no garbage makes anyone crash.
int scribbler(const std::string& name, std::uint32_t seed, std::chrono::milliseconds duration) {
  const int fd = ::open(channel_path(name).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return 20;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return 21;
  const auto size = static_cast<std::size_t>(st.st_size);
  auto* base = static_cast<std::uint8_t*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  if (base == MAP_FAILED) return 22;
  detail::Header h{};
  std::memcpy(static_cast<void*>(&h), base, sizeof h);
  const std::size_t lock_at = offsetof(detail::Header, lock);
  std::mt19937 rng(seed);
  const auto until = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < until) {
    // Half the writes hit the control region, half the slot metadata.
    std::size_t at = 0;
    if (rng() % 2 == 0) {
      at = rng() % h.control_bytes;
    } else {
      at = h.control_bytes + (rng() % h.slot_count) * h.slot_stride + rng() % sizeof(detail::SlotMeta);
    }
    const std::size_t len = 1 + rng() % 8;
    for (std::size_t i = 0; i < len && at + i < size; ++i) {
      if (at + i >= lock_at && at + i < lock_at + sizeof(std::uint32_t)) continue;
      // Small values as often as random ones: they pass more range checks and go further.
      const auto v = static_cast<std::uint32_t>(rng());
      base[at + i] = static_cast<std::uint8_t>(v % 4 == 0 ? v >> 8 : (v >> 8) % 5);
    }
    // Pacing, not synchronisation: a few thousand writes spread over the whole duration, so
    // the victims work on partly damaged state for a while before it is all garbage.
    ::usleep(500);
  }
  ::munmap(base, size);
  ::close(fd);
  return 0;
}

void run_scenario(std::uint32_t seed) {
  const auto name = unique_name("hostile");
  Pipe ready;
  Pipe stop_producer;
  Pipe stop_consumer;
  Child producer([&] {
    ready.close_read();
    stop_producer.close_write();
    return producer_victim(name, ready, stop_producer);
  });
  ASSERT_EQ(ready.receive(), "producer");
  Child consumer([&] {
    ready.close_read();
    stop_consumer.close_write();
    return consumer_victim(name, ready, stop_consumer);
  });
  ASSERT_EQ(ready.receive(), "consumer");
  stop_producer.close_read();
  stop_consumer.close_read();
  ASSERT_EQ(ready.receive(), "flowing");

  Child writer([&] { return scribbler(name, seed, 1500ms); });
  EXPECT_EQ(writer.wait(20s), 0) << "the scribbler did its work";
  stop_producer.send("stop");
  stop_consumer.send("stop");
  const int producer_status = producer.wait(40s);
  const int consumer_status = consumer.wait(40s);
  EXPECT_EQ(producer_status, 0) << "producer (128 + signal if killed, 142 = watchdog: hung)";
  EXPECT_EQ(consumer_status, 0) << "consumer (128 + signal if killed, 142 = watchdog: hung)";
  for (int i = 0; i < 2; ++i) {
    if (auto report = ready.receive(1s)) std::printf("  %s\n", report->c_str());
  }
  // The garbage may have hidden the channel from its last participant's clean-up.
  (void)remove_channel(name);
}

TEST(Hostile, garbage_in_shared_state_never_crashes_a_blocked_consumer_or_producer_seed_1) { run_scenario(1); }
TEST(Hostile, garbage_in_shared_state_never_crashes_a_blocked_consumer_or_producer_seed_2) { run_scenario(2); }
TEST(Hostile, garbage_in_shared_state_never_crashes_a_blocked_consumer_or_producer_seed_3) { run_scenario(3); }

}  // namespace
}  // namespace framebus
