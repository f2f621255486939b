#include "channel/segment.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <new>
#include <random>
#include <utility>

#include "common/clock.hpp"
#include "common/names.hpp"
#include "framebus/channel/admin.hpp"
#include "framebus/version.hpp"

namespace framebus::detail {

namespace {

constexpr std::uint64_t align_up(std::uint64_t value, std::uint64_t align) noexcept {
  return (value + align - 1) / align * align;
}

std::string errno_text(int err) { return std::strerror(err); }

Error system_error(std::string_view what, std::string_view path, int err) {
  return Error(ErrorCode::system, std::string(what) + " " + std::string(path) + ": " + errno_text(err));
}

void copy_group_name(GroupCtl& group, std::string_view name) noexcept {
  std::memset(group.name, 0, sizeof group.name);
  std::memcpy(group.name, name.data(), std::min(name.size(), sizeof group.name - 1));
}

// A creator killed between creating its temporary object and publishing it leaves that object
// in /dev/shm ("framebus.NAME.creating-PID-RANDOM"). The next creation of the same name removes
// those whose creator is gone, as it replaces a channel left by dead processes; `framebus gc` does
// it for every name. A pid reused since keeps its file until then.
void remove_abandoned_creations(std::string_view name) {
  const std::string prefix = std::string(kShmPrefix) + std::string(name) + ".creating-";
  DIR* dir = ::opendir(std::string(kShmDir).c_str());
  if (dir == nullptr) return;
  while (const dirent* e = ::readdir(dir)) {
    const std::string_view file(e->d_name);
    if (file.substr(0, prefix.size()) != prefix) continue;
    const std::string_view rest = file.substr(prefix.size());
    pid_t pid = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
    if (ec != std::errc{} || pid <= 0 || end == rest.data() + rest.size() || *end != '-') continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    ::unlinkat(::dirfd(dir), e->d_name, 0);
  }
  ::closedir(dir);
}

}  // namespace

LayoutPlan plan_layout(std::uint32_t slot_count, std::uint64_t slot_size) noexcept {
  LayoutPlan p;
  std::uint64_t at = align_up(sizeof(Header), 64);
  p.participants_offset = at;
  at += sizeof(ParticipantCtl) * kMaxParticipants;
  p.groups_offset = at;
  at += sizeof(GroupCtl) * kMaxGroups;
  p.slots_offset = at;
  at += sizeof(SlotCtl) * std::uint64_t{slot_count};
  p.free_stack_offset = at;
  at += align_up(sizeof(std::uint32_t) * std::uint64_t{slot_count}, 64);
  p.queues_offset = at;
  at += sizeof(std::uint32_t) * std::uint64_t{slot_count} * (kMaxGroups + 1);
  p.control_bytes = align_up(at, kPageSize);
  p.slot_stride = kSlotMetaBytes + align_up(slot_size, kPageSize);
  p.total_bytes = p.control_bytes + p.slot_stride * slot_count;
  return p;
}

Result<void> validate_header(const Header& h, std::uint64_t file_size, std::string_view name) {
  const std::string who = "channel '" + printable(name) + "'";
  if (file_size < sizeof(Header)) {
    return make_error(ErrorCode::corrupt, who + " is corrupt: its shared memory is " + std::to_string(file_size) +
                                              " bytes, smaller than a header");
  }
  if (h.magic != kMagic) {
    return make_error(ErrorCode::corrupt, who + " is corrupt or not a framebus channel: bad magic number");
  }
  if (h.layout_version != kLayoutVersion) {
    return make_error(ErrorCode::version_mismatch, who + " has layout version " + std::to_string(h.layout_version) +
                                                       ", this framebus reads version " +
                                                       std::to_string(kLayoutVersion));
  }
  auto bad = [&](std::string_view field, std::uint64_t value) {
    return make_error(ErrorCode::corrupt, who + " is corrupt: header field " + std::string(field) + " = " +
                                              std::to_string(value) + " is invalid");
  };
  if (h.header_bytes != sizeof(Header)) return bad("header_bytes", h.header_bytes);
  if (h.slot_count == 0 || h.slot_count > kMaxSlots) return bad("slot_count", h.slot_count);
  if (h.slot_size == 0 || h.slot_size > kMaxSlotSize) return bad("slot_size", h.slot_size);
  if (h.max_groups != kMaxGroups) return bad("max_groups", h.max_groups);
  if (h.max_participants != kMaxParticipants) return bad("max_participants", h.max_participants);
  if (h.default_policy > static_cast<std::uint32_t>(Policy::drop_newest))
    return bad("default_policy", h.default_policy);
  const LayoutPlan plan = plan_layout(h.slot_count, h.slot_size);
  if (h.participants_offset != plan.participants_offset) return bad("participants_offset", h.participants_offset);
  if (h.groups_offset != plan.groups_offset) return bad("groups_offset", h.groups_offset);
  if (h.slots_offset != plan.slots_offset) return bad("slots_offset", h.slots_offset);
  if (h.free_stack_offset != plan.free_stack_offset) return bad("free_stack_offset", h.free_stack_offset);
  if (h.queues_offset != plan.queues_offset) return bad("queues_offset", h.queues_offset);
  if (h.control_bytes != plan.control_bytes) return bad("control_bytes", h.control_bytes);
  if (h.slot_stride != plan.slot_stride) return bad("slot_stride", h.slot_stride);
  if (h.total_bytes != plan.total_bytes) return bad("total_bytes", h.total_bytes);
  if (h.total_bytes != file_size) {
    return make_error(ErrorCode::corrupt, who + " is corrupt: header says " + std::to_string(h.total_bytes) +
                                              " bytes but the shared memory has " + std::to_string(file_size));
  }
  return {};
}

Segment::Segment(Segment&& other) noexcept { *this = std::move(other); }

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
    owner_uid_ = other.owner_uid_;
    dev_ = other.dev_;
    ino_ = other.ino_;
    name_ = std::move(other.name_);
    path_ = std::move(other.path_);
    control_map_ = std::exchange(other.control_map_, nullptr);
    control_len_ = std::exchange(other.control_len_, 0);
    data_map_ = std::exchange(other.data_map_, nullptr);
    data_len_ = std::exchange(other.data_len_, 0);
    header_ = std::exchange(other.header_, nullptr);
    participants_ = other.participants_;
    groups_ = other.groups_;
    slots_ = other.slots_;
    free_stack_ = other.free_stack_;
    queues_ = other.queues_;
    data_ = other.data_;
    slot_count_ = other.slot_count_;
    slot_size_ = other.slot_size_;
    slot_stride_ = other.slot_stride_;
  }
  return *this;
}

