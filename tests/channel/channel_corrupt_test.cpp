// Hostile or corrupt shared memory gives an Error naming what is wrong, never a crash.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "channel/layout.hpp"
#include "channel/segment.hpp"
#include "framebus/framebus.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::unique_name;

// Maps the channel's control region writable, as a hostile process with access could.
class Tamper {
 public:
  explicit Tamper(const std::string& name) {
    fd_ = ::open(channel_path(name).c_str(), O_RDWR);
    EXPECT_GE(fd_, 0);
    base_ = static_cast<std::byte*>(::mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0));
    EXPECT_NE(base_, MAP_FAILED);
  }
  ~Tamper() {
    ::munmap(base_, kLen);
    ::close(fd_);
  }
  detail::Header& header() { return *reinterpret_cast<detail::Header*>(base_); }
  detail::GroupCtl& group(std::uint32_t i) {
    return reinterpret_cast<detail::GroupCtl*>(base_ + header().groups_offset)[i];
  }
  std::uint32_t* free_stack() { return reinterpret_cast<std::uint32_t*>(base_ + header().free_stack_offset); }
  std::uint32_t* queue(std::uint32_t i) {
    return reinterpret_cast<std::uint32_t*>(base_ + header().queues_offset) + std::uint64_t{i} * header().slot_count;
  }
  void truncate(off_t size) { ASSERT_EQ(::ftruncate(fd_, size), 0); }

 private:
  static constexpr std::size_t kLen = 64 * 1024;
  int fd_ = -1;
  std::byte* base_ = nullptr;
};

void expect_error(const Result<Consumer>& r, ErrorCode code, std::string_view mentions) {
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), code) << r.error().message();
  EXPECT_NE(r.error().message().find(mentions), std::string::npos) << r.error().message();
}

TEST(Corrupt, a_bad_magic_number_is_refused) {
  const auto name = unique_name("magic");
  auto tx = Producer::create(name, testing::small_channel());
  ASSERT_TRUE(tx);
  Tamper(name).header().magic = 0x1234;
  expect_error(Consumer::open(name), ErrorCode::corrupt, "magic");
}

TEST(Corrupt, a_layout_version_mismatch_names_both_versions) {
  const auto name = unique_name("version");
  auto tx = Producer::create(name, testing::small_channel());
  ASSERT_TRUE(tx);
  Tamper(name).header().layout_version = 77;
  expect_error(Consumer::open(name), ErrorCode::version_mismatch, "version 77");
  auto r = Consumer::open(name);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("version " + std::to_string(kLayoutVersion)), std::string::npos);
}

TEST(Corrupt, a_header_size_that_disagrees_with_the_layout_names_the_field) {
  const auto name = unique_name("slotcount");
  auto tx = Producer::create(name, testing::small_channel());
  ASSERT_TRUE(tx);
  Tamper(name).header().slot_count = 100000;
  expect_error(Consumer::open(name), ErrorCode::corrupt, "slot_count");
}

