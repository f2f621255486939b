#include "framebus/channel/producer.hpp"

#include <cstring>
#include <new>
#include <utility>

#include "channel/channel_state.hpp"
#include "channel/cleanup.hpp"
#include "common/busy.hpp"
#include "common/clock.hpp"

namespace framebus {

namespace detail {

// Shared by the Producer and its outstanding Loans: the registration ends when the last is gone.
class ProducerCore {
 public:
  ProducerCore(Channel joined, ProducerOptions opts) : channel(std::move(joined)), options(std::move(opts)) {}
  ProducerCore(const ProducerCore&) = delete;
  ProducerCore& operator=(const ProducerCore&) = delete;
  ~ProducerCore() { channel.leave(); }

  // A message that every group's policy dropped is still written by the caller; it goes here.
  std::byte* scratch() {
    if (!scratch_) scratch_.reset(new (std::align_val_t{64}) std::byte[channel.segment().slot_size()]);
    return scratch_.get();
  }

  // The calls behind Producer's loan, publish and send, which send() chains under one busy flag.
  static Result<Loan> loan(const std::shared_ptr<ProducerCore>& core, std::size_t bytes, std::stop_token stop);
  static Result<void> publish(const std::shared_ptr<ProducerCore>& core, Loan&& loan, const MessageMeta& meta);

  Channel channel;
  ProducerOptions options;

