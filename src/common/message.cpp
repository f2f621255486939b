#include "framebus/message.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <string>

#include "common/enum_names.hpp"

namespace framebus {

namespace {
constexpr detail::EnumNames<PayloadKind, 3> kPayloadKindNames{{"bytes", "image", "tensor"}};
static_assert(kPayloadKindNames.names.size() == static_cast<std::size_t>(PayloadKind::tensor) + 1,
              "a name for every value");
constexpr detail::EnumNames<PixelFormat, 6> kPixelFormatNames{{"", "bgr24", "rgb24", "gray8", "nv12", "yuv420p"}};
static_assert(kPixelFormatNames.names.size() == static_cast<std::size_t>(PixelFormat::yuv420p) + 1,
              "a name for every value");
constexpr detail::EnumNames<DType, 13> kDTypeNames{{"", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64",
                                                    "int64", "float16", "float32", "float64", "bool"}};
static_assert(kDTypeNames.names.size() == static_cast<std::size_t>(DType::bool8) + 1, "a name for every value");
}  // namespace

std::string_view to_string(PayloadKind kind) noexcept { return detail::name_in(kPayloadKindNames, kind); }
std::string_view to_string(PixelFormat format) noexcept { return detail::name_in(kPixelFormatNames, format); }
std::string_view to_string(DType dtype) noexcept { return detail::name_in(kDTypeNames, dtype); }
Result<PixelFormat> parse_pixel_format(std::string_view text) {
  return detail::parse_in(kPixelFormatNames, text, "pixel format");
}
Result<DType> parse_dtype(std::string_view text) { return detail::parse_in(kDTypeNames, text, "dtype"); }

std::size_t dtype_size(DType dtype) noexcept {
  // Bytes per element, in DType's order: unknown; u8, i8, u16, i16, u32, i32, u64, i64; f16, f32, f64; bool.
  constexpr std::array<std::uint8_t, 13> kSizes{0, 1, 1, 2, 2, 4, 4, 8, 8, 2, 4, 8, 1};
  static_assert(kSizes.size() == static_cast<std::size_t>(DType::bool8) + 1, "one size per DType");
  const auto index = static_cast<std::size_t>(dtype);
  return index < kSizes.size() ? kSizes[index] : 0;
}

namespace {
std::uint32_t align_up(std::uint32_t value, std::uint32_t align) {
  if (align <= 1) return value;
  return (value + align - 1) / align * align;
}
}  // namespace

ImageDesc ImageDesc::packed(std::uint32_t width, std::uint32_t height, PixelFormat format,
                            std::uint32_t row_align) noexcept {
  ImageDesc d;
  d.width = width;
  d.height = height;
  d.format = format;
  const std::uint32_t half_w = (width + 1) / 2;
  const std::uint32_t half_h = (height + 1) / 2;
  auto add_plane = [&](std::uint32_t row_bytes, std::uint32_t rows) {
    const std::uint32_t i = d.plane_count++;
    d.stride[i] = align_up(row_bytes, row_align);
    d.plane_offset[i] =
        i == 0 ? 0 : d.plane_offset[i - 1] + std::uint64_t{d.stride[i - 1]} * (i == 1 ? height : half_h);
    (void)rows;
  };
  switch (format) {
    case PixelFormat::bgr24:
    case PixelFormat::rgb24:
      add_plane(width * 3, height);
      break;
    case PixelFormat::gray8:
      add_plane(width, height);
      break;
    case PixelFormat::nv12:
      add_plane(width, height);
      add_plane(half_w * 2, half_h);
      break;
    case PixelFormat::yuv420p:
      add_plane(width, height);
      add_plane(half_w, half_h);
      add_plane(half_w, half_h);
      break;
    case PixelFormat::unknown:
      break;
  }
  return d;
}

namespace {
constexpr std::uint64_t kOverflow = UINT64_MAX;

std::string field(std::string_view name, std::size_t index) {
  return std::string(name) + "[" + std::to_string(index) + "]";
}

Error overflow(std::string_view what, const std::string& name) {
  return Error(ErrorCode::invalid_argument, std::string(what) + ": " + name + " makes the size overflow 64 bits");
}
}  // namespace

// Every sum and product below is checked: a description comes from a producer (or from shared
// memory a hostile one wrote), and a size that wraps around would pass any bounds check.
Result<std::uint64_t> ImageDesc::checked_byte_size() const {
  if (plane_count == 0 || plane_count > kMaxPlanes) {
    return make_error(ErrorCode::invalid_argument, "image: plane_count = " + std::to_string(plane_count) +
                                                       " is not 1.." + std::to_string(kMaxPlanes));
  }
  const std::uint64_t half_h = (std::uint64_t{height} + 1) / 2;
  std::uint64_t end = 0;
  for (std::uint32_t i = 0; i < plane_count; ++i) {
    const std::uint64_t rows = i == 0 ? height : half_h;
    std::uint64_t plane_bytes = 0;
    std::uint64_t plane_end = 0;
    if (__builtin_mul_overflow(std::uint64_t{stride[i]}, rows, &plane_bytes))
      return tl::unexpected(overflow("image", field("stride", i)));
    if (__builtin_add_overflow(plane_offset[i], plane_bytes, &plane_end)) {
      return tl::unexpected(overflow("image", field("plane_offset", i)));
    }
    end = std::max(end, plane_end);
  }
  return end;
}

std::uint64_t ImageDesc::byte_size() const noexcept {
  if (plane_count == 0 || plane_count > kMaxPlanes) return 0;
  auto size = checked_byte_size();
  return size ? *size : kOverflow;
}

Result<std::uint64_t> TensorDesc::checked_byte_size() const {
  if (ndim > kMaxDims) {
    return make_error(ErrorCode::invalid_argument,
                      "tensor: ndim = " + std::to_string(ndim) + " exceeds " + std::to_string(kMaxDims));
  }
  const std::uint64_t item = dtype_size(dtype);
  // `span` is what the strides of a C-order view reach: the product of the non-zero dimensions.
  std::uint64_t span = item == 0 ? 1 : item;
  bool empty = false;
  for (std::uint32_t i = ndim; i-- > 0;) {
    if (shape[i] == 0) {
      empty = true;
      continue;
    }
    if (__builtin_mul_overflow(span, shape[i], &span) || span > static_cast<std::uint64_t>(INT64_MAX)) {
      return tl::unexpected(overflow("tensor", field("shape", i)));
    }
  }
  return empty ? 0 : span;
}

std::uint64_t TensorDesc::element_count() const noexcept {
  if (ndim > kMaxDims) return 0;
  std::uint64_t n = 1;
  for (std::uint32_t i = 0; i < ndim; ++i) {
    if (__builtin_mul_overflow(n, shape[i], &n)) return kOverflow;
  }
  return n;
}

std::uint64_t TensorDesc::byte_size() const noexcept {
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(element_count(), std::uint64_t{dtype_size(dtype)}, &bytes)) return kOverflow;
  return bytes;
}

