// The results-channel encoding: a round trip keeps every field; damaged bytes are refused.

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <vector>

#include "framebus/pipeline/result.hpp"

namespace framebus {
namespace {

InferenceResult sample_result() {
  InferenceResult r;
  r.kind = InferenceResult::Kind::frame;
  r.stream = 3;
  r.frame = 1234567890123ULL;
  r.pts_us = -40000;
  r.published_ns = 11;
  r.received_ns = 22;
  r.infer_start_ns = 33;
  r.infer_end_ns = 44;
  r.worker = 2;
  r.batch_size = 4;
  r.batch = 99;
  r.worker_pid = 4242;
  r.redelivered = true;
  r.top = {{468, 0.26F}, {12, 0.125F}, {0, 0.0F}};
  return r;
}

TEST(ResultCodec, a_round_trip_keeps_every_field) {
  std::vector<std::byte> buf(encoded_result_size());
  const auto in = sample_result();
  ASSERT_TRUE(encode_result(in, buf));
  auto out = decode_result(buf);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->kind, in.kind);
  EXPECT_EQ(out->stream, in.stream);
  EXPECT_EQ(out->frame, in.frame);
  EXPECT_EQ(out->pts_us, in.pts_us);
  EXPECT_EQ(out->published_ns, in.published_ns);
  EXPECT_EQ(out->received_ns, in.received_ns);
  EXPECT_EQ(out->infer_start_ns, in.infer_start_ns);
  EXPECT_EQ(out->infer_end_ns, in.infer_end_ns);
  EXPECT_EQ(out->worker, in.worker);
  EXPECT_EQ(out->batch_size, in.batch_size);
  EXPECT_EQ(out->batch, in.batch);
  EXPECT_EQ(out->worker_pid, in.worker_pid);
  EXPECT_EQ(out->redelivered, in.redelivered);
  EXPECT_EQ(out->top, in.top);
}

TEST(ResultCodec, too_many_predictions_or_a_small_buffer_are_refused) {
  std::vector<std::byte> buf(encoded_result_size());
  auto r = sample_result();
  r.top.resize(kMaxTopK + 1);
  auto big = encode_result(r, buf);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code(), ErrorCode::invalid_argument);
  std::vector<std::byte> small(encoded_result_size() - 1);
  EXPECT_FALSE(encode_result(sample_result(), small));
}

TEST(ResultCodec, damaged_records_are_reported_as_corrupt) {
  std::vector<std::byte> good(encoded_result_size());
  ASSERT_TRUE(encode_result(sample_result(), good));

  auto truncated = decode_result(std::span(good).first(good.size() - 8));
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code(), ErrorCode::corrupt);

  auto bad_magic = good;
  bad_magic[0] = std::byte{0};
  EXPECT_EQ(decode_result(bad_magic).error().code(), ErrorCode::corrupt);

  auto bad_version = good;
  bad_version[4] = std::byte{7};
  EXPECT_EQ(decode_result(bad_version).error().code(), ErrorCode::version_mismatch);

  auto bad_kind = good;
  bad_kind[8] = std::byte{9};
  EXPECT_EQ(decode_result(bad_kind).error().code(), ErrorCode::corrupt);

  // top_count sits right after the fixed fields; claim more predictions than fit.
  auto bad_count = good;
  const std::uint32_t huge = 1000;
  const std::size_t count_offset = encoded_result_size() - kMaxTopK * 8 - 8;
  std::memcpy(bad_count.data() + count_offset, &huge, sizeof huge);
  auto e = decode_result(bad_count);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), ErrorCode::corrupt);
  EXPECT_NE(e.error().message().find("1000"), std::string::npos);

  auto nan_score = good;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan_score.data() + count_offset + 8 + 4, &nan, sizeof nan);
  EXPECT_EQ(decode_result(nan_score).error().code(), ErrorCode::corrupt);
}

}  // namespace
}  // namespace framebus
