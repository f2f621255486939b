// Fuzz target: a channel whose shared memory holds arbitrary bytes.
//
// Random bytes would almost never get past the header's magic and geometry checks, so the input
// is applied to a real channel instead: at start-up the harness builds two valid channels in this
// process (one with groups, messages queued, held and loaned; one with messages waiting in the
// lobby for a first group), and keeps a snapshot of each file. Each input picks a snapshot, XORs
// patches of its own bytes over it at offsets it chooses, writes the result to a real
// /dev/shm/framebus.NAME object, and then does what a participant would: Consumer::open, receive
// with a zero timeout (reading every byte and descriptor of each message), Producer::create with
// loan/publish/send/end_stream, inspect_channel and list_channels. Errors are expected; a crash,
// a hang or a sanitizer report is a bug.
//
// Input: byte 0 = flags (see kFlag*), byte 1 = how much of the file to keep when kFlagTruncate is
// set (n/256 of it), then patches of [3-byte offset, little endian][1-byte length][length bytes].
//
// Participants named in the snapshot are made dead (their pid is replaced by one above the
// kernel's pid_max): a channel lock held by a live process is legitimately waited for without a
// bound, and a snapshot taken from this very process would otherwise name it alive. Dead holders
// still take the recovery paths (reaping, lock takeover and repair), which is what is fuzzed.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "channel/layout.hpp"
#include "framebus/framebus.hpp"

namespace {

using namespace framebus;
using namespace std::chrono_literals;

constexpr std::uint8_t kFlagLobbyBase = 1U << 0;    // start from the lobby snapshot
constexpr std::uint8_t kFlagKeepLock = 1U << 1;     // keep a lock word the patches set (takeover)
constexpr std::uint8_t kFlagTruncate = 1U << 2;     // write only part of the file
constexpr std::uint8_t kFlagSecondGroup = 1U << 3;  // consume as group "g1" instead of "g0"
constexpr std::uint8_t kFlagNewGroup = 1U << 4;     // consume as a group that does not exist yet
constexpr std::uint8_t kFlagProduce = 1U << 5;      // also join as a producer
constexpr std::uint8_t kFlagList = 1U << 6;         // also list every channel of the host

// Above any pid_max Linux allows (4194304), so /proc never has it.
constexpr std::uint64_t kDeadPid = 0x3FFFFFF0ULL;

struct Snapshot {
  std::vector<std::uint8_t> bytes;
  std::uint64_t participants_offset = 0;
};

std::string g_name;
std::string g_path;
std::array<Snapshot, 2> g_base;

[[noreturn]] void setup_failed(const char* what, const Error& e) {
  std::fprintf(stderr, "fuzz_channel: cannot build the seed channel: %s: %s\n", what, e.message().c_str());
  std::abort();
}

template <typename T>
T need(Result<T> r, const char* what) {
  if (!r) setup_failed(what, r.error());
  return std::move(*r);
}

void need_ok(Result<void> r, const char* what) {
  if (!r) setup_failed(what, r.error());
}

Snapshot snapshot(const std::string& name) {
  Snapshot s;
  const int fd = ::open(channel_path(name).c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) std::abort();
  s.bytes.resize(static_cast<std::size_t>(st.st_size));
  if (::pread(fd, s.bytes.data(), s.bytes.size(), 0) != static_cast<ssize_t>(s.bytes.size())) std::abort();
  ::close(fd);
  detail::Header h{};
  std::memcpy(static_cast<void*>(&h), s.bytes.data(), sizeof h);
  s.participants_offset = h.participants_offset;
  return s;
}

std::array<std::byte, 64> payload_of(std::uint8_t seed) {
  std::array<std::byte, 64> p{};
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = std::byte(static_cast<std::uint8_t>(seed + i));
  return p;
}

// Groups g0 (drop_oldest) and g1 (block); a bytes, an image and a tensor message; g0's consumer
// holds one of them; one slot is loaned and unpublished.
Snapshot build_group_base(const std::string& name) {
  ProducerOptions po;
  po.slots = 4;
  po.slot_size = 4096;
  po.groups = {{"g0", Policy::drop_oldest}, {"g1", Policy::block}};
  po.block_timeout = Duration::zero();
  po.linger = Duration::zero();
  auto tx = need(Producer::create(name, po), "Producer::create");
  auto rx = need(Consumer::open(name, {.group = "g0"}), "Consumer::open");
  const auto bytes = payload_of(1);
  const std::array<std::byte, 5> user{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}};
  need_ok(tx.send(bytes, {.stream = 0, .frame = 7, .pts = 70, .user = user}), "send bytes");
  const std::array<std::byte, 64> gray{};
  need_ok(
      tx.send(
          gray,
          {.stream = 1, .frame = 1, .kind = PayloadKind::image, .image = ImageDesc::packed(8, 8, PixelFormat::gray8)}),
      "send image");
  MessageMeta tensor{.stream = 2, .frame = 2, .kind = PayloadKind::tensor};
  tensor.tensor.dtype = DType::float32;
  tensor.tensor.ndim = 2;
  tensor.tensor.shape = {2, 8};
  need_ok(tx.send(gray, tensor), "send tensor");
  auto held = need(rx.receive(Duration::zero()), "receive");
  if (!held.has_message()) std::abort();
  auto loan = need(tx.loan(32), "loan");
  return snapshot(name);
}