Segment::~Segment() { reset(); }

void Segment::reset() noexcept {
  if (data_map_ != nullptr) ::munmap(data_map_, data_len_);
  if (control_map_ != nullptr) ::munmap(control_map_, control_len_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  control_map_ = data_map_ = nullptr;
  header_ = nullptr;
}

Removal remove_if_same_file(int fd, const std::string& path, const std::function<bool()>& still_removable,
                            int lock_attempts) {
  if (fd < 0) return Removal::not_same;
  for (int attempt = 1;; ++attempt) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) break;
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK || attempt >= lock_attempts) return Removal::busy;
    const timespec pause{0, 1'000'000};
    ::nanosleep(&pause, nullptr);
  }
  Removal result = Removal::not_same;
  int err = 0;
  struct stat mine {};
  struct stat named {};
  if (::fstat(fd, &mine) == 0 && ::stat(path.c_str(), &named) == 0 && named.st_dev == mine.st_dev &&
      named.st_ino == mine.st_ino) {
    if (still_removable && !still_removable()) {
      result = Removal::declined;
    } else if (::unlink(path.c_str()) == 0) {
      result = Removal::removed;
    } else {
      err = errno;
      result = Removal::failed;
    }
  }
  ::flock(fd, LOCK_UN);
  errno = err;
  return result;
}

bool Segment::replaced() const noexcept {
  struct stat st {};
  return ::stat(path_.c_str(), &st) != 0 || st.st_dev != dev_ || st.st_ino != ino_;
}

Removal Segment::remove_if_same(const std::function<bool()>& still_removable, int lock_attempts) const {
  return remove_if_same_file(fd_, path_, still_removable, lock_attempts);
}

void Segment::unlink_if_same() const noexcept {
  // A remover that cannot get the lock leaves the (retired) object: the next sweep or gc, which
  // sees no live participant in it, removes it.
  try {
    (void)remove_if_same(nullptr, kRemoveLockAttempts);
  } catch (...) {
  }
}

Result<Segment> Segment::open(std::string_view name, DataAccess access, std::span<const std::uint32_t> trusted_owners) {
  auto seg = open_any_owner(name, access);
  if (!seg) return seg;
  // The owner of the file that was opened (not of whatever the path names now): another user
  // who created the name first would otherwise receive everything this process publishes, or
  // feed it whatever it likes.
  const std::uint32_t owner = seg->owner_uid_;  // from fstat of the open file, in map_fd
  const uid_t me = ::geteuid();
  if (owner == me || std::find(trusted_owners.begin(), trusted_owners.end(), owner) != trusted_owners.end()) return seg;
  return make_error(ErrorCode::permission_denied,
                    "channel '" + seg->name_ + "' is owned by uid " + std::to_string(owner) +
                        ", not by this user (uid " + std::to_string(me) +
                        "): refusing to join another user's channel; if that user is trusted, add uid " +
                        std::to_string(owner) + " to trusted_owners in the producer's or consumer's options");
}

