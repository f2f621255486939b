#include "framebus/message.hpp"

namespace framebus {

std::string_view to_string(PixelFormat format) noexcept {
  switch (format) {
    case PixelFormat::unknown: return "unknown";
    case PixelFormat::bgr24: return "bgr24";
    case PixelFormat::rgb24: return "rgb24";
    case PixelFormat::gray8: return "gray8";
    case PixelFormat::nv12: return "nv12";
    case PixelFormat::yuv420p: return "yuv420p";
  }
  return "unknown";
}

std::string_view to_string(DType dtype) noexcept {
  switch (dtype) {
    case DType::unknown: return "unknown";
    case DType::uint8: return "uint8";
    case DType::int8: return "int8";
    case DType::uint16: return "uint16";
    case DType::int16: return "int16";
    case DType::uint32: return "uint32";
    case DType::int32: return "int32";
    case DType::uint64: return "uint64";
    case DType::int64: return "int64";
    case DType::float16: return "float16";
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::bool8: return "bool";
  }
  return "unknown";
}

std::size_t dtype_size(DType dtype) noexcept {
  switch (dtype) {
    case DType::uint8: case DType::int8: case DType::bool8: return 1;
    case DType::uint16: case DType::int16: case DType::float16: return 2;
    case DType::uint32: case DType::int32: case DType::float32: return 4;
    case DType::uint64: case DType::int64: case DType::float64: return 8;
    case DType::unknown: return 0;
  }
  return 0;
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
    d.plane_offset[i] = i == 0 ? 0 : d.plane_offset[i - 1] + std::uint64_t{d.stride[i - 1]} * (i == 1 ? height : half_h);
    (void)rows;
  };
  switch (format) {
    case PixelFormat::bgr24:
    case PixelFormat::rgb24: add_plane(width * 3, height); break;
    case PixelFormat::gray8: add_plane(width, height); break;
    case PixelFormat::nv12:
      add_plane(width, height);
      add_plane(half_w * 2, half_h);
      break;
    case PixelFormat::yuv420p:
      add_plane(width, height);
      add_plane(half_w, half_h);
      add_plane(half_w, half_h);
      break;
    case PixelFormat::unknown: break;
  }
  return d;
}

std::uint64_t ImageDesc::byte_size() const noexcept {
  if (plane_count == 0 || plane_count > kMaxPlanes) return 0;
  const std::uint64_t half_h = (height + 1) / 2;
  std::uint64_t end = 0;
  for (std::uint32_t i = 0; i < plane_count; ++i) {
    const std::uint64_t rows = i == 0 ? height : half_h;
    const std::uint64_t plane_end = plane_offset[i] + std::uint64_t{stride[i]} * rows;
    if (plane_end > end) end = plane_end;
  }
  return end;
}

std::uint64_t TensorDesc::element_count() const noexcept {
  if (ndim > kMaxDims) return 0;
  std::uint64_t n = 1;
  for (std::uint32_t i = 0; i < ndim; ++i) n *= shape[i];
  return n;
}

std::uint64_t TensorDesc::byte_size() const noexcept { return element_count() * dtype_size(dtype); }

}  // namespace framebus
