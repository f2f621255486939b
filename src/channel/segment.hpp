#pragma once
// A channel's shared-memory object: creating it atomically, opening and validating it, mapping it.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "channel/layout.hpp"
#include "framebus/channel/options.hpp"
#include "framebus/error.hpp"

namespace framebus::detail {

struct Geometry {
  std::uint32_t slot_count{};
  std::uint64_t slot_size{};
};

/// Sizes and offsets of every region for a geometry; the single source of the layout arithmetic
/// (plan_layout fills every field).
struct LayoutPlan {
  std::uint64_t participants_offset{};
  std::uint64_t groups_offset{};
  std::uint64_t slots_offset{};
  std::uint64_t free_stack_offset{};
  std::uint64_t queues_offset{};
  std::uint64_t control_bytes{};
  std::uint64_t slot_stride{};
  std::uint64_t total_bytes{};
};
LayoutPlan plan_layout(std::uint32_t slot_count, std::uint64_t slot_size) noexcept;

/// What an attempt to remove a channel's name did.
enum class Removal {
  removed,   ///< The name referred to the object checked, and is gone.
  not_same,  ///< The name is gone or refers to another object (a newer channel): left alone.
  declined,  ///< The caller's check, made under the lock, said no.
  busy,      ///< Another remover held the object's lock for every attempt.
  failed,    ///< unlink() failed; errno says why.
};

/// Attempts (about 1 ms apart) to take a channel's removal lock before giving up: bounded, so a
/// remover that was stopped (SIGSTOP) while holding it never hangs anyone.
inline constexpr int kRemoveLockAttempts = 200;

/// The one way a channel's name is removed (last participant leaving, reclaiming a channel left
/// by dead processes, gc, the sweep, remove_channel): under an exclusive flock() on `fd` (the
/// open object that was checked), confirm that `path` still names that very object (device and
/// inode of stat(path) equal fstat(fd)), ask `still_removable`, and only then unlink(path).
/// A new object can appear at `path` only after the old one was unlinked (creation is a link(),
/// which fails while the name exists), and every remover of the old object holds its flock, so
/// while the lock is held the check cannot go stale. flock is taken with LOCK_NB, retried up to
/// `lock_attempts` times. errno is preserved from a failed unlink().
Removal remove_if_same_file(int fd, const std::string& path, const std::function<bool()>& still_removable,
                            int lock_attempts);

/// One process's mapping of a channel. Move-only; unmaps and closes on destruction.
class Segment {
 public:
  /// How the payload area is mapped: writable (producers), read-only (consumers), or not at all
  /// (inspection reads only the control area, and must not fault in every slot to do so).
  enum class DataAccess { read_write, read_only, none };

  /// Creates a fully initialised channel under `name`, published atomically (link of a finished
  /// temporary object), so no process ever sees a half-written header.
  /// Returns ErrorCode::already_exists if the name is taken.
  static Result<Segment> create(std::string_view name, Geometry geometry, std::uint32_t mode, Policy default_policy,
                                const std::vector<GroupSpec>& groups, std::uint64_t creator_identity,
                                std::int64_t group_grace_ns);
  /// Opens and validates an existing channel to join it. The opened file must belong to this
  /// process's effective uid or to one of `trusted_owners` (checked with fstat on the open file,
  /// not on the path), else ErrorCode::permission_denied naming the owner.
  static Result<Segment> open(std::string_view name, DataAccess access, std::span<const std::uint32_t> trusted_owners);
  /// Opens and validates an existing channel whoever owns it: introspection and clean-up only.
  static Result<Segment> open_any_owner(std::string_view name, DataAccess access);

  Segment() = default;
  // Move-only: the declared moves leave the copies deleted.
  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&& other) noexcept;
  ~Segment();

  [[nodiscard]] Header& header() const noexcept { return *header_; }
  [[nodiscard]] ParticipantCtl& participant(std::uint32_t index) const noexcept { return participants_[index]; }
  [[nodiscard]] GroupCtl& group(std::uint32_t index) const noexcept { return groups_[index]; }
  [[nodiscard]] SlotCtl& slot(std::uint32_t index) const noexcept { return slots_[index]; }
  [[nodiscard]] std::uint32_t* free_stack() const noexcept { return free_stack_; }
  /// Queue storage of group `index` (kLobby for the lobby).
  [[nodiscard]] std::uint32_t* queue(std::uint32_t index) const noexcept {
    return queues_ + std::uint64_t{index} * slot_count_;
  }
  [[nodiscard]] std::byte* slot_base(std::uint32_t index) const noexcept {
    return data_ + std::uint64_t{index} * slot_stride_;
  }
  [[nodiscard]] const SlotMeta& meta(std::uint32_t index) const noexcept {
    return *reinterpret_cast<const SlotMeta*>(slot_base(index));
  }
  /// For the producer holding the slot's loan (Channel::publish), and nobody else.
  [[nodiscard]] SlotMeta& loaned_meta(std::uint32_t index) const noexcept {
    return *reinterpret_cast<SlotMeta*>(slot_base(index));
  }
  [[nodiscard]] std::byte* payload(std::uint32_t index) const noexcept { return slot_base(index) + kSlotMetaBytes; }

  [[nodiscard]] std::uint32_t slot_count() const noexcept { return slot_count_; }
  [[nodiscard]] std::uint64_t slot_size() const noexcept { return slot_size_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] bool valid() const noexcept { return header_ != nullptr; }
  /// False for inspection mappings (DataAccess::none): slot metadata and payloads are not mapped.
  [[nodiscard]] bool data_mapped() const noexcept { return data_ != nullptr; }

  /// Removes the name if it still refers to this object (not to a newer channel of that name),
  /// as remove_if_same() does, waiting up to about kRemoveLockWaitMs for the object's lock.
  void unlink_if_same() const noexcept;
  /// True when the name no longer refers to this object (removed, or replaced by a newer channel).
  [[nodiscard]] bool replaced() const noexcept;
  /// Removes the name if it still refers to this object and `still_removable` (called under the
  /// lock; null means yes) agrees. See remove_if_same_file().
  Removal remove_if_same(const std::function<bool()>& still_removable, int lock_attempts) const;
  /// uid that owns the object (from fstat of the open file).
  [[nodiscard]] std::uint32_t owner_uid() const noexcept { return owner_uid_; }

 private:
  static Result<Segment> map_fd(int fd, std::string_view name, DataAccess access);
  void reset() noexcept;
  int fd_ = -1;
  std::uint32_t owner_uid_ = 0;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::string name_;
  std::string path_;
  void* control_map_ = nullptr;
  std::uint64_t control_len_ = 0;
  void* data_map_ = nullptr;
  std::uint64_t data_len_ = 0;
  Header* header_ = nullptr;
  ParticipantCtl* participants_ = nullptr;
  GroupCtl* groups_ = nullptr;
  SlotCtl* slots_ = nullptr;
  std::uint32_t* free_stack_ = nullptr;
  std::uint32_t* queues_ = nullptr;
  std::byte* data_ = nullptr;
  std::uint32_t slot_count_ = 0;
  std::uint64_t slot_size_ = 0;
  std::uint64_t slot_stride_ = 0;
};

/// Validates the immutable part of a header against the object's real size; the message names
/// the field that is wrong. Shared by open and by introspection.
Result<void> validate_header(const Header& header, std::uint64_t file_size, std::string_view name);

}  // namespace framebus::detail
