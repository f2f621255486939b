// A minimal reader of the protobuf wire format, enough to walk ONNX's ModelProto, GraphProto and
// ValueInfoProto (field numbers from onnx/onnx.proto). Every length is checked against the bytes
// that are left, so a truncated or foreign file is an error, never a read out of bounds.
#include "classify/onnx_probe.hpp"

#include <optional>
#include <set>

namespace framebus::detail {
namespace {

enum Wire : std::uint32_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

struct Field {
  std::uint32_t number = 0;
  std::uint32_t wire = 0;
  std::uint64_t varint = 0;
  std::string_view bytes;  // kBytes only
};

// Reads the fields of one message. `base` is the message's offset in the file, for messages.
class Reader {
 public:
  Reader(std::string_view bytes, std::size_t base) : bytes_(bytes), base_(base) {}

  [[nodiscard]] bool done() const noexcept { return pos_ >= bytes_.size(); }
  [[nodiscard]] std::size_t offset() const noexcept { return base_ + pos_; }

  // The next field, or a reason why the bytes are not protobuf.
  Result<Field> next() {
    const std::size_t start = offset();
    auto key = varint();
    if (!key) return truncated(start, "field key");
    Field f;
    f.number = static_cast<std::uint32_t>(*key >> 3U);
    f.wire = static_cast<std::uint32_t>(*key & 7U);
    if (f.number == 0) return bad(start, "field number 0");
    switch (f.wire) {
      case kVarint: {
        auto v = varint();
        if (!v) return truncated(start, "varint");
        f.varint = *v;
        return f;
      }
      case kFixed64:
        return skip(start, f, 8);
      case kFixed32:
        return skip(start, f, 4);
      case kBytes: {
        auto len = varint();
        if (!len) return truncated(start, "length");
        if (*len > bytes_.size() - pos_) {
          return bad(start, "field " + std::to_string(f.number) + " claims " + std::to_string(*len) +
                                " bytes but only " + std::to_string(bytes_.size() - pos_) +
                                " are left (truncated file?)");
        }
        f.bytes = bytes_.substr(pos_, static_cast<std::size_t>(*len));
        pos_ += static_cast<std::size_t>(*len);
        return f;
      }
      default:
        return bad(start, "wire type " + std::to_string(f.wire) + " (not a protobuf message)");
    }
  }

  // Where the bytes of a nested message (from next()) start in the file.
  [[nodiscard]] std::size_t offset_of(const Field& f) const noexcept {
    return base_ + static_cast<std::size_t>(f.bytes.data() - bytes_.data());
  }

 private:
  std::optional<std::uint64_t> varint() {
    std::uint64_t value = 0;
    for (unsigned shift = 0; shift < 64 && pos_ < bytes_.size(); shift += 7) {
      const auto byte = static_cast<std::uint8_t>(bytes_[pos_++]);
      value |= std::uint64_t{byte & 0x7FU} << shift;
      if ((byte & 0x80U) == 0) return value;
    }
    return std::nullopt;
  }
  Result<Field> skip(std::size_t start, Field f, std::size_t n) {
    if (n > bytes_.size() - pos_) return truncated(start, "fixed-size value");
    pos_ += n;
    return f;
  }
  static tl::unexpected<Error> bad(std::size_t at, const std::string& what) {
    return make_error(ErrorCode::corrupt, "byte " + std::to_string(at) + ": " + what);
  }
  static tl::unexpected<Error> truncated(std::size_t at, const char* what) {
    return bad(at, std::string(what) + " cut short (truncated file?)");
  }

