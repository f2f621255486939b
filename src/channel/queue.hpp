#pragma once
// A FIFO of slot indices over a ring that lives in shared memory. The caller holds the channel
// lock. Capacity equals the slot count and a slot is in a given queue at most once, so a valid
// queue never overflows; valid() is checked before any use because the memory is shared.

#include <cstdint>

#include "channel/layout.hpp"

namespace framebus::detail {

class SlotQueue {
 public:
  SlotQueue(std::uint32_t* items, std::uint32_t& head, std::uint32_t& count, std::uint32_t capacity) noexcept
      : items_(items), head_(head), count_(count), capacity_(capacity) {}

  [[nodiscard]] bool valid() const noexcept { return head_ < capacity_ && count_ <= capacity_; }
  [[nodiscard]] std::uint32_t size() const noexcept { return count_; }
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  [[nodiscard]] std::uint32_t at(std::uint32_t i) const noexcept { return items_[(head_ + i) % capacity_]; }

  bool push_back(std::uint32_t slot) noexcept {
    if (count_ >= capacity_) return false;
    items_[(head_ + count_) % capacity_] = slot;
    ++count_;
    return true;
  }

  /// Callers check valid() and !empty() first; the modulo keeps the read in bounds even when
  /// another process changes the head between that check and this read.
  std::uint32_t pop_front() noexcept {
    const std::uint32_t head = head_ % capacity_;
    const std::uint32_t slot = read_once(items_[head]);
    head_ = (head + 1) % capacity_;
    --count_;
    return slot;
  }

  /// Removes `slot` wherever it is; false if it is not queued (or the queue is out of range:
  /// a garbage count of four billion would otherwise make this loop for minutes).
  bool remove(std::uint32_t slot) noexcept {
    if (!valid()) return false;
    for (std::uint32_t i = 0; i < count_; ++i) {
      if (at(i) != slot) continue;
      for (std::uint32_t j = i; j + 1 < count_; ++j) items_[(head_ + j) % capacity_] = at(j + 1);
      --count_;
      return true;
    }
    return false;
  }

  /// Inserts `slot` before the first entry whose sequence number is larger (redelivery keeps
  /// publish order). `seq_of` maps a slot index to its sequence number.
  template <typename SeqOf>
  bool insert_ordered(std::uint32_t slot, SeqOf seq_of) noexcept {
    if (!valid() || count_ >= capacity_) return false;
    const auto seq = seq_of(slot);
    std::uint32_t pos = count_;
    for (std::uint32_t i = 0; i < count_; ++i) {
      if (seq_of(at(i)) > seq) {
        pos = i;
        break;
      }
    }
    for (std::uint32_t j = count_; j > pos; --j) items_[(head_ + j) % capacity_] = at(j - 1);
    items_[(head_ + pos) % capacity_] = slot;
    ++count_;
    return true;
  }

  void clear() noexcept {
    head_ = 0;
    count_ = 0;
  }

 private:
  std::uint32_t* items_;
  std::uint32_t& head_;
  std::uint32_t& count_;
  std::uint32_t capacity_;
};

}  // namespace framebus::detail
