// A message's image or tensor description must never claim more than its payload: sizes are
// computed with overflow checks when publishing, and checked again when receiving, because a
// hostile producer can write any metadata straight into the shared mapping.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

#include "channel/layout.hpp"
#include "framebus/framebus.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::unique_name;

constexpr std::uint64_t kWrapped = 64;  // what the unchecked arithmetic made of the sizes below

// A 3 GiB BGR picture whose plane offset is chosen so that offset + size wraps around to 64.
ImageDesc lying_image() {
  ImageDesc d = ImageDesc::packed(32768, 32768, PixelFormat::bgr24);
  d.plane_offset[0] = 0 - (std::uint64_t{d.stride[0]} * d.height) + kWrapped;
  return d;
}

// Dimensions whose product is 2^64 elements: 0 bytes, which fits anything, once it wraps.
TensorDesc lying_tensor() {
  TensorDesc t;
  t.dtype = DType::uint8;
  t.ndim = 3;
  t.shape = {std::uint64_t{1} << 32, std::uint64_t{1} << 32, 1};  // 2^64: wraps to 0
  return t;
}

TEST(Description, an_image_whose_size_wraps_around_is_refused_by_publish_naming_the_field) {
  ASSERT_EQ(lying_image().stride[0] * std::uint64_t{32768} + lying_image().plane_offset[0], kWrapped)
      << "the description really does wrap to 64 bytes in plain arithmetic";
  EXPECT_EQ(lying_image().byte_size(), UINT64_MAX) << "byte_size() saturates instead of wrapping";
  const auto name = unique_name("wrapimage");
  auto tx = Producer::create(name, testing::small_channel(2, 4096));
  ASSERT_TRUE(tx);
  auto loan = tx->loan(kWrapped);
  ASSERT_TRUE(loan);
  MessageMeta meta;
  meta.kind = PayloadKind::image;
  meta.image = lying_image();
  auto r = tx->publish(std::move(*loan), meta);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::invalid_argument);
  EXPECT_NE(r.error().message().find("plane_offset[0]"), std::string::npos) << r.error().message();
}

TEST(Description, a_tensor_whose_shape_product_wraps_around_is_refused_by_publish_naming_the_field) {
  EXPECT_EQ(lying_tensor().byte_size(), UINT64_MAX) << "byte_size() saturates instead of wrapping to 0";
  const auto name = unique_name("wraptensor");
  auto tx = Producer::create(name, testing::small_channel(2, 4096));
  ASSERT_TRUE(tx);
  MessageMeta meta;
  meta.kind = PayloadKind::tensor;
  meta.tensor = lying_tensor();
  std::byte payload[kWrapped] = {};
  auto r = tx->send(payload, meta);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::invalid_argument);
  EXPECT_NE(r.error().message().find("shape["), std::string::npos) << r.error().message();

  // A zero dimension makes the tensor empty, but strides over the other dimensions must still
  // be expressible: (0, 2^62, 2^62) is refused, (0, 5) is fine.
  meta.tensor.shape = {0, std::uint64_t{1} << 62, std::uint64_t{1} << 62};
  auto huge_empty = tx->send(payload, meta);
  ASSERT_FALSE(huge_empty);
  EXPECT_EQ(huge_empty.error().code(), ErrorCode::invalid_argument);
  meta.tensor.ndim = 2;
  meta.tensor.shape = {0, 5};
  EXPECT_TRUE(tx->send(payload, meta));
}

// Writes into a published message's SlotMeta through a writable mapping of the payload area,
// as a hostile (or buggy) producer can at any time.
class MetaWriter {
 public:
  explicit MetaWriter(const std::string& name) {
    fd_ = ::open(channel_path(name).c_str(), O_RDWR | O_CLOEXEC);
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(::pread(fd_, &header_, sizeof header_, 0), static_cast<ssize_t>(sizeof header_));
    len_ = header_.total_bytes - header_.control_bytes;
    data_ = static_cast<std::byte*>(
        ::mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, static_cast<off_t>(header_.control_bytes)));
    EXPECT_NE(data_, MAP_FAILED);
  }
  ~MetaWriter() {
    ::munmap(data_, len_);
    ::close(fd_);
  }
  MetaWriter(const MetaWriter&) = delete;
  MetaWriter& operator=(const MetaWriter&) = delete;

  /// The metadata of the published message with frame number `frame`.
  detail::SlotMeta* find(std::uint64_t frame) {
    for (std::uint32_t i = 0; i < header_.slot_count; ++i) {
      auto* m = reinterpret_cast<detail::SlotMeta*>(data_ + std::uint64_t{i} * header_.slot_stride);
      if (m->frame == frame) return m;
    }
    return nullptr;
  }

 private:
  int fd_ = -1;
  detail::Header header_{};
  std::byte* data_ = nullptr;
  std::uint64_t len_ = 0;
};

// Publishes frame 1 as a small honest image, rewrites its description, then publishes frame 2.
template <typename Rewrite>
void expect_rejected_at_receive(const std::string& tag, Rewrite rewrite, std::string_view field) {
  const auto name = unique_name(tag);
  auto tx = Producer::create(name, testing::small_channel(2, 4096));
  auto rx = Consumer::open(name);
  ASSERT_TRUE(tx && rx);
  MessageMeta meta;
  meta.frame = 1;
  meta.kind = PayloadKind::image;
  meta.image = ImageDesc::packed(4, 4, PixelFormat::gray8);
  std::byte payload[kWrapped] = {};
  ASSERT_TRUE(tx->send(payload, meta));
  {
    MetaWriter writer(name);
    detail::SlotMeta* m = writer.find(1);
    ASSERT_NE(m, nullptr);
    rewrite(*m);
  }
  auto bad = rx->receive(1s);
  ASSERT_FALSE(bad) << "a description larger than the payload is never handed out";
  EXPECT_EQ(bad.error().code(), ErrorCode::corrupt);
  EXPECT_NE(bad.error().message().find(field), std::string::npos) << bad.error().message();
  EXPECT_EQ(rx->corrupt_messages(), 1U);

  // The bad message was released and skipped: both slots serve the next messages.
  for (std::uint64_t frame = 2; frame < 6; ++frame) {
    meta.frame = frame;
    ASSERT_TRUE(tx->send(payload, meta));
    auto good = rx->receive(1s);
    ASSERT_TRUE(good && good->has_message()) << (good ? "timeout" : good.error().message());
    EXPECT_EQ(good->message.frame(), frame);
    EXPECT_EQ(good->message.image().byte_size(), 16U);
  }
  EXPECT_EQ(rx->corrupt_messages(), 1U);
}

TEST(Description, an_image_description_rewritten_to_wrap_around_is_an_error_for_that_message_only) {
  expect_rejected_at_receive(
      "recvwrapimage", [](detail::SlotMeta& m) { m.image = lying_image(); }, "plane_offset[0]");
}

TEST(Description, a_tensor_description_rewritten_to_wrap_around_is_an_error_for_that_message_only) {
  expect_rejected_at_receive(
      "recvwraptensor",
      [](detail::SlotMeta& m) {
        m.kind = static_cast<std::uint32_t>(PayloadKind::tensor);
        m.tensor = lying_tensor();
      },
      "shape[");
}

TEST(Description, an_image_rewritten_to_exceed_the_payload_is_an_error_naming_the_sizes) {
  expect_rejected_at_receive(
      "recvbigimage", [](detail::SlotMeta& m) { m.image = ImageDesc::packed(64, 64, PixelFormat::bgr24); },
      "does not fit the payload of 64");
}

}  // namespace
}  // namespace framebus