  std::string_view bytes_;
  std::size_t base_;
  std::size_t pos_ = 0;
};

// Calls `on_field` for every field of the message at `bytes`; stops at the first error.
template <typename F>
Result<void> for_each_field(std::string_view bytes, std::size_t base, F&& on_field) {
  Reader r(bytes, base);
  while (!r.done()) {
    auto f = r.next();
    if (!f) return tl::unexpected(f.error());
    if (auto ok = on_field(*f, r.offset_of(*f)); !ok) return ok;
  }
  return {};
}

// TensorShapeProto.Dimension: dim_value = 1, dim_param = 2.
Result<std::int64_t> read_dim(std::string_view bytes, std::size_t base) {
  std::int64_t dim = -1;
  auto ok = for_each_field(bytes, base, [&](const Field& f, std::size_t) -> Result<void> {
    if (f.number == 1 && f.wire == kVarint) dim = static_cast<std::int64_t>(f.varint);
    return {};
  });
  if (!ok) return tl::unexpected(ok.error());
  return dim;
}

// TensorProto.DataType (onnx.proto) as a framebus DType; unknown for the types framebus lacks.
DType onnx_dtype(std::uint64_t elem_type) {
  switch (elem_type) {
    case 1:
      return DType::float32;
    case 2:
      return DType::uint8;
    case 3:
      return DType::int8;
    case 4:
      return DType::uint16;
    case 5:
      return DType::int16;
    case 6:
      return DType::int32;
    case 7:
      return DType::int64;
    case 9:
      return DType::bool8;
    case 10:
      return DType::float16;
    case 11:
      return DType::float64;
    case 12:
      return DType::uint32;
    case 13:
      return DType::uint64;
    default:
      return DType::unknown;  // 8 string, 14/15 complex, 16 bfloat16, ...
  }
}

// ValueInfoProto: name = 1, type = 2 -> TypeProto.tensor_type = 1 -> elem_type = 1, shape = 2 ->
// dim = 1.
Result<OnnxTensorInfo> read_value_info(std::string_view bytes, std::size_t base) {
  OnnxTensorInfo info;
  auto on_shape = [&](const Field& f, std::size_t at) -> Result<void> {
    if (f.number != 1 || f.wire != kBytes) return {};
    auto dim = read_dim(f.bytes, at);
    if (!dim) return tl::unexpected(dim.error());
    info.dims.push_back(*dim);
    return {};
  };
  auto on_tensor_type = [&](const Field& f, std::size_t at) -> Result<void> {
    if (f.number == 1 && f.wire == kVarint) info.dtype = onnx_dtype(f.varint);
    if (f.number == 2 && f.wire == kBytes) {
      info.has_shape = true;
      return for_each_field(f.bytes, at, on_shape);
    }
    return {};
  };
  auto on_type = [&](const Field& f, std::size_t at) -> Result<void> {
    if (f.number == 1 && f.wire == kBytes) return for_each_field(f.bytes, at, on_tensor_type);
    return {};
  };
  auto ok = for_each_field(bytes, base, [&](const Field& f, std::size_t at) -> Result<void> {
    if (f.number == 1 && f.wire == kBytes) info.name.assign(f.bytes);
    if (f.number == 2 && f.wire == kBytes) return for_each_field(f.bytes, at, on_type);
    return {};
  });
  if (!ok) return tl::unexpected(ok.error());
  return info;
}

// GraphProto: node = 1, name = 2, initializer = 5 (TensorProto, name = 8), input = 11, output = 12.
Result<void> read_graph(std::string_view bytes, std::size_t base, OnnxInfo& info) {
  std::vector<OnnxTensorInfo> inputs;
  std::set<std::string, std::less<>> initializers;
  auto ok = for_each_field(bytes, base, [&](const Field& f, std::size_t at) -> Result<void> {
    if (f.wire != kBytes) return {};
    switch (f.number) {
      case 1:
        ++info.nodes;
        return {};
      case 2:
        info.graph_name.assign(f.bytes);
        return {};
      case 5:
        return for_each_field(f.bytes, at, [&](const Field& t, std::size_t) -> Result<void> {
          if (t.number == 8 && t.wire == kBytes) initializers.emplace(t.bytes);
          return {};
        });
      case 11:
      case 12: {
        auto v = read_value_info(f.bytes, at);
        if (!v) return tl::unexpected(v.error());
        (f.number == 11 ? inputs : info.outputs).push_back(std::move(*v));
        return {};
      }
      default:
        return {};
    }
  });
  if (!ok) return ok;
  // Older exporters (IR < 4) also list every initializer as a graph input.
  for (auto& in : inputs) {
    if (initializers.find(in.name) == initializers.end()) info.inputs.push_back(std::move(in));
  }
  if (info.inputs.empty()) return make_error(ErrorCode::corrupt, "the graph has no input besides its weights");
  info.input = info.inputs.front();
  return {};
}

}  // namespace

Result<OnnxInfo> probe_onnx(std::string_view bytes, const std::string& path) {
  const std::string what = "model '" + path + "' is not a valid ONNX file: ";
  if (bytes.empty()) return make_error(ErrorCode::corrupt, what + "the file is empty");
  OnnxInfo info;
  bool has_graph = false;
  // ModelProto: ir_version = 1, graph = 7, opset_import = 8 (OperatorSetIdProto: domain = 1,
  // version = 2).
  auto ok = for_each_field(bytes, 0, [&](const Field& f, std::size_t at) -> Result<void> {
    if (f.number == 1 && f.wire == kVarint) info.ir_version = static_cast<std::int64_t>(f.varint);
    if (f.number == 7 && f.wire == kBytes) {
      has_graph = true;
      return read_graph(f.bytes, at, info);
    }
    if (f.number == 8 && f.wire == kBytes) {
      std::string domain;
      std::int64_t version = 0;
      auto r = for_each_field(f.bytes, at, [&](const Field& o, std::size_t) -> Result<void> {
        if (o.number == 1 && o.wire == kBytes) domain.assign(o.bytes);
        if (o.number == 2 && o.wire == kVarint) version = static_cast<std::int64_t>(o.varint);
        return {};
      });
      if (r && (domain.empty() || domain == "ai.onnx")) info.opset = version;
      return r;
    }
    return {};
  });
  if (!ok) return make_error(ErrorCode::corrupt, what + ok.error().message());
  if (info.ir_version <= 0) return make_error(ErrorCode::corrupt, what + "no IR version (field 1 of ModelProto)");
  if (!has_graph) return make_error(ErrorCode::corrupt, what + "no graph (field 7 of ModelProto)");
  if (info.nodes == 0) return make_error(ErrorCode::corrupt, what + "the graph has no nodes");
  if (info.outputs.empty()) return make_error(ErrorCode::corrupt, what + "the graph has no output");
  return info;
}

}  // namespace framebus::detail
