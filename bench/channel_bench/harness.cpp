#include "harness.hpp"

#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace framebus::bench {

std::int64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

void sleep_until_ns(std::int64_t deadline_ns) noexcept {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000LL);
  ts.tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000LL);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// ---------------------------------------------------------------------------------------- Pacer

Pacer::Pacer(const PeerArgs& args) noexcept
    : mode_(args.mode),
      period_ns_(args.rate > 0 ? static_cast<std::int64_t>(1e9 / args.rate) : 0),
      measure_from_ns_(0),
      end_ns_(0),
      due_ns_(0) {
  const std::int64_t start = now_ns();
  measure_from_ns_ = start + static_cast<std::int64_t>(args.warmup_seconds * 1e9);
  end_ns_ = measure_from_ns_ + static_cast<std::int64_t>(args.seconds * 1e9);
  due_ns_ = start;
}

bool Pacer::next() noexcept {
  ++seq_;
  if (mode_ == Mode::paced) {
    if (seq_ != 0) due_ns_ += period_ns_;
    // A producer that fell behind (it was blocked) resumes the pace from now instead of bursting
    // to catch up: a burst would turn the paced row into a queueing measurement.
    const std::int64_t now = now_ns();
    if (due_ns_ < now - period_ns_) due_ns_ = now;
    if (due_ns_ > now) sleep_until_ns(due_ns_);
  }
  const std::int64_t now = now_ns();
  if (now >= end_ns_) return false;
  measured_ = now >= measure_from_ns_;
  return true;
}

// ---------------------------------------------------------------------------- LatencyHistogram

LatencyHistogram::LatencyHistogram() : buckets_(kBuckets, 0) {}

std::size_t LatencyHistogram::index_of(std::uint64_t v) noexcept {
  if (v < kLinear) return static_cast<std::size_t>(v);
  const int exponent = static_cast<int>(std::bit_width(v)) - 1;  // >= 7
  const auto mantissa = static_cast<std::size_t>((v >> (exponent - 6)) & (kSubBuckets - 1));
  return kLinear + static_cast<std::size_t>(exponent - 7) * kSubBuckets + mantissa;
}

double LatencyHistogram::midpoint_of(std::size_t index) noexcept {
  if (index < kLinear) return static_cast<double>(index);
  const std::size_t rel = index - kLinear;
  const int exponent = static_cast<int>(rel / kSubBuckets) + 7;
  const double mantissa = static_cast<double>(rel % kSubBuckets);
  const double width = std::ldexp(1.0, exponent - 6);
  return std::ldexp(1.0, exponent) + (mantissa + 0.5) * width;
}

void LatencyHistogram::add(std::int64_t ns) noexcept {
  const std::uint64_t v = ns < 0 ? 0 : static_cast<std::uint64_t>(ns);
  ++buckets_[index_of(v)];
  ++count_;
  max_ = std::max(max_, static_cast<std::int64_t>(v));
  sum_ += static_cast<long double>(v);
}

double LatencyHistogram::quantile(double q) const noexcept {
  if (count_ == 0) return 0.0;
  // Rank of the q-quantile, 1-based, nearest-rank definition (p99 of 400 samples = 396th).
  const auto rank = static_cast<std::uint64_t>(std::max(1.0, std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(midpoint_of(i), static_cast<double>(max_));
  }
  return static_cast<double>(max_);
}

double LatencyHistogram::mean() const noexcept {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

// ------------------------------------------------------------------------------- ConsumerStats

void ConsumerStats::on_message(std::uint64_t seq, std::int64_t stamp_ns, std::uint32_t flags, std::int64_t received_ns,
                               bool payload_ok) noexcept {
  ++total_;
  if (seq != expected_seq_) ++sequence_errors_;
  expected_seq_ = seq + 1;
  if (!payload_ok) ++payload_errors_;
  if ((flags & kWireMeasured) == 0) return;
  if (latency_.count() == 0) first_ns_ = received_ns;
  last_ns_ = received_ns;
  latency_.add(received_ns - stamp_ns);
}

PeerResult ConsumerStats::finish() const noexcept {
  PeerResult r;
  r.ok = 1;
  r.messages = latency_.count();
  r.total = total_;
  r.first_ns = first_ns_;
  r.last_ns = last_ns_;
  r.latency_p50_ns = latency_.quantile(0.50);
  r.latency_p99_ns = latency_.quantile(0.99);
  r.latency_max_ns = latency_.max();
  r.latency_mean_ns = latency_.mean();
  r.sequence_errors = sequence_errors_;
  r.payload_errors = payload_errors_;
  if (r.messages == 0) r.set_error("consumer received no measured message");
  return r;
}

// -------------------------------------------------------------------------------- MappedBuffer

MappedBuffer::MappedBuffer(std::size_t bytes, unsigned char fill) : size_(bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) {
    throw std::runtime_error("mmap of " + std::to_string(bytes) + " B: " + std::strerror(errno));
  }
  data_ = static_cast<std::byte*>(p);
  // Real pages with real contents: a never-written source would be read from the shared zero
  // page and make a copy look faster than it is.
  std::memset(data_, fill, bytes);
}

MappedBuffer::MappedBuffer(MappedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedBuffer::~MappedBuffer() {
  if (data_ != nullptr) munmap(data_, size_);
}

// -------------------------------------------------------------------------------- SourceFrames

SourceFrames::SourceFrames(std::size_t bytes) : bytes_(bytes) {
  frames_.reserve(kCount);
  for (std::size_t i = 0; i < kCount; ++i) {
    frames_.emplace_back(bytes, static_cast<unsigned char>(0x40 + i));
  }
}

std::byte* SourceFrames::frame_for(std::uint64_t seq, const WireHeader& header) noexcept {
  std::byte* frame = frames_[seq % kCount].data();
  write_header(frame, header);
  return frame;
}

void write_header(std::byte* payload, const WireHeader& header) noexcept {
  std::memcpy(payload, &header, sizeof header);
}

WireHeader read_header(const std::byte* payload) noexcept {
  WireHeader header;
  std::memcpy(&header, payload, sizeof header);
  return header;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  const std::size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lower + upper) / 2.0;
}

}  // namespace framebus::bench
