#include "posix_ring.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

namespace framebus::bench {
namespace {

constexpr std::uint64_t kPage = 4096;

std::runtime_error sys_error(const std::string& what) { return std::runtime_error(what + ": " + std::strerror(errno)); }

void* map_fd(int fd, std::size_t bytes, const std::string& name) {
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (base == MAP_FAILED) throw sys_error("mmap " + name);
  return base;
}

}  // namespace

RingMapping RingMapping::create(const std::string& name, std::uint32_t slots, std::uint64_t payload) {
  const std::uint64_t stride = (payload + kPage - 1) / kPage * kPage;
  const std::size_t bytes = kRingDataOffset + static_cast<std::size_t>(stride) * slots;
  const int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) throw sys_error("shm_open " + name);
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int saved = errno;
    close(fd);
    shm_unlink(name.c_str());
    errno = saved;
    throw sys_error("ftruncate " + name);
  }
  void* base = nullptr;
  try {
    base = map_fd(fd, bytes, name);
  } catch (...) {
    close(fd);
    shm_unlink(name.c_str());
    throw;
  }
  close(fd);
  RingMapping ring(base, bytes);
  // Write every page once so the tmpfs pages exist before any peer maps them.
  std::memset(ring.slot(0), 0x5A, static_cast<std::size_t>(stride) * slots);
  auto* control = new (base) RingControl{};
  control->slot_count = slots;
  control->slot_stride = stride;
  control->payload = payload;
  if (sem_init(&control->free_slots, 1, slots) != 0 || sem_init(&control->full_slots, 1, 0) != 0) {
    shm_unlink(name.c_str());
    throw sys_error("sem_init");
  }
  return ring;
}

RingMapping RingMapping::open(const std::string& name) {
  const int fd = shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0) throw sys_error("shm_open " + name);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    throw sys_error("fstat " + name);
  }
  void* base = nullptr;
  try {
    base = map_fd(fd, static_cast<std::size_t>(st.st_size), name);
  } catch (...) {
    close(fd);
    throw;
  }
  close(fd);
  return RingMapping(base, static_cast<std::size_t>(st.st_size));
}

RingMapping::RingMapping(RingMapping&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

RingMapping::~RingMapping() {
  if (base_ != nullptr) munmap(base_, bytes_);
}

std::byte* RingMapping::slot(std::uint64_t index) const noexcept {
  const RingControl& c = control();
  const std::uint64_t count = c.slot_count == 0 ? 1 : c.slot_count;
  return static_cast<std::byte*>(base_) + kRingDataOffset + (index % count) * c.slot_stride;
}

void unlink_ring(const std::string& name) noexcept { shm_unlink(name.c_str()); }

bool wait_semaphore(sem_t& sem, int timeout_ms) noexcept {
  // Fast path first: when the semaphore is already positive this is what a plain sem_wait does.
  if (sem_trywait(&sem) == 0) return true;
  timespec deadline{};
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += static_cast<long>(timeout_ms % 1000) * 1'000'000L;
  if (deadline.tv_nsec >= 1'000'000'000L) {
    deadline.tv_sec += 1;
    deadline.tv_nsec -= 1'000'000'000L;
  }
  for (;;) {
    if (sem_clockwait(&sem, CLOCK_MONOTONIC, &deadline) == 0) return true;
    if (errno != EINTR) return false;
  }
}

}  // namespace framebus::bench
