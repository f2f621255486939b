// Single-channel behaviour: round trips, zero copy, waits, end of stream, lifetimes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>

#include "common/clock.hpp"
#include "framebus/framebus.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

// Counts heap allocations made by the calling thread while armed (see the hot-path test).
namespace {
thread_local bool g_count_allocations = false;
thread_local std::size_t g_allocations = 0;
}  // namespace
// These replace the global allocation functions, so malloc/free pair with them by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (g_count_allocations) ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::Pipe;
using testing::unique_name;

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The permissions of the mapping of `path` that contains `address`, from /proc/self/maps.
std::string mapping_perms(const void* address, const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const auto a = reinterpret_cast<std::uintptr_t>(address);
  while (std::getline(maps, line)) {
    if (line.find(path) == std::string::npos) continue;
    std::uintptr_t lo = 0, hi = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) == 3 && a >= lo && a < hi) return perms;
  }
  return "";
}

TEST(Channel, a_message_arrives_with_payload_and_all_metadata) {
  const auto name = unique_name("roundtrip");
  auto tx = Producer::create(name, testing::small_channel());
  ASSERT_TRUE(tx) << tx.error().message();
  auto rx = Consumer::open(name);
  ASSERT_TRUE(rx) << rx.error().message();

  const char user[] = "camera=front;gain=3";
  MessageMeta meta;
  meta.stream = 7;
  meta.frame = 1234;
  meta.pts = -99;
  meta.flags = flags::kKeyFrame | flags::kUserBase;
  meta.kind = PayloadKind::image;
  meta.image = ImageDesc::packed(8, 4, PixelFormat::bgr24);
  meta.user = std::as_bytes(std::span(user));
  std::vector<std::uint8_t> pixels(8 * 4 * 3);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i);
  const std::int64_t before = detail::monotonic_ns();
  ASSERT_TRUE(tx->send(std::as_bytes(std::span(pixels)), meta));

  auto r = rx->receive(5s);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->status, Received::Status::message);
  const Message& s = r->message;
  EXPECT_EQ(s.stream(), 7U);
  EXPECT_EQ(s.frame(), 1234U);
  EXPECT_EQ(s.pts(), -99);
  EXPECT_EQ(s.flags(), flags::kKeyFrame | flags::kUserBase);
  EXPECT_GE(s.publish_time_ns(), before);
  EXPECT_FALSE(s.redelivered());
  EXPECT_FALSE(s.is_end_of_stream());
  EXPECT_EQ(s.kind(), PayloadKind::image);
  EXPECT_EQ(s.image().width, 8U);
  EXPECT_EQ(s.image().format, PixelFormat::bgr24);
  ASSERT_EQ(s.size(), pixels.size());
  EXPECT_EQ(std::memcmp(s.data().data(), pixels.data(), pixels.size()), 0);
  ASSERT_EQ(s.user_meta().size(), sizeof user);
  EXPECT_EQ(std::memcmp(s.user_meta().data(), user, sizeof user), 0);
}

TEST(Channel, a_tensor_message_carries_dtype_and_shape) {
  const auto name = unique_name("tensor");
  auto tx = Producer::create(name, testing::small_channel());
  auto rx = Consumer::open(name);
  ASSERT_TRUE(tx && rx);
  std::vector<float> values(2 * 3 * 4, 1.5F);
  MessageMeta meta;
  meta.kind = PayloadKind::tensor;
  meta.tensor.dtype = DType::float32;
  meta.tensor.ndim = 3;
  meta.tensor.shape = {2, 3, 4};
  ASSERT_TRUE(tx->send(std::as_bytes(std::span(values)), meta));
  auto r = rx->receive(5s);
  ASSERT_TRUE(r && r->has_message());
  EXPECT_EQ(r->message.kind(), PayloadKind::tensor);
  EXPECT_EQ(r->message.tensor().dtype, DType::float32);
  EXPECT_EQ(r->message.tensor().shape[2], 4U);
  EXPECT_EQ(r->message.size(), values.size() * sizeof(float));
}

TEST(Channel, a_tensor_or_image_larger_than_its_payload_is_refused) {
  const auto name = unique_name("desc");
  auto tx = Producer::create(name, testing::small_channel());
  ASSERT_TRUE(tx);
  std::vector<std::byte> small(16);
  MessageMeta meta;
  meta.kind = PayloadKind::tensor;
  meta.tensor.dtype = DType::float32;
  meta.tensor.ndim = 1;
  meta.tensor.shape = {100};
  auto r = tx->send(small, meta);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::invalid_argument);
  EXPECT_NE(r.error().message().find("400 bytes"), std::string::npos) << r.error().message();
  meta.kind = PayloadKind::image;
  meta.image = ImageDesc::packed(100, 100, PixelFormat::gray8);
  EXPECT_FALSE(tx->send(small, meta));
}

