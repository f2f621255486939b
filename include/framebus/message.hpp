#pragma once
/// @file message.hpp
/// What a message carries besides its payload bytes: identity, timing and payload description.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "framebus/error.hpp"

namespace framebus {

/// How the payload bytes are to be interpreted.
enum class PayloadKind : std::uint32_t {
  bytes = 0,   ///< Opaque bytes.
  image = 1,   ///< A picture: see ImageDesc.
  tensor = 2,  ///< An n-dimensional array: see TensorDesc.
};

/// Pixel layouts of image payloads.
enum class PixelFormat : std::uint32_t {
  unknown = 0,
  bgr24 = 1,    ///< Packed 8-bit B,G,R; one plane.
  rgb24 = 2,    ///< Packed 8-bit R,G,B; one plane.
  gray8 = 3,    ///< 8-bit luma; one plane.
  nv12 = 4,     ///< Y plane, then interleaved UV plane at half resolution.
  yuv420p = 5,  ///< Y, U, V planes; U and V at half resolution.
};

/// Element types of tensor payloads (the names follow NumPy's). The values, 0 for `unknown`
/// and counting up in this order, are stored in shared memory and in result records: a new type
/// is appended, never inserted.
// clang-format off
enum class DType : std::uint32_t {
  unknown,
  uint8, int8, uint16, int16, uint32, int32, uint64, int64,
  float16, float32, float64,
  bool8,
};
// clang-format on
static_assert(static_cast<std::uint32_t>(DType::bool8) == 12, "DType values are part of the shared-memory layout");

std::string_view to_string(PayloadKind kind) noexcept;
std::string_view to_string(PixelFormat format) noexcept;
std::string_view to_string(DType dtype) noexcept;
/// The names to_string() gives ("bgr24", "float32", ...); anything else is invalid_argument.
Result<PixelFormat> parse_pixel_format(std::string_view text);
Result<DType> parse_dtype(std::string_view text);
/// Size in bytes of one element; 0 for DType::unknown.
std::size_t dtype_size(DType dtype) noexcept;

inline constexpr std::size_t kMaxPlanes = 4;
inline constexpr std::size_t kMaxDims = 8;
/// Capacity of the user blob carried with every message.
inline constexpr std::size_t kUserMetaCapacity = 512;

/// Geometry of an image payload. Plane offsets are relative to the payload start.
struct ImageDesc {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  PixelFormat format = PixelFormat::unknown;
  std::uint32_t plane_count = 0;
  std::array<std::uint64_t, kMaxPlanes> plane_offset{};
  std::array<std::uint32_t, kMaxPlanes> stride{};  ///< Bytes per row of each plane.

  /// A tightly packed image (rows aligned to `row_align` bytes) of the given format.
  static ImageDesc packed(std::uint32_t width, std::uint32_t height, PixelFormat format,
                          std::uint32_t row_align = 1) noexcept;
  /// Bytes needed to hold the image as described; UINT64_MAX when that overflows 64 bits (such
  /// a description fits no payload).
  [[nodiscard]] std::uint64_t byte_size() const noexcept;
  /// byte_size() with overflow reported: ErrorCode::invalid_argument naming the field that makes
  /// the size wrap (a description that lies about its size must not pass a bounds check).
  [[nodiscard]] Result<std::uint64_t> checked_byte_size() const;
};

/// Shape and element type of a tensor payload (C order, dense).
struct TensorDesc {
  DType dtype = DType::unknown;
  std::uint32_t ndim = 0;
  std::array<std::uint64_t, kMaxDims> shape{};

  /// Product of the shape; UINT64_MAX when it overflows 64 bits.
  [[nodiscard]] std::uint64_t element_count() const noexcept;
  /// element_count() × the dtype's size; UINT64_MAX when that overflows 64 bits.
  [[nodiscard]] std::uint64_t byte_size() const noexcept;
  /// byte_size() with overflow reported: ErrorCode::invalid_argument naming the field. Also
  /// refused: a shape whose strides (the product of its non-zero dimensions, in bytes) exceed
  /// INT64_MAX, which no array view can express, even when a zero dimension makes it empty.
  [[nodiscard]] Result<std::uint64_t> checked_byte_size() const;
};

/// Checks that a message's description (kind, image or tensor) is well formed and lies within
/// `payload_size` bytes, with overflow-checked arithmetic. The error (ErrorCode::invalid_argument)
/// names the field that is wrong; `who` starts it ("message for channel 'x'").
Result<void> check_description(PayloadKind kind, const ImageDesc& image, const TensorDesc& tensor,
                               std::uint64_t payload_size, std::string_view who);

/// Message flags (bit set).
namespace flags {
inline constexpr std::uint32_t kEndOfStream = 1U << 0;  ///< Marker: no more messages on `stream`.
inline constexpr std::uint32_t kKeyFrame = 1U << 1;     ///< Informational, set by decoders.
inline constexpr std::uint32_t kUserBase = 1U << 16;    ///< Bits from here up are free for users.
}  // namespace flags

/// Everything a producer says about a message besides its payload bytes.
struct MessageMeta {
  std::uint32_t stream = 0;  ///< Which video stream (camera) the message belongs to.
  std::uint64_t frame = 0;   ///< Frame number within the stream.
  std::int64_t pts = 0;      ///< Presentation time stamp, in the unit the producer chooses.
  std::uint32_t flags = 0;   ///< See framebus::flags.
  PayloadKind kind = PayloadKind::bytes;
  ImageDesc image{};                  ///< Valid when kind == PayloadKind::image.
  TensorDesc tensor{};                ///< Valid when kind == PayloadKind::tensor.
  std::span<const std::byte> user{};  ///< Up to kUserMetaCapacity bytes copied into the message.
};

}  // namespace framebus