// No group yet: three messages (the last an end-of-stream marker) wait in the lobby.
Snapshot build_lobby_base(const std::string& name) {
  ProducerOptions po;
  po.slots = 4;
  po.slot_size = 4096;
  po.block_timeout = Duration::zero();
  po.linger = Duration::zero();
  auto tx = need(Producer::create(name, po), "Producer::create");
  need_ok(tx.send(payload_of(3), {.stream = 0, .frame = 1}), "send");
  need_ok(tx.send(payload_of(4), {.stream = 0, .frame = 2}), "send");
  need_ok(tx.end_stream(0), "end_stream");
  return snapshot(name);
}

// Replaces the pid of every registered participant by one that cannot exist (see the top).
void make_participants_dead(std::vector<std::uint8_t>& image, const Snapshot& base, bool keep_lock) {
  if (image.size() < base.participants_offset + sizeof(detail::ParticipantCtl) * detail::kMaxParticipants) return;
  auto identity_at = [&](std::uint32_t i) {
    return image.data() + base.participants_offset + std::uint64_t{i} * sizeof(detail::ParticipantCtl) +
           offsetof(detail::ParticipantCtl, identity);
  };
  for (std::uint32_t i = 0; i < detail::kMaxParticipants; ++i) {
    std::uint64_t id = 0;
    std::memcpy(&id, identity_at(i), sizeof id);
    if (id == 0) continue;
    id = (kDeadPid << 32) | (id & 0xFFFFFFFFULL);
    std::memcpy(identity_at(i), &id, sizeof id);
  }
  std::uint8_t* lock_at = image.data() + offsetof(detail::Header, lock);
  std::uint32_t lock = 0;
  std::memcpy(&lock, lock_at, sizeof lock);
  if (!keep_lock) {
    lock = 0;
  } else if (const std::uint32_t owner = lock & detail::kLockOwnerMask;
             owner >= 1 && owner <= detail::kMaxParticipants) {
    // A free entry named as the lock owner would be claimed by this process, which would then
    // wait on itself: make the owner a dead participant instead.
    std::uint64_t id = 0;
    std::memcpy(&id, identity_at(owner - 1), sizeof id);
    if (id == 0) {
      id = (kDeadPid << 32) | 1U;
      std::memcpy(identity_at(owner - 1), &id, sizeof id);
    }
  }
  std::memcpy(lock_at, &lock, sizeof lock);
}