TEST(Corrupt, a_truncated_segment_is_refused) {
  // A truncated copy of a real channel under another name: its header is intact, its size is not.
  const auto name = unique_name("truncsrc");
  const auto copy = unique_name("truncated");
  auto tx = Producer::create(name, testing::small_channel());
  ASSERT_TRUE(tx);
  std::vector<char> head(8192);
  const int src = ::open(channel_path(name).c_str(), O_RDONLY);
  ASSERT_GE(src, 0);
  ASSERT_EQ(::read(src, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  ::close(src);
  const int dst = ::open(channel_path(copy).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(dst, 0);
  ASSERT_EQ(::write(dst, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  ::close(dst);
  expect_error(Consumer::open(copy), ErrorCode::corrupt, "the shared memory has 8192");
  EXPECT_TRUE(remove_channel(copy));
}

TEST(Corrupt, an_out_of_range_queue_head_is_an_error_on_receive) {
  const auto name = unique_name("queuehead");
  auto opts = testing::small_channel(4);
  opts.groups = {{"g"}};
  auto tx = Producer::create(name, opts);
  auto rx = Consumer::open(name, {.group = "g"});
  ASSERT_TRUE(tx && rx);
  ASSERT_TRUE(testing::send_frame(*tx, 0, 0));
  Tamper(name).group(0).queue_head = 999999;
  auto r = rx->receive(1s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::corrupt);
  EXPECT_NE(r.error().message().find("queue"), std::string::npos) << r.error().message();
}

TEST(Corrupt, an_out_of_range_queue_entry_is_an_error_on_receive) {
  const auto name = unique_name("queueentry");
  auto opts = testing::small_channel(4);
  opts.groups = {{"g"}};
  auto tx = Producer::create(name, opts);
  auto rx = Consumer::open(name, {.group = "g"});
  ASSERT_TRUE(tx && rx);
  ASSERT_TRUE(testing::send_frame(*tx, 0, 0));
  {
    Tamper t(name);
    t.queue(0)[t.group(0).queue_head] = 0xFFFF0000U;
  }
  auto r = rx->receive(1s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::corrupt);
  EXPECT_NE(r.error().message().find("out of range"), std::string::npos) << r.error().message();
}

TEST(Corrupt, an_out_of_range_free_list_entry_is_an_error_on_loan) {
  const auto name = unique_name("freelist");
  auto tx = Producer::create(name, testing::small_channel(4));
  ASSERT_TRUE(tx);
  {
    Tamper t(name);
    t.free_stack()[t.header().free_count - 1] = 4242;
  }
  auto loan = tx->loan(16);
  ASSERT_FALSE(loan);
  EXPECT_EQ(loan.error().code(), ErrorCode::corrupt);
  EXPECT_NE(loan.error().message().find("4242"), std::string::npos) << loan.error().message();
}

TEST(Corrupt, an_out_of_range_free_count_is_an_error_on_loan) {
  const auto name = unique_name("freecount");
  auto tx = Producer::create(name, testing::small_channel(4));
  ASSERT_TRUE(tx);
  Tamper(name).header().free_count = 77;
  auto loan = tx->loan(16);
  ASSERT_FALSE(loan);
  EXPECT_EQ(loan.error().code(), ErrorCode::corrupt);
}

TEST(Corrupt, a_payload_size_beyond_the_slot_is_an_error_on_receive) {
  const auto name = unique_name("payloadsize");
  auto tx = Producer::create(name, testing::small_channel(4, 4096));
  auto rx = Consumer::open(name);
  ASSERT_TRUE(tx && rx);
  auto loan = tx->loan(16);
  ASSERT_TRUE(loan);
  ASSERT_TRUE(tx->publish(std::move(*loan), MessageMeta{}));
  {
    // The producer maps the payload area writable; a buggy one could scribble on the metadata.
    const int fd = ::open(channel_path(name).c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    detail::Header h{};
    ASSERT_EQ(::pread(fd, &h, sizeof h, 0), static_cast<ssize_t>(sizeof h));
    const std::uint64_t bogus = 1ULL << 40;
    ASSERT_EQ(::pwrite(fd, &bogus, sizeof bogus, static_cast<off_t>(h.control_bytes)),
              static_cast<ssize_t>(sizeof bogus));
    ::close(fd);
  }
  auto r = rx->receive(1s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::corrupt);
  EXPECT_NE(r.error().message().find("more than a slot"), std::string::npos) << r.error().message();
}

// Found by tests/fuzz/fuzz_channel: removing a message from a queue whose count is garbage
// walked up to four billion entries, so close() (and a drop_oldest loan) stalled for minutes.
TEST(Corrupt, a_garbage_queue_count_does_not_stall_a_closing_producer) {
  const auto name = unique_name("queuecount");
  auto opts = testing::small_channel(4);
  opts.groups = {{"g"}};
  opts.linger = Duration::zero();
  auto tx = Producer::create(name, opts);
  auto rx = Consumer::open(name, {.group = "g"});
  ASSERT_TRUE(tx && rx);
  ASSERT_TRUE(testing::send_frame(*tx, 0, 0));
  Tamper(name).group(0).queue_count = 0xFFFFFF00U;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(tx->close());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s) << "close() walked the garbage count";
  auto r = rx->receive(Duration::zero());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::corrupt);
}

// Found by tests/fuzz/fuzz_channel: times read from the file were subtracted from the clock
// unchecked, so a garbage one overflowed (undefined behaviour the sanitizer tree stops on).
TEST(Corrupt, garbage_times_in_the_file_give_bounded_ages_not_an_overflow) {
  const auto name = unique_name("times");
  auto opts = testing::small_channel(4);
  opts.groups = {{"g"}};
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  {
    auto rx = Consumer::open(name, {.group = "h"});
    ASSERT_TRUE(rx);
  }
  Tamper t(name);
  for (std::uint32_t g = 0; g < 2; ++g) t.group(g).orphaned_ns = INT64_MIN;
  auto info = inspect_channel(name);
  ASSERT_TRUE(info) << info.error().message();
  for (const auto& g : info->groups) EXPECT_GE(g.orphaned_ms, 0) << g.name;
  for (std::uint32_t g = 0; g < 2; ++g) t.group(g).orphaned_ns = INT64_MAX;
  info = inspect_channel(name);
  ASSERT_TRUE(info) << info.error().message();
  for (const auto& g : info->groups) EXPECT_EQ(g.orphaned_ms, 0) << g.name;
  ASSERT_TRUE(testing::send_frame(*tx, 0, 0)) << "the channel works on with those times";
}

TEST(Corrupt, a_file_that_is_not_a_channel_is_refused_without_crashing) {
  const auto name = unique_name("garbage");
  const int fd = ::open(channel_path(name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  std::vector<unsigned char> junk(64 * 1024);
  for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<unsigned char>(i * 2654435761U >> 13);
  ASSERT_EQ(::write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  ::close(fd);
  expect_error(Consumer::open(name), ErrorCode::corrupt, name);
  auto tx = Producer::create(name, testing::small_channel());
  ASSERT_FALSE(tx);
  EXPECT_EQ(tx.error().code(), ErrorCode::corrupt);
  auto info = list_channels();
  bool listed_with_error = false;
  for (const auto& c : info) listed_with_error = listed_with_error || (c.name == name && !c.error.empty());
  EXPECT_TRUE(listed_with_error);
  EXPECT_TRUE(remove_channel(name));
}

}  // namespace
}  // namespace framebus