TEST(Channel, loan_and_publish_share_memory_and_the_consumer_view_is_read_only) {
  const auto name = unique_name("zerocopy");
  auto tx = Producer::create(name, testing::small_channel(4, 1 << 20));
  auto rx = Consumer::open(name);
  ASSERT_TRUE(tx && rx);
  auto loan = tx->loan(1 << 20);
  ASSERT_TRUE(loan) << loan.error().message();
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(loan->data().data()) % 4096, 0U) << "payloads are page aligned";
  EXPECT_EQ(mapping_perms(loan->data().data(), channel_path(name)).substr(0, 3), "rw-");
  std::memset(loan->data().data(), 0x5A, loan->size());
  ASSERT_TRUE(tx->publish(std::move(*loan), MessageMeta{}));
  auto r = rx->receive(5s);
  ASSERT_TRUE(r && r->has_message());
  EXPECT_EQ(r->message.size(), 1U << 20);
  EXPECT_EQ(static_cast<unsigned char>(r->message.data()[12345]), 0x5A);
  // The consumer reads the producer's bytes in place: its view is a shared, read-only mapping.
  EXPECT_EQ(mapping_perms(r->message.data().data(), channel_path(name)), "r--s");
}

TEST(Channel, a_payload_larger_than_a_slot_is_an_error_not_a_truncation) {
  const auto name = unique_name("toolarge");
  auto tx = Producer::create(name, testing::small_channel(4, 1000));
  ASSERT_TRUE(tx);
  std::vector<std::byte> big(1001);
  auto r = tx->send(big, MessageMeta{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::payload_too_large);
  EXPECT_NE(r.error().message().find("1001"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("1000"), std::string::npos) << r.error().message();
  auto loan = tx->loan(5000);
  ASSERT_FALSE(loan);
  EXPECT_EQ(loan.error().code(), ErrorCode::payload_too_large);
}

TEST(Channel, receive_reports_a_timeout_as_a_status_after_waiting) {
  const auto name = unique_name("timeout");
  auto tx = Producer::create(name, testing::small_channel());
  auto rx = Consumer::open(name);
  ASSERT_TRUE(tx && rx);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = rx->receive(150ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Received::Status::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
  auto t = rx->try_receive();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, Received::Status::timeout);
}

TEST(Channel, opening_a_missing_channel_without_wait_names_it) {
  const auto name = unique_name("missing");
  auto rx = Consumer::open(name);
  ASSERT_FALSE(rx);
  EXPECT_EQ(rx.error().code(), ErrorCode::not_found);
  EXPECT_NE(rx.error().message().find(name), std::string::npos);
}

TEST(Channel, opening_with_wait_gives_up_after_the_wait) {
  const auto name = unique_name("waitmissing");
  ConsumerOptions o;
  o.wait = 200ms;
  const auto t0 = std::chrono::steady_clock::now();
  auto rx = Consumer::open(name, o);
  ASSERT_FALSE(rx);
  EXPECT_EQ(rx.error().code(), ErrorCode::not_found);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
}

TEST(Channel, a_reader_started_before_the_writer_waits_and_then_receives) {
  const auto name = unique_name("readerfirst");
  Pipe ready;
  Pipe result;
  Child reader([&] {
    ConsumerOptions o;
    o.wait = 20s;
    ready.send("opening");
    auto rx = Consumer::open(name, o);
    if (!rx) return 2;
    auto got = testing::drain(*rx);
    result.send(testing::encode(got));
    return rx->end_reason() == EndReason::closed ? 0 : 3;
  });
  ASSERT_TRUE(ready.receive());
  ASSERT_FALSE(file_exists(channel_path(name))) << "the reader must not create the channel";
  auto opts = testing::small_channel();
  opts.groups = {{"default"}};
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx) << tx.error().message();
  for (std::uint64_t f = 0; f < 20; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  ASSERT_TRUE(tx->close());
  auto line = result.receive();
  ASSERT_TRUE(line);
  const auto got = testing::decode(*line);
  ASSERT_EQ(got.size(), 20U);
  for (std::uint64_t f = 0; f < 20; ++f) EXPECT_EQ(got[f].frame, f);
  EXPECT_EQ(reader.wait(), 0);
}

TEST(Channel, end_stream_delivers_a_marker_and_close_ends_the_channel) {
  const auto name = unique_name("eos");
  auto tx = Producer::create(name, testing::small_channel());
  auto rx = Consumer::open(name);
  ASSERT_TRUE(tx && rx);
  ASSERT_TRUE(testing::send_frame(*tx, 1, 0));
  ASSERT_TRUE(tx->end_stream(1));
  ASSERT_TRUE(testing::send_frame(*tx, 2, 0));
  ASSERT_TRUE(tx->end_stream(2, 7));
  auto closing = testing::close_in_background(*tx);

  std::vector<testing::Got> got;
  for (Message& s : *rx) got.push_back({s.stream(), s.frame(), s.redelivered(), s.is_end_of_stream()});
  EXPECT_TRUE(closing.get());
  EXPECT_FALSE(rx->last_error().has_value());
  ASSERT_EQ(got.size(), 4U);
  EXPECT_FALSE(got[0].end_of_stream);
  EXPECT_TRUE(got[1].end_of_stream);
  EXPECT_EQ(got[1].stream, 1U);
  EXPECT_EQ(got[1].frame, 0U) << "a marker without a frame count carries 0";
  EXPECT_TRUE(got[3].end_of_stream);
  EXPECT_EQ(got[3].stream, 2U);
  EXPECT_EQ(got[3].frame, 7U) << "the marker carries the stream's frame count";
  EXPECT_EQ(rx->end_reason(), EndReason::closed);
  auto again = rx->receive(0s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, Received::Status::end_of_channel) << "end of channel is reported, not a timeout";
  EXPECT_EQ(again->reason, EndReason::closed);
}

TEST(Channel, the_channel_ends_only_when_every_producer_has_closed) {
  const auto name = unique_name("twoproducers");
  auto a = Producer::create(name, testing::small_channel());
  auto b = Producer::create(name, testing::small_channel());
  auto rx = Consumer::open(name);
  ASSERT_TRUE(a && b && rx);
  ASSERT_TRUE(a->close());
  auto r = rx->receive(50ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Received::Status::timeout);
  ASSERT_TRUE(testing::send_frame(*b, 0, 1));
  auto closing = testing::close_in_background(*b);
  auto got = testing::drain(*rx);
  EXPECT_TRUE(closing.get());
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(rx->end_reason(), EndReason::closed);
}

TEST(Channel, messages_published_before_any_consumer_go_to_the_first_group) {
  const auto name = unique_name("lobby");
  auto tx = Producer::create(name, testing::small_channel());
  ASSERT_TRUE(tx);
  for (std::uint64_t f = 0; f < 3; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  auto rx = Consumer::open(name, {.group = "late"});
  ASSERT_TRUE(rx);
  const auto got = testing::drain(*rx, 3, 1s);
  ASSERT_EQ(got.size(), 3U);
  EXPECT_EQ(got[2].frame, 2U);
}

TEST(Channel, a_group_that_joins_later_receives_only_what_is_published_after) {
  const auto name = unique_name("latergroup");
  auto tx = Producer::create(name, testing::small_channel());
  ConsumerOptions first;
  first.group = "first";
  auto a = Consumer::open(name, first);
  ASSERT_TRUE(tx && a);
  ASSERT_TRUE(testing::send_frame(*tx, 0, 0));
  auto b = Consumer::open(name, {.group = "second"});
  ASSERT_TRUE(b);
  ASSERT_TRUE(testing::send_frame(*tx, 0, 1));
  auto closing = testing::close_in_background(*tx);
  const auto got_a = testing::drain(*a, 2);
  const auto got_b = testing::drain(*b, 1);
  EXPECT_TRUE(closing.get());
  EXPECT_TRUE(testing::drain(*a).empty());
  EXPECT_TRUE(testing::drain(*b).empty());
  ASSERT_EQ(got_a.size(), 2U);
  ASSERT_EQ(got_b.size(), 1U);
  EXPECT_EQ(got_b[0].frame, 1U);
}

TEST(Channel, close_lingers_so_a_consumer_that_comes_later_gets_every_frame) {
  const auto name = unique_name("linger");
  Pipe closing;
  Child producer([&] {
    auto opts = testing::small_channel();
    opts.groups = {{"default"}};
    opts.linger = 20s;
    auto tx = Producer::create(name, opts);
    if (!tx) return 2;
    for (std::uint64_t f = 0; f < 5; ++f) {
      if (!testing::send_frame(*tx, 0, f)) return 3;
    }
    closing.send("closing");
    return tx->close() ? 0 : 4;  // returns only once the frames were taken
  });
  ASSERT_TRUE(closing.receive());
  ConsumerOptions o;
  o.wait = 10s;
  auto rx = Consumer::open(name, o);
  ASSERT_TRUE(rx) << rx.error().message();
  const auto got = testing::drain(*rx);
  EXPECT_EQ(got.size(), 5U);
  EXPECT_EQ(rx->end_reason(), EndReason::closed);
  EXPECT_EQ(producer.wait(), 0);
}

TEST(Channel, linger_zero_discards_at_once_what_only_groups_without_a_live_member_wait_for) {
  const auto name = unique_name("lingerzero");
  auto opts = testing::small_channel();
  opts.groups = {{"g"}, {"nobody"}};
  opts.linger = 0s;
  auto tx = Producer::create(name, opts);
  auto rx = Consumer::open(name, {.group = "g"});
  ASSERT_TRUE(tx && rx);
  for (std::uint64_t f = 0; f < 3; ++f) ASSERT_TRUE(testing::send_frame(*tx, 0, f));
  auto report = tx->close();
  ASSERT_TRUE(report) << "returns at once: linger 0";
  EXPECT_EQ(report->discarded, 3U);
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  ASSERT_EQ(info->groups.size(), 2U);
  EXPECT_EQ(info->groups[0].dropped, 0U) << "g has a live member: it keeps its messages";
  EXPECT_EQ(info->groups[1].dropped, 3U);
  EXPECT_EQ(info->groups[1].expired, 3U);
  EXPECT_EQ(testing::drain(*rx).size(), 3U);
}

TEST(Channel, the_last_participant_to_leave_removes_the_shared_memory) {
  const auto name = unique_name("cleanup");
  const auto path = channel_path(name);
  {
    auto tx = Producer::create(name, testing::small_channel());
    auto rx = Consumer::open(name);
    ASSERT_TRUE(tx && rx);
    ASSERT_TRUE(testing::send_frame(*tx, 0, 0));
    ASSERT_TRUE(file_exists(path));
    ASSERT_EQ(testing::drain(*rx, 1).size(), 1U);
    ASSERT_TRUE(tx->close());
    EXPECT_TRUE(file_exists(path)) << "the consumer is still there";
  }
  EXPECT_FALSE(file_exists(path));
}

TEST(Channel, a_sample_keeps_its_slot_and_mapping_after_the_consumer_closes) {
  const auto name = unique_name("outlive");
  auto tx = Producer::create(name, testing::small_channel(2));
  auto rx = Consumer::open(name);
  ASSERT_TRUE(tx && rx);
  ASSERT_TRUE(testing::send_frame(*tx, 3, 42));
  auto r = rx->receive(5s);
  ASSERT_TRUE(r && r->has_message());
  Message kept = r->message;  // a copy shares the slot
  r->message.release();
  rx->close();
  EXPECT_TRUE(testing::payload_matches(kept));
  EXPECT_EQ(kept.frame(), 42U);
  auto info = inspect_channel(name);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->free_slots, 1U) << "the slot stays held while a Message refers to it";
  kept.release();
  info = inspect_channel(name);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->free_slots, 2U);
}

TEST(Channel, the_hot_path_allocates_nothing) {
  const auto name = unique_name("noalloc");
  auto tx = Producer::create(name, testing::small_channel(8, 1 << 16));
  auto rx = Consumer::open(name);
  ASSERT_TRUE(tx && rx);
  std::vector<std::byte> payload(1 << 16);
  MessageMeta meta;
  // Warm up once (first calls may initialise per-process state).
  ASSERT_TRUE(tx->send(payload, meta));
  ASSERT_TRUE(rx->receive(1s));
  std::size_t received = 0;
  g_allocations = 0;
  g_count_allocations = true;
  for (int i = 0; i < 1000; ++i) {
    auto loan = tx->loan(payload.size());
    if (!loan) break;
    (void)tx->publish(std::move(*loan), meta);
    auto r = rx->receive(1s);
    if (r && r->has_message()) ++received;
  }
  g_count_allocations = false;
  EXPECT_EQ(received, 1000U);
  EXPECT_EQ(g_allocations, 0U);
}

TEST(Channel, a_forked_child_cannot_use_its_parents_handles) {
  const auto name = unique_name("forked");
  auto tx = Producer::create(name, testing::small_channel());
  auto rx = Consumer::open(name);
  ASSERT_TRUE(tx && rx);
  Child child([&] {
    auto s = testing::send_frame(*tx, 0, 0);
    if (s || s.error().code() != ErrorCode::closed) return 2;
    if (s.error().message().find("forked child") == std::string::npos) return 3;
    auto r = rx->receive(0s);
    if (r || r.error().code() != ErrorCode::closed) return 4;
    // Its own handle works.
    auto own = Consumer::open(name);
    return own ? 0 : 5;
  });
  EXPECT_EQ(child.wait(), 0);
  // The parent's registration is intact.
  ASSERT_TRUE(testing::send_frame(*tx, 0, 1));
  auto r = rx->receive(5s);
  ASSERT_TRUE(r && r->has_message());
}

}  // namespace
}  // namespace framebus