 private:
  struct AlignedDelete {
    void operator()(std::byte* p) const noexcept { ::operator delete[](p, std::align_val_t{64}); }
  };
  std::unique_ptr<std::byte[], AlignedDelete> scratch_;
};

namespace {

// Called for every message: builds its error text only when there is an error.
Result<void> validate_meta(const MessageMeta& meta, std::size_t payload_size, const std::string& channel) {
  if (meta.kind == PayloadKind::bytes && meta.user.size() <= kUserMetaCapacity) return {};
  const std::string who = "message for channel '" + channel + "'";
  if (meta.user.size() > kUserMetaCapacity) {
    return make_error(ErrorCode::invalid_argument, who + ": user metadata of " + std::to_string(meta.user.size()) +
                                                       " bytes exceeds " + std::to_string(kUserMetaCapacity));
  }
  if (static_cast<std::uint32_t>(meta.kind) > static_cast<std::uint32_t>(PayloadKind::tensor)) {
    return make_error(ErrorCode::invalid_argument, who + ": unknown payload kind");
  }
  // Overflow-checked: a plane offset near 2^64 or a shape whose product wraps must not pass.
  return check_description(meta.kind, meta.image, meta.tensor, payload_size, who);
}

Error closed_error() { return Error(ErrorCode::closed, "the producer is closed"); }

}  // namespace
}  // namespace detail

// ---------------------------------------------------------------------------------------------

Loan::Loan(Loan&& other) noexcept { *this = std::move(other); }

bool Loan::discarded() const noexcept { return slot_ == detail::kDiscardSlot; }

Loan& Loan::operator=(Loan&& other) noexcept {
  if (this != &other) {
    if (core_ && slot_ != detail::kDiscardSlot) core_->channel.give_back(slot_);
    core_ = std::move(other.core_);
    slot_ = other.slot_;
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Loan::~Loan() {
  if (core_ && slot_ != detail::kDiscardSlot) core_->channel.give_back(slot_);
}

Producer::Producer(std::shared_ptr<detail::ProducerCore> core) : core_(std::move(core)) {}
// The busy flag stays with each object: moving a handle that another thread is inside breaks
// the contract anyway.
Producer::Producer(Producer&& other) noexcept : core_(std::move(other.core_)) {}
Producer& Producer::operator=(Producer&& other) noexcept {
  if (this != &other) {
    (void)close();
    core_ = std::move(other.core_);
  }
  return *this;
}
Producer::~Producer() { (void)close(); }

Result<Producer> Producer::create(std::string_view name, const ProducerOptions& options) {
  // Channels of this user left by processes that all died go now, so they never accumulate;
  // `name` itself is reclaimed by the join if it is one of them.
  (void)detail::sweep_own_dead_channels(name);
  auto channel = detail::Channel::join_producer(name, options);
  if (!channel) return tl::unexpected(channel.error());
  return Producer(std::make_shared<detail::ProducerCore>(std::move(*channel), options));
}

Result<Loan> detail::ProducerCore::loan(const std::shared_ptr<ProducerCore>& core, std::size_t bytes,
                                        std::stop_token stop) {
  if (!core) return tl::unexpected(detail::closed_error());
  if (!core->channel.usable()) return tl::unexpected(core->channel.unusable_error());
  auto slot = core->channel.acquire(bytes, core->options.block_timeout, false, std::move(stop));
  if (!slot) return tl::unexpected(slot.error());
  Loan loan;
  loan.core_ = core;
  loan.slot_ = *slot;
  loan.size_ = bytes;
  loan.data_ = *slot == detail::kDiscardSlot ? core->scratch() : core->channel.segment().payload(*slot);
  return loan;
}

Result<void> detail::ProducerCore::publish(const std::shared_ptr<ProducerCore>& core, Loan&& loan,
                                           const MessageMeta& meta) {
  if (!core) return tl::unexpected(detail::closed_error());
  if (!core->channel.usable()) return tl::unexpected(core->channel.unusable_error());
  if (loan.core_ != core) {
    return make_error(ErrorCode::invalid_argument, "the loan is empty or belongs to another producer");
  }
  if (auto ok = detail::validate_meta(meta, loan.size_, core->channel.name()); !ok) return ok;
  Loan taken = std::move(loan);
  if (taken.slot_ == detail::kDiscardSlot) {
    core->channel.count_discarded(meta.stream);
    return {};
  }
  auto result = core->channel.publish(taken.slot_, meta, taken.size_);
  taken.core_.reset();  // published (or reclaimed by the failed publish): not ours to give back
  return result;
}

Result<Loan> Producer::loan(std::size_t bytes, std::stop_token stop) {
  const detail::BusyGuard busy(busy_);
  if (!busy) return tl::unexpected(detail::used_from_two_threads("producer"));
  return detail::ProducerCore::loan(core_, bytes, std::move(stop));
}

Result<void> Producer::publish(Loan&& loan, const MessageMeta& meta) {
  const detail::BusyGuard busy(busy_);
  if (!busy) return tl::unexpected(detail::used_from_two_threads("producer"));
  return detail::ProducerCore::publish(core_, std::move(loan), meta);
}

Result<void> Producer::send(std::span<const std::byte> payload, const MessageMeta& meta, std::stop_token stop) {
  const detail::BusyGuard busy(busy_);
  if (!busy) return tl::unexpected(detail::used_from_two_threads("producer"));
  auto loan = detail::ProducerCore::loan(core_, payload.size(), std::move(stop));
  if (!loan) return tl::unexpected(loan.error());
  if (!payload.empty()) std::memcpy(loan->data_, payload.data(), payload.size());
  return detail::ProducerCore::publish(core_, std::move(*loan), meta);
}

Result<void> Producer::end_stream(std::uint32_t stream, std::uint64_t frame_count, std::stop_token stop) {
  const Duration timeout = core_ ? core_->options.block_timeout : Duration::zero();
  return end_stream(stream, frame_count, timeout, std::move(stop));
}

Result<void> Producer::end_stream(std::uint32_t stream, std::uint64_t frame_count, Duration timeout,
                                  std::stop_token stop) {
  const detail::BusyGuard busy(busy_);
  if (!busy) return tl::unexpected(detail::used_from_two_threads("producer"));
  if (!core_) return tl::unexpected(detail::closed_error());
  if (!core_->channel.usable()) return tl::unexpected(core_->channel.unusable_error());
  // A marker is never dropped: it waits for room whatever the policies.
  auto slot = core_->channel.acquire(0, timeout, true, std::move(stop));
  if (!slot) return tl::unexpected(slot.error());
  MessageMeta meta;
  meta.stream = stream;
  meta.frame = frame_count;
  meta.flags = flags::kEndOfStream;
  return core_->channel.publish(*slot, meta, 0);
}

Result<CloseReport> Producer::close() {
  // Closing under another thread's call would pull the channel from under it: refused, so the
  // caller learns of the bug (wake that call with cancel(), then close once it has returned).
  const detail::BusyGuard busy(busy_);
  if (!busy) return tl::unexpected(detail::used_from_two_threads("producer"));
  if (!core_) return CloseReport{};
  std::shared_ptr<detail::ProducerCore> core = std::move(core_);
  if (!core->channel.usable()) return CloseReport{};  // inherited by a forked child: the parent's to close
  auto lingered = core->channel.close_producer(core->options.linger);
  core->channel.retire_producer();  // when the linger failed (cancelled); no-op otherwise
  if (!lingered) return tl::unexpected(lingered.error());
  CloseReport report;
  report.discarded = lingered->total;
  for (auto& [group, count] : lingered->by_group) report.groups.push_back(CloseReport::Group{group, count});
  return report;
}

void Producer::cancel() noexcept {
  if (core_) core_->channel.cancel();
}

const std::string& Producer::name() const noexcept {
  static const std::string kNone;
  return core_ ? core_->channel.name() : kNone;
}

std::uint32_t Producer::slot_count() const noexcept { return core_ ? core_->channel.segment().slot_count() : 0; }
std::uint64_t Producer::slot_size() const noexcept { return core_ ? core_->channel.segment().slot_size() : 0; }

}  // namespace framebus
