#pragma once
// A channel's shared-memory object: creating it atomically, opening and validating it, mapping it.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "channel/layout.hpp"
#include "framebus/error.hpp"
#include "framebus/options.hpp"

namespace framebus::detail {

struct Geometry {
  std::uint32_t slot_count = 0;
  std::uint64_t slot_size = 0;
};

/// Sizes and offsets of every region for a geometry; the single source of the layout arithmetic.
struct LayoutPlan {
  std::uint64_t participants_offset = 0;
  std::uint64_t groups_offset = 0;
  std::uint64_t slots_offset = 0;
  std::uint64_t free_stack_offset = 0;
  std::uint64_t queues_offset = 0;
  std::uint64_t control_bytes = 0;
  std::uint64_t slot_stride = 0;
  std::uint64_t total_bytes = 0;
};
LayoutPlan plan_layout(std::uint32_t slot_count, std::uint64_t slot_size) noexcept;

/// One process's mapping of a channel. Move-only; unmaps and closes on destruction.
class Segment {
 public:
  /// How the payload area is mapped: writable (producers), read-only (consumers), or not at all
  /// (inspection reads only the control area, and must not fault in every slot to do so).
  enum class DataAccess { read_write, read_only, none };

  /// Creates a fully initialised channel under `name`, published atomically (link of a finished
  /// temporary object), so no process ever sees a half-written header.
  /// Returns ErrorCode::already_exists if the name is taken.
  static Result<Segment> create(std::string_view name, Geometry geometry, std::uint32_t mode,
                                Policy default_policy, const std::vector<GroupSpec>& groups,
                                std::uint64_t creator_identity, std::int64_t group_grace_ns);
  /// Opens and validates an existing channel.
  static Result<Segment> open(std::string_view name, DataAccess access);

  Segment() = default;
  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&& other) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
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
  [[nodiscard]] std::byte* payload(std::uint32_t index) const noexcept { return slot_base(index) + kSlotMetaBytes; }

  [[nodiscard]] std::uint32_t slot_count() const noexcept { return slot_count_; }
  [[nodiscard]] std::uint64_t slot_size() const noexcept { return slot_size_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] bool valid() const noexcept { return header_ != nullptr; }
  /// False for inspection mappings (DataAccess::none): slot metadata and payloads are not mapped.
  [[nodiscard]] bool data_mapped() const noexcept { return data_ != nullptr; }

  /// Removes the name if it still refers to this object (not to a newer channel of that name).
  void unlink_if_same() const noexcept;
  /// True when the name no longer refers to this object (removed, or replaced by a newer channel).
  [[nodiscard]] bool replaced() const noexcept;

 private:
  static Result<Segment> map_fd(int fd, std::string_view name, DataAccess access);
  void reset() noexcept;
  int fd_ = -1;
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