Result<void> check_description(PayloadKind kind, const ImageDesc& image, const TensorDesc& tensor,
                               std::uint64_t payload_size, std::string_view who) {
  auto fail = [&](const std::string& what) {
    return make_error(ErrorCode::invalid_argument, std::string(who) + ": " + what);
  };
  auto fits = [&](const Result<std::uint64_t>& size, const char* what) -> Result<void> {
    if (!size) return fail(size.error().message());
    if (*size > payload_size) {
      return fail(std::string(what) + " of " + std::to_string(*size) + " bytes does not fit the payload of " +
                  std::to_string(payload_size));
    }
    return {};
  };
  switch (kind) {
    case PayloadKind::bytes:
      return {};
    case PayloadKind::image: {
      if (image.plane_count == 0 || image.plane_count > kMaxPlanes || image.format == PixelFormat::unknown) {
        return fail("image needs a pixel format and 1.." + std::to_string(kMaxPlanes) + " planes");
      }
      return fits(image.checked_byte_size(), "image");
    }
    case PayloadKind::tensor: {
      if (tensor.ndim > kMaxDims || dtype_size(tensor.dtype) == 0) {
        return fail("tensor needs a dtype and at most " + std::to_string(kMaxDims) + " dimensions");
      }
      return fits(tensor.checked_byte_size(), "tensor");
    }
  }
  return fail("unknown payload kind " + std::to_string(static_cast<std::uint32_t>(kind)));
}

}  // namespace framebus
