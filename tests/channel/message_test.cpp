#include <gtest/gtest.h>

#include <type_traits>

#include "framebus/framebus.hpp"

namespace framebus {
namespace {

TEST(ImageDesc, packed_bgr_has_one_plane_of_three_bytes_per_pixel) {
  const auto d = ImageDesc::packed(1920, 1080, PixelFormat::bgr24);
  EXPECT_EQ(d.plane_count, 1U);
  EXPECT_EQ(d.stride[0], 1920U * 3);
  EXPECT_EQ(d.byte_size(), 6'220'800U);
}

TEST(ImageDesc, nv12_has_luma_then_interleaved_chroma_at_half_height) {
  const auto d = ImageDesc::packed(640, 360, PixelFormat::nv12);
  EXPECT_EQ(d.plane_count, 2U);
  EXPECT_EQ(d.plane_offset[1], 640U * 360);
  EXPECT_EQ(d.byte_size(), 640U * 360 * 3 / 2);
}

TEST(ImageDesc, yuv420p_has_three_planes) {
  const auto d = ImageDesc::packed(64, 48, PixelFormat::yuv420p);
  EXPECT_EQ(d.plane_count, 3U);
  EXPECT_EQ(d.plane_offset[1], 64U * 48);
  EXPECT_EQ(d.plane_offset[2], 64U * 48 + 32U * 24);
  EXPECT_EQ(d.byte_size(), 64U * 48 * 3 / 2);
}

TEST(ImageDesc, row_alignment_pads_strides) {
  const auto d = ImageDesc::packed(10, 2, PixelFormat::gray8, 64);
  EXPECT_EQ(d.stride[0], 64U);
  EXPECT_EQ(d.byte_size(), 128U);
}

TEST(TensorDesc, byte_size_is_elements_times_dtype) {
  TensorDesc t;
  t.dtype = DType::float32;
  t.ndim = 4;
  t.shape = {2, 3, 224, 224};
  EXPECT_EQ(t.element_count(), 2U * 3 * 224 * 224);
  EXPECT_EQ(t.byte_size(), 2U * 3 * 224 * 224 * 4);
}

TEST(Strings, codes_and_enums_have_stable_names) {
  EXPECT_EQ(to_string(ErrorCode::payload_too_large), "payload_too_large");
  EXPECT_EQ(to_string(Policy::drop_oldest), "drop_oldest");
  EXPECT_EQ(to_string(EndReason::producer_died), "producer_died");
  EXPECT_EQ(to_string(PixelFormat::nv12), "nv12");
  EXPECT_EQ(to_string(DType::float16), "float16");
  EXPECT_EQ(dtype_size(DType::float64), 8U);
}

// The former name still compiles, for one release, with a deprecation warning naming the new one.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static_assert(std::is_same_v<Sample, Message>, "framebus::Sample is the deprecated name of framebus::Message");
#pragma GCC diagnostic pop

}  // namespace
}  // namespace framebus

namespace framebus {
namespace {

TEST(Parse, sizes_are_bytes_or_numbers_with_units) {
  EXPECT_EQ(parse_size("4096").value(), 4096U);
  EXPECT_EQ(parse_size("8MiB").value(), 8U << 20);
  EXPECT_EQ(parse_size("512 KiB").value(), 512U << 10);
  EXPECT_EQ(parse_size("6MB").value(), 6'000'000U);
  EXPECT_EQ(parse_size("1.5kib").value(), 1536U);
  for (const char* bad : {"", "MiB", "-3", "8 parsecs", "0", "1..2"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::invalid_argument);
    EXPECT_NE(r.error().message().find(bad), std::string::npos);
  }
}

// Found by tests/fuzz/fuzz_names: these threw std::invalid_argument / std::out_of_range.
TEST(Parse, a_lone_dot_or_an_overlong_number_is_an_error_not_an_exception) {
  const std::string overlong = "1" + std::string(400, '0');
  for (const std::string& bad : {std::string("."), std::string(".."), std::string(". MiB"), overlong}) {
    Result<std::uint64_t> r = make_error(ErrorCode::system, "not parsed");
    EXPECT_NO_THROW(r = parse_size(bad)) << bad;
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::invalid_argument) << bad;
  }
  EXPECT_EQ(parse_size("5.").value(), 5U);
  EXPECT_EQ(parse_size(".5k").value(), 500U);
}

TEST(Parse, policies_formats_and_dtypes_round_trip_their_names) {
  for (Policy p : {Policy::block, Policy::drop_oldest, Policy::drop_newest})
    EXPECT_EQ(parse_policy(to_string(p)).value(), p);
  EXPECT_EQ(parse_pixel_format("nv12").value(), PixelFormat::nv12);
  EXPECT_EQ(parse_dtype("float16").value(), DType::float16);
  EXPECT_EQ(parse_dtype("bool").value(), DType::bool8);
  auto r = parse_policy("sometimes");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("drop_oldest"), std::string::npos) << "names the choices";
  EXPECT_FALSE(parse_pixel_format("bgr32"));
  EXPECT_FALSE(parse_dtype("complex64"));
}

// The former name still compiles, for one release, with a deprecation warning naming the new one.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static_assert(std::is_same_v<Sample, Message>, "framebus::Sample is the deprecated name of framebus::Message");
#pragma GCC diagnostic pop

}  // namespace
}  // namespace framebus
