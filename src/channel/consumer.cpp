#include "framebus/channel/consumer.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>

#include "channel/channel_state.hpp"
#include "channel/cleanup.hpp"
#include "common/busy.hpp"
#include "common/enum_names.hpp"

namespace framebus {

namespace detail {

// Shared by the Consumer and its Messages: the mapping and the registration live until the last
// Message is gone, so a view handed out never dangles.
class ConsumerCore {
 public:
  explicit ConsumerCore(Channel joined)
      : channel(std::move(joined)), refs(new std::atomic<std::uint32_t>[channel.segment().slot_count()]) {
    for (std::uint32_t i = 0; i < channel.segment().slot_count(); ++i) refs[i].store(0, std::memory_order_relaxed);
  }
  ConsumerCore(const ConsumerCore&) = delete;
  ConsumerCore& operator=(const ConsumerCore&) = delete;
  ~ConsumerCore() { channel.leave(); }

  void add_ref(std::uint32_t slot) noexcept { refs[slot].fetch_add(1, std::memory_order_relaxed); }
  void drop_ref(std::uint32_t slot) noexcept {
    if (refs[slot].fetch_sub(1, std::memory_order_acq_rel) == 1) channel.release(slot);
  }

  Channel channel;
  // Process-local count of Messages per slot; the slot is released to the channel at zero.
  std::unique_ptr<std::atomic<std::uint32_t>[]> refs;
};

namespace {
const SlotMeta& meta_of(const void* p) { return *static_cast<const SlotMeta*>(p); }
const SlotMeta& empty_meta() {
  static const SlotMeta kEmpty{};
  return kEmpty;
}
}  // namespace

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Message

Message::Message(const Message& other) noexcept
    : core_(other.core_),
      meta_(other.meta_),
      data_(other.data_),
      size_(other.size_),
      slot_(other.slot_),
      redelivered_(other.redelivered_) {
  if (core_) core_->add_ref(slot_);
}

Message& Message::operator=(const Message& other) noexcept {
  if (this != &other) {
    Message copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Message::Message(Message&& other) noexcept
    : core_(std::move(other.core_)),
      meta_(other.meta_),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      slot_(other.slot_),
      redelivered_(other.redelivered_) {}

Message& Message::operator=(Message&& other) noexcept {
  if (this != &other) {
    release();
    core_ = std::move(other.core_);
    meta_ = other.meta_;
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    slot_ = other.slot_;
    redelivered_ = other.redelivered_;
  }
  return *this;
}

Message::~Message() { release(); }

void Message::release() noexcept {
  if (core_) {
    core_->drop_ref(slot_);
    core_.reset();
  }
  data_ = nullptr;
  size_ = 0;
  meta_ = nullptr;
}

namespace {
const detail::SlotMeta& meta_or_empty(const void* meta) {
  return meta != nullptr ? detail::meta_of(meta) : detail::empty_meta();
}
}  // namespace

std::uint32_t Message::stream() const noexcept { return meta_or_empty(meta_).stream; }
std::uint64_t Message::frame() const noexcept { return meta_or_empty(meta_).frame; }
std::int64_t Message::pts() const noexcept { return meta_or_empty(meta_).pts; }
std::int64_t Message::publish_time_ns() const noexcept { return meta_or_empty(meta_).publish_ns; }
std::uint32_t Message::flags() const noexcept { return meta_or_empty(meta_).flags; }
PayloadKind Message::kind() const noexcept {
  const std::uint32_t k = meta_or_empty(meta_).kind;
  return k <= static_cast<std::uint32_t>(PayloadKind::tensor) ? static_cast<PayloadKind>(k) : PayloadKind::bytes;
}
const ImageDesc& Message::image() const noexcept { return meta_or_empty(meta_).image; }
const TensorDesc& Message::tensor() const noexcept { return meta_or_empty(meta_).tensor; }
std::span<const std::byte> Message::user_meta() const noexcept {
  const detail::SlotMeta& m = meta_or_empty(meta_);
  // Clamped at every read: the memory is shared, so the size is never trusted beyond the buffer.
  return {m.user, std::min<std::size_t>(detail::read_once(m.user_size), kUserMetaCapacity)};
}

// ---------------------------------------------------------------------------------------------
// Consumer

Consumer::Consumer(std::shared_ptr<detail::ConsumerCore> core) : core_(std::move(core)) {}
// The busy flag stays with each object: moving a handle that another thread is inside breaks
// the contract anyway.
Consumer::Consumer(Consumer&& other) noexcept
    : core_(std::move(other.core_)), last_error_(std::move(other.last_error_)), end_reason_(other.end_reason_) {}
Consumer& Consumer::operator=(Consumer&& other) noexcept {
  if (this != &other) {
    close();
    core_ = std::move(other.core_);
    last_error_ = std::move(other.last_error_);
    end_reason_ = other.end_reason_;
    corrupt_messages_ = other.corrupt_messages_;
  }
  return *this;
}
Consumer::~Consumer() { close(); }

Result<Consumer> Consumer::open(std::string_view name, const ConsumerOptions& options, std::stop_token stop) {
  // As Producer::create does: this user's channels whose participants all died go now. `name`
  // is left alone: a consumer may still drain what a dead producer published into it.
  (void)detail::sweep_own_dead_channels(name);
  auto channel = detail::Channel::join_consumer(name, options, std::move(stop));
  if (!channel) return tl::unexpected(channel.error());
  return Consumer(std::make_shared<detail::ConsumerCore>(std::move(*channel)));
}

void Consumer::cancel() noexcept {
  if (core_) core_->channel.cancel();
}

Result<Received> Consumer::receive(Duration timeout, std::stop_token stop) {
  const detail::BusyGuard busy(busy_);
  if (!busy) return tl::unexpected(detail::used_from_two_threads("consumer"));
  if (!core_) return make_error(ErrorCode::closed, "the consumer is closed");
  detail::Channel& ch = core_->channel;
  if (!ch.usable()) return tl::unexpected(ch.unusable_error());
  auto taken = ch.take(timeout, std::move(stop));
  if (!taken) return tl::unexpected(taken.error());
  Received out;
  if (!taken->slot) {
    if (taken->ended != EndReason::none) {
      out.status = Received::Status::end_of_channel;
      out.reason = end_reason_ = taken->ended;
    }
    return out;  // else the timeout passed
  }
  out.status = Received::Status::message;
  const std::uint32_t slot = *taken->slot;

  const detail::Segment& seg = ch.segment();
  const detail::SlotMeta& meta = seg.meta(slot);
  const std::uint64_t size = detail::read_once(meta.payload_size);
  // A message whose metadata is bad is an error for that message only: its slot is released
  // (the message is skipped, counted in corrupt_messages()) and the next receive() goes on.
  if (size > seg.slot_size()) {
    ch.release(slot);
    corrupt_messages_ += 1;
    return make_error(ErrorCode::corrupt, "channel '" + ch.name() + "' is corrupt: message in slot " +
                                              std::to_string(slot) + " claims " + std::to_string(size) +
                                              " bytes, more than a slot holds");
  }
  // The description is the producer's word, and a hostile producer writes any bytes: it is
  // checked (overflow-checked) against the payload on a private copy, so no view larger than
  // the payload can be built from what passed.
  if (const std::uint32_t kind = detail::read_once(meta.kind);
      kind == static_cast<std::uint32_t>(PayloadKind::image) ||
      kind == static_cast<std::uint32_t>(PayloadKind::tensor)) {
    const ImageDesc image = meta.image;
    const TensorDesc tensor = meta.tensor;
    const std::string who = "channel '" + ch.name() + "' is corrupt: message in slot " + std::to_string(slot);
    if (auto ok = check_description(static_cast<PayloadKind>(kind), image, tensor, size, who); !ok) {
      ch.release(slot);
      corrupt_messages_ += 1;
      return make_error(ErrorCode::corrupt, ok.error().message());
    }
  }
  core_->refs[slot].store(1, std::memory_order_relaxed);
  Message& s = out.message;
  s.core_ = core_;
  s.slot_ = slot;
  s.meta_ = &meta;
  s.data_ = seg.payload(slot);
  s.size_ = static_cast<std::size_t>(size);
  s.redelivered_ = taken->redelivered;
  return out;
}

void Consumer::close() noexcept {
  // Outside the contract when another thread is inside, but close() cannot report it: it wakes
  // that call and waits for it to return, so the mapping never goes from under it.
  while (busy_.exchange(true, std::memory_order_acquire)) {
    cancel();
    busy_.wait(true, std::memory_order_acquire);
  }
  core_.reset();
  busy_.store(false, std::memory_order_release);
  busy_.notify_all();
}

const std::string& Consumer::name() const noexcept {
  static const std::string kNone;
  return core_ ? core_->channel.name() : kNone;
}

const std::string& Consumer::group() const noexcept {
  static const std::string kNone;
  return core_ ? core_->channel.group_name() : kNone;
}

EndReason Consumer::end_reason() const noexcept { return end_reason_; }

Consumer::Iterator Consumer::begin() { return Iterator(this); }
Consumer::Iterator Consumer::end() noexcept { return Iterator(); }

Consumer::Iterator& Consumer::Iterator::operator++() {
  current_.release();
  if (consumer_ == nullptr) return *this;
  auto r = consumer_->receive(forever);
  if (!r) {
    consumer_->last_error_ = r.error();
    consumer_ = nullptr;
  } else if (r->status == Received::Status::message) {
    current_ = std::move(r->message);
  } else if (r->status == Received::Status::end_of_channel) {
    consumer_ = nullptr;
  }
  return *this;
}

namespace {
constexpr detail::EnumNames<EndReason, 3> kEndReasonNames{{"none", "closed", "producer_died"}};
static_assert(kEndReasonNames.names.size() == static_cast<std::size_t>(EndReason::producer_died) + 1,
              "a name for every value");
}  // namespace

std::string_view to_string(EndReason reason) noexcept { return detail::name_in(kEndReasonNames, reason); }

}  // namespace framebus
