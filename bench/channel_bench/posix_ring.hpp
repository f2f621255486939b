#pragma once
// The baseline transport: a POSIX shared-memory ring of fixed slots, handed between one producer
// and one consumer by two process-shared semaphores (free slots, full slots). The orchestrator
// creates and unlinks the object; the peers only open it.

#include <semaphore.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace framebus::bench {

/// Lives at offset 0 of the shared-memory object; slots start at kRingDataOffset.
struct RingControl {
  sem_t free_slots;  ///< Counts slots the producer may fill (starts at slot_count).
  sem_t full_slots;  ///< Counts slots the consumer may take (starts at 0).
  std::uint32_t slot_count = 0;
  std::uint64_t slot_stride = 0;  ///< Payload rounded up to whole pages.
  std::uint64_t payload = 0;
};

inline constexpr std::size_t kRingDataOffset = 4096;

/// A mapping of a ring. Every page is faulted in at map time (MAP_POPULATE) so that no measured
/// message pays a first touch.
class RingMapping {
 public:
  /// Creates `name` (which must not exist), initialises the semaphores, writes every page.
  static RingMapping create(const std::string& name, std::uint32_t slots, std::uint64_t payload);
  /// Opens a ring created by create().
  static RingMapping open(const std::string& name);

  RingMapping(RingMapping&& other) noexcept;
  RingMapping& operator=(RingMapping&&) = delete;
  RingMapping(const RingMapping&) = delete;
  RingMapping& operator=(const RingMapping&) = delete;
  ~RingMapping();

  [[nodiscard]] RingControl& control() const noexcept { return *static_cast<RingControl*>(base_); }
  [[nodiscard]] std::byte* slot(std::uint64_t index) const noexcept;

 private:
  RingMapping(void* base, std::size_t bytes) noexcept : base_(base), bytes_(bytes) {}
  void* base_ = nullptr;
  std::size_t bytes_ = 0;
};

/// Removes the object; a missing one is not an error.
void unlink_ring(const std::string& name) noexcept;

/// sem_wait with a CLOCK_MONOTONIC bound; false on timeout (errno ETIMEDOUT) or error.
bool wait_semaphore(sem_t& sem, int timeout_ms) noexcept;

}  // namespace framebus::bench
