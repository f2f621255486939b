#pragma once
// Enforces the thread contract of a Producer or Consumer handle: one thread at a time inside it.
// A call that finds another thread inside gets an error instead of racing on the handle (a close
// in one thread while another receives used to unmap the memory under the receiver).

#include <atomic>

#include "framebus/error.hpp"

namespace framebus::detail {

/// Holds a handle's busy flag for one call. Check it with `if (!guard)`: false when another
/// thread was inside the handle, and then the flag is left alone.
class BusyGuard {
 public:
  explicit BusyGuard(std::atomic<bool>& busy) noexcept
      : busy_(busy.exchange(true, std::memory_order_acquire) ? nullptr : &busy) {}
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;
  ~BusyGuard() {
    if (busy_ != nullptr) {
      busy_->store(false, std::memory_order_release);
      busy_->notify_all();  // a close() waiting for this call to leave
    }
  }
  explicit operator bool() const noexcept { return busy_ != nullptr; }

 private:
  std::atomic<bool>* busy_;
};

inline Error used_from_two_threads(const char* handle) {
  return Error(ErrorCode::invalid_argument,
               std::string("the ") + handle +
                   " is used from two threads at once (one thread at a time; only cancel() "
                   "may be called from another)");
}

}  // namespace framebus::detail