bool write_image(const std::vector<std::uint8_t>& image, std::size_t length) {
  ::unlink(g_path.c_str());
  const int fd = ::open(g_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool ok = ::pwrite(fd, image.data(), length, 0) == static_cast<ssize_t>(length);
  ::close(fd);
  return ok;
}

// Reads everything a consumer can read of a message, as an application would.
std::uint64_t touch(const Message& s) {
  std::uint64_t sum = 0;
  for (const std::byte b : s.data()) sum += static_cast<std::uint8_t>(b);
  for (const std::byte b : s.user_meta()) sum += static_cast<std::uint8_t>(b);
  sum += s.stream() + s.frame() + static_cast<std::uint64_t>(s.pts()) + s.flags();
  sum += s.redelivered() ? 1 : 0;
  sum += s.is_end_of_stream() ? 1 : 0;
  sum += static_cast<std::uint32_t>(s.kind());
  sum += s.image().byte_size() + s.tensor().byte_size() + s.tensor().element_count();
  return sum;
}

void receive_some(Consumer& rx, std::vector<Message>& kept, std::uint64_t& sum) {
  for (int i = 0; i < 8; ++i) {
    auto r = rx.receive(Duration::zero());
    if (!r || !r->has_message()) return;
    sum += touch(r->message);
    // Hold a few samples (also copies of one) and release them later, out of order.
    if (kept.size() < 3) kept.push_back(r->message);
    if (i % 2 == 1 && !kept.empty()) kept.erase(kept.begin());
  }
}

void produce(Consumer* rx, std::vector<Message>& kept, std::uint64_t& sum) {
  ProducerOptions po;
  po.slots = 1;
  po.slot_size = 1;
  po.block_timeout = Duration::zero();
  po.linger = Duration::zero();
  auto tx = Producer::create(g_name, po);
  if (!tx) return;
  const auto bytes = payload_of(9);
  if (auto loan = tx->loan(16)) {
    std::memset(loan->data().data(), 0x5A, loan->data().size());
    (void)tx->publish(std::move(*loan), {.stream = 3, .frame = 1});
  }
  (void)tx->send(std::span(bytes).first(8), {.stream = 3, .frame = 2});
  (void)tx->end_stream(3);
  if (rx != nullptr) receive_some(*rx, kept, sum);
  (void)tx->close();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // scripts/fuzz names the run (FRAMEBUS_FUZZ_TAG) so that it can clean up after a crash.
  const char* tag = std::getenv("FRAMEBUS_FUZZ_TAG");
  g_name = "fuzz-channel-" + (tag != nullptr ? std::string(tag) : std::to_string(::getpid()));
  g_path = channel_path(g_name);
  g_base[0] = build_group_base(g_name + "-groups");
  g_base[1] = build_lobby_base(g_name + "-lobby");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t flags = data[0];
  const Snapshot& base = g_base[(flags & kFlagLobbyBase) != 0 ? 1 : 0];
  std::vector<std::uint8_t> image = base.bytes;
  for (std::size_t i = 2; i + 4 <= size;) {
    const std::size_t offset = (data[i] | data[i + 1] << 8 | data[i + 2] << 16) % image.size();
    const std::size_t length = data[i + 3];
    i += 4;
    for (std::size_t k = 0; k < length && i < size; ++k, ++i) {
      if (offset + k < image.size()) image[offset + k] ^= data[i];
    }
  }
  make_participants_dead(image, base, (flags & kFlagKeepLock) != 0);
  const std::size_t length = (flags & kFlagTruncate) != 0 ? image.size() * data[1] / 256 : image.size();
  if (!write_image(image, length)) std::abort();

  std::uint64_t sum = 0;
  {
    std::vector<Message> kept;
    ConsumerOptions co;
    co.group = (flags & kFlagNewGroup) != 0 ? "fz" : (flags & kFlagSecondGroup) != 0 ? "g1" : "g0";
    auto rx = Consumer::open(g_name, co);
    if (rx) receive_some(*rx, kept, sum);
    if ((flags & kFlagProduce) != 0) produce(rx ? &*rx : nullptr, kept, sum);
    if (auto info = inspect_channel(g_name)) sum += info->participants.size() + info->groups.size();
    if ((flags & kFlagList) != 0) sum += list_channels().size();
  }
  ::unlink(g_path.c_str());
  // Keeps the reads above from being optimised away.
  static std::atomic<std::uint64_t> sink;
  sink.store(sum, std::memory_order_relaxed);
  return 0;
}
