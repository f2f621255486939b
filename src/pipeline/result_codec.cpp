// The wire form of InferenceResult: one fixed-size, trivially copyable struct, so that encoding
// is a memcpy and decoding is a memcpy plus range checks (the bytes come from shared memory).

#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "framebus/pipeline/result.hpp"

namespace framebus {
namespace {

constexpr std::uint32_t kMagic = 0x52425246;  // "FRBR"
constexpr std::uint32_t kVersion = 1;

struct WirePrediction {
  std::uint32_t class_id;
  float score;
};

struct WireResult {
  std::uint32_t magic;
  std::uint32_t version;
  std::uint32_t kind;
  std::uint32_t stream;
  std::uint64_t frame;
  std::int64_t pts_us;
  std::int64_t published_ns;
  std::int64_t received_ns;
  std::int64_t infer_start_ns;
  std::int64_t infer_end_ns;
  std::uint32_t worker;
  std::uint32_t batch_size;
  std::uint64_t batch;
  std::uint32_t worker_pid;
  std::uint32_t redelivered;
  std::uint32_t top_count;
  std::uint32_t reserved;
  WirePrediction top[kMaxTopK];
};
static_assert(std::is_trivially_copyable_v<WireResult>);
static_assert(sizeof(WireResult) % 8 == 0, "no tail padding that would carry stale bytes");

// The fields that are the same on the wire and in memory, in either direction: one list, so
// that a field added to one side cannot be forgotten by the other.
template <typename To, typename From>
void copy_plain_fields(To& to, const From& from) {
  to.stream = from.stream;
  to.frame = from.frame;
  to.pts_us = from.pts_us;
  to.published_ns = from.published_ns;
  to.received_ns = from.received_ns;
  to.infer_start_ns = from.infer_start_ns;
  to.infer_end_ns = from.infer_end_ns;
  to.worker = from.worker;
  to.batch_size = from.batch_size;
  to.batch = from.batch;
  to.worker_pid = from.worker_pid;
}

}  // namespace

std::size_t encoded_result_size() noexcept { return sizeof(WireResult); }

Result<std::size_t> encode_result(const InferenceResult& result, std::span<std::byte> out) {
  if (out.size() < sizeof(WireResult)) {
    return make_error(ErrorCode::invalid_argument, "result buffer of " + std::to_string(out.size()) +
                                                       " bytes is smaller than a record (" +
                                                       std::to_string(sizeof(WireResult)) + ")");
  }
  if (result.top.size() > kMaxTopK) {
    return make_error(ErrorCode::invalid_argument, "a result carries at most " + std::to_string(kMaxTopK) +
                                                       " predictions, not " + std::to_string(result.top.size()));
  }
  WireResult wire{};
  wire.magic = kMagic;
  wire.version = kVersion;
  wire.kind = static_cast<std::uint32_t>(result.kind);
  copy_plain_fields(wire, result);
  wire.redelivered = result.redelivered ? 1U : 0U;
  wire.top_count = static_cast<std::uint32_t>(result.top.size());
  for (std::size_t i = 0; i < result.top.size(); ++i) {
    wire.top[i] = {result.top[i].class_id, result.top[i].score};
  }
  std::memcpy(out.data(), &wire, sizeof wire);
  return sizeof wire;
}

Result<InferenceResult> decode_result(std::span<const std::byte> bytes) {
  if (bytes.size() < sizeof(WireResult)) {
    return make_error(ErrorCode::corrupt, "result record of " + std::to_string(bytes.size()) +
                                              " bytes is shorter than " + std::to_string(sizeof(WireResult)));
  }
  WireResult wire;
  std::memcpy(&wire, bytes.data(), sizeof wire);
  if (wire.magic != kMagic) return make_error(ErrorCode::corrupt, "result record has a bad magic number");
  if (wire.version != kVersion) {
    return make_error(ErrorCode::version_mismatch, "result record version " + std::to_string(wire.version) +
                                                       ", expected " + std::to_string(kVersion));
  }
  if (wire.kind > static_cast<std::uint32_t>(InferenceResult::Kind::end_of_stream)) {
    return make_error(ErrorCode::corrupt, "result record has unknown kind " + std::to_string(wire.kind));
  }
  if (wire.top_count > kMaxTopK) {
    return make_error(ErrorCode::corrupt, "result record claims " + std::to_string(wire.top_count) + " predictions");
  }
  InferenceResult result;
  result.kind = static_cast<InferenceResult::Kind>(wire.kind);
  copy_plain_fields(result, wire);
  result.redelivered = wire.redelivered != 0;
  result.top.reserve(wire.top_count);
  for (std::uint32_t i = 0; i < wire.top_count; ++i) {
    const float score = wire.top[i].score;
    if (!std::isfinite(score)) return make_error(ErrorCode::corrupt, "result record has a non-finite score");
    result.top.push_back({wire.top[i].class_id, score});
  }
  return result;
}

}  // namespace framebus