Result<Segment> Segment::open_any_owner(std::string_view name, DataAccess access) {
  if (auto ok = validate_name(name); !ok) return tl::unexpected(ok.error());
  Segment seg;
  seg.name_ = std::string(name);
  seg.path_ = channel_path(name);
  const std::string who = "channel '" + seg.name_ + "'";
  seg.fd_ = ::open(seg.path_.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (seg.fd_ < 0) {
    const int err = errno;
    if (err == ENOENT) return make_error(ErrorCode::not_found, who + " does not exist (no " + seg.path_ + ")");
    if (err == EACCES || err == EPERM) {
      struct stat st {};
      std::string detail;
      if (::stat(seg.path_.c_str(), &st) == 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        detail = " (owner uid " + std::to_string(st.st_uid) + ", mode " + mode + ")";
      }
      return make_error(ErrorCode::permission_denied, "permission denied opening " + who + detail);
    }
    if (err == ELOOP) return make_error(ErrorCode::corrupt, who + " is a symbolic link, refused");
    return tl::unexpected(system_error("cannot open", seg.path_, err));
  }
  return map_fd(std::exchange(seg.fd_, -1), name, access);
}

Result<Segment> Segment::map_fd(int fd, std::string_view name, DataAccess access) {
  Segment seg;
  seg.fd_ = fd;
  seg.name_ = std::string(name);
  seg.path_ = channel_path(name);
  const std::string who = "channel '" + seg.name_ + "'";
  struct stat st {};
  if (::fstat(seg.fd_, &st) != 0) return tl::unexpected(system_error("cannot stat", seg.path_, errno));
  if (!S_ISREG(st.st_mode)) return make_error(ErrorCode::corrupt, who + " is not a regular shared-memory object");
  seg.dev_ = st.st_dev;
  seg.ino_ = st.st_ino;
  seg.owner_uid_ = st.st_uid;
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  if (file_size < kPageSize) {
    return make_error(ErrorCode::corrupt,
                      who + " is corrupt: its shared memory is only " + std::to_string(file_size) + " bytes");
  }

  // Validate the header from a private copy before trusting any size in it for a mapping.
  Header copy;
  if (::pread(seg.fd_, &copy, sizeof copy, 0) != static_cast<ssize_t>(sizeof copy)) {
    return tl::unexpected(system_error("cannot read header of", seg.path_, errno));
  }
  if (auto ok = validate_header(copy, file_size, name); !ok) return tl::unexpected(ok.error());

  seg.control_len_ = copy.control_bytes;
  seg.data_len_ = copy.total_bytes - copy.control_bytes;
  seg.control_map_ = ::mmap(nullptr, seg.control_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, seg.fd_, 0);
  if (seg.control_map_ == MAP_FAILED) {
    seg.control_map_ = nullptr;
    return tl::unexpected(system_error("cannot map", seg.path_, errno));
  }
  if (access != DataAccess::none) {
    const int data_prot = access == DataAccess::read_write ? PROT_READ | PROT_WRITE : PROT_READ;
    // MAP_POPULATE pre-faults every page once here, so no message pays a page fault later.
    seg.data_map_ = ::mmap(nullptr, seg.data_len_, data_prot, MAP_SHARED | MAP_POPULATE, seg.fd_,
                           static_cast<off_t>(copy.control_bytes));
    if (seg.data_map_ == MAP_FAILED) {
      seg.data_map_ = nullptr;
      return tl::unexpected(system_error("cannot map payloads of", seg.path_, errno));
    }
  }
  auto* base = static_cast<std::byte*>(seg.control_map_);
  seg.header_ = reinterpret_cast<Header*>(base);
  // Re-validate from the mapping: the geometry we index with must be the one we checked.
  if (std::memcmp(&copy, seg.header_, offsetof(Header, lock)) != 0) {
    return make_error(ErrorCode::corrupt, who + " is corrupt: its header changed while it was being opened");
  }
  seg.participants_ = reinterpret_cast<ParticipantCtl*>(base + copy.participants_offset);
  seg.groups_ = reinterpret_cast<GroupCtl*>(base + copy.groups_offset);
  seg.slots_ = reinterpret_cast<SlotCtl*>(base + copy.slots_offset);
  seg.free_stack_ = reinterpret_cast<std::uint32_t*>(base + copy.free_stack_offset);
  seg.queues_ = reinterpret_cast<std::uint32_t*>(base + copy.queues_offset);
  seg.data_ = static_cast<std::byte*>(seg.data_map_);
  seg.slot_count_ = copy.slot_count;
  seg.slot_size_ = copy.slot_size;
  seg.slot_stride_ = copy.slot_stride;
  return seg;
}

Result<Segment> Segment::create(std::string_view name, Geometry geometry, std::uint32_t mode, Policy default_policy,
                                const std::vector<GroupSpec>& groups, std::uint64_t creator_identity,
                                std::int64_t group_grace_ns) {
  if (auto ok = validate_name(name); !ok) return tl::unexpected(ok.error());
  const std::string path = channel_path(name);
  const LayoutPlan plan = plan_layout(geometry.slot_count, geometry.slot_size);
  remove_abandoned_creations(name);

  std::random_device rd;
  const std::string tmp = path + ".creating-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
  const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 0777);
  if (fd < 0) return tl::unexpected(system_error("cannot create", tmp, errno));
  auto fail = [&](Error e) -> Result<Segment> {
    ::close(fd);
    ::unlink(tmp.c_str());
    return tl::unexpected(std::move(e));
  };
  // The umask must not narrow what the caller asked for.
  if (::fchmod(fd, mode & 0777) != 0) return fail(system_error("cannot chmod", tmp, errno));
  // Reserve the memory now: a full /dev/shm is an error here, not a SIGBUS on some later frame.
  if (const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(plan.total_bytes)); err != 0) {
    return fail(Error(err == ENOSPC ? ErrorCode::limit_reached : ErrorCode::system,
                      "cannot reserve " + std::to_string(plan.total_bytes) + " bytes for channel '" +
                          std::string(name) + "' in /dev/shm: " + errno_text(err)));
  }
  void* map = ::mmap(nullptr, plan.control_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return fail(system_error("cannot map", tmp, errno));
  auto* base = static_cast<std::byte*>(map);
  auto* h = new (base) Header{};
  h->magic = kMagic;
  h->layout_version = kLayoutVersion;
  h->header_bytes = sizeof(Header);
  h->total_bytes = plan.total_bytes;
  h->control_bytes = plan.control_bytes;
  h->slot_count = geometry.slot_count;
  h->max_groups = kMaxGroups;
  h->max_participants = kMaxParticipants;
  h->default_policy = static_cast<std::uint32_t>(default_policy);
  h->slot_size = geometry.slot_size;
  h->slot_stride = plan.slot_stride;
  h->participants_offset = plan.participants_offset;
  h->groups_offset = plan.groups_offset;
  h->slots_offset = plan.slots_offset;
  h->free_stack_offset = plan.free_stack_offset;
  h->queues_offset = plan.queues_offset;
  h->creator_uid = ::geteuid();
  h->mode = mode & 0777;
  h->created_ns = monotonic_ns();
  h->group_grace_ns = group_grace_ns;
  h->state.store(kChannelLive, std::memory_order_relaxed);
  h->free_count = geometry.slot_count;
  h->next_seq = 1;
  for (std::uint32_t i = 0; i < kMaxParticipants; ++i) {
    new (base + plan.participants_offset + i * sizeof(ParticipantCtl)) ParticipantCtl{};
  }
  // The creator holds entry 0 from the first moment the name exists, so nobody can mistake the
  // new channel for one left behind by dead processes.
  reinterpret_cast<ParticipantCtl*>(base + plan.participants_offset)->identity.store(creator_identity);
  for (std::uint32_t i = 0; i < kMaxGroups; ++i) {
    auto* g = new (base + plan.groups_offset + i * sizeof(GroupCtl)) GroupCtl{};
    if (i < groups.size()) {
      g->active = 1;
      h->active_groups |= 1U << i;
      g->policy = static_cast<std::uint32_t>(groups[i].policy.value_or(default_policy));
      g->declared = 1;
      g->max_deliveries = groups[i].max_deliveries;
      copy_group_name(*g, groups[i].name);
    }
  }
  auto* free_stack = reinterpret_cast<std::uint32_t*>(base + plan.free_stack_offset);
  for (std::uint32_t i = 0; i < geometry.slot_count; ++i) {
    new (base + plan.slots_offset + i * sizeof(SlotCtl)) SlotCtl{};
    // Pop order 0, 1, 2...: slot 0 on top.
    free_stack[i] = geometry.slot_count - 1 - i;
  }
  ::munmap(map, plan.control_bytes);

  // Publish the finished object under its real name; link fails if the name was taken meanwhile.
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    if (err == EEXIST)
      return make_error(ErrorCode::already_exists, "channel '" + std::string(name) + "' already exists");
    return tl::unexpected(system_error("cannot publish", path, err));
  }
  ::unlink(tmp.c_str());
  return map_fd(fd, name, DataAccess::read_write);
}

}  // namespace framebus::detail
