#include "message.hpp"

#include <dlpack/dlpack.h>
#include <pybind11/numpy.h>

#include <array>

#include "errors.hpp"

namespace py = pybind11;

namespace framebus::python {

namespace {

// Keeps a slot alive for as long as a NumPy array or a DLPack consumer refers to it.
struct MessageRef {
  Message message;
};

// Shape, strides (bytes) and element type of a message, checked against its payload size: the
// description comes from shared memory, so it is never trusted to stay inside the payload.
struct Layout {
  DType dtype = DType::uint8;
  std::vector<py::ssize_t> shape;
  std::vector<py::ssize_t> strides;
};

// The description is copied once and checked (overflow-checked) on the copy: the producer may
// rewrite the shared metadata at any moment, and a description larger than the payload is an
// error (ErrorCode::corrupt, raised as framebus.Error), never a view beyond the payload.
Layout layout_of(const Message& s) {
  Layout out;
  const auto size = static_cast<py::ssize_t>(s.size());
  auto flat = [&] {
    out.dtype = DType::uint8;
    out.shape = {size};
    out.strides = {1};
  };
  const PayloadKind kind = s.kind();
  if (kind != PayloadKind::image && kind != PayloadKind::tensor) {
    flat();
    return out;
  }
  const ImageDesc im = s.image();
  const TensorDesc t = s.tensor();
  if (auto ok = check_description(kind, im, t, s.size(), "the message's description"); !ok) {
    raise(Error(ErrorCode::corrupt, ok.error().message() + " (the producer rewrote it after it was received)"));
  }
  if (kind == PayloadKind::tensor) {
    out.dtype = t.dtype;
    // check_description bounds the product of the non-zero dimensions in bytes by INT64_MAX, so
    // these strides cannot overflow.
    py::ssize_t stride = static_cast<py::ssize_t>(dtype_size(t.dtype));
    out.shape.resize(t.ndim);
    out.strides.resize(t.ndim);
    for (std::uint32_t i = t.ndim; i-- > 0;) {
      out.shape[i] = static_cast<py::ssize_t>(t.shape[i]);
      out.strides[i] = stride;
      if (t.shape[i] != 0) stride *= out.shape[i];
    }
    return out;
  }
  const auto h = static_cast<py::ssize_t>(im.height);
  const auto w = static_cast<py::ssize_t>(im.width);
  const auto row = static_cast<py::ssize_t>(im.stride[0]);
  // The view starts at the payload's first byte: plane 0 must start there for the shape to hold.
  const bool at_start = im.plane_offset[0] == 0;
  if (at_start && (im.format == PixelFormat::bgr24 || im.format == PixelFormat::rgb24) && row >= w * 3) {
    out.shape = {h, w, 3};
    out.strides = {row, 3, 1};
    return out;
  }
  if (at_start && im.format == PixelFormat::gray8 && row >= w) {
    out.shape = {h, w};
    out.strides = {row, 1};
    return out;
  }
  flat();
  return out;
}

py::dtype numpy_dtype(DType dtype) {
  if (dtype == DType::bool8) return py::dtype("bool");
  return py::dtype(std::string(to_string(dtype)));
}

DLDataType dl_type(DType dtype) {
  DLDataType t{};
  t.lanes = 1;
  t.bits = static_cast<std::uint8_t>(dtype_size(dtype) * 8);
  switch (dtype) {
    case DType::int8:
    case DType::int16:
    case DType::int32:
    case DType::int64:
      t.code = kDLInt;
      break;
    case DType::float16:
    case DType::float32:
    case DType::float64:
      t.code = kDLFloat;
      break;
    default:
      t.code = kDLUInt;
      break;  // unsigned integers, and bool as uint8 (DLPack 0.6 has no bool)
  }
  return t;
}

// One allocation per exported tensor: the DLPack struct, the shape/stride arrays it points to,
// and the Message that keeps the slot. Its deleter needs no GIL.
struct DlpackHolder {
  DLManagedTensor managed{};
  Message message;
  std::array<std::int64_t, kMaxDims> shape{};
  std::array<std::int64_t, kMaxDims> strides{};
};

void delete_holder(DLManagedTensor* self) { delete static_cast<DlpackHolder*>(self->manager_ctx); }

void capsule_destructor(PyObject* capsule) {
  // Still named "dltensor": nobody consumed it, so it is ours to free.
  if (PyCapsule_IsValid(capsule, "dltensor") == 0) return;
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
  if (managed != nullptr && managed->deleter != nullptr) managed->deleter(managed);
}

}  // namespace

MessageFacts MessageFacts::of(const Message& message) {
  MessageFacts f;
  if (!message.valid()) return f;
  f.meta = MessageMeta{.stream = message.stream(),
                       .frame = message.frame(),
                       .pts = message.pts(),
                       .flags = message.flags(),
                       .kind = message.kind(),
                       .image = message.image(),
                       .tensor = message.tensor()};
  f.publish_ns = message.publish_time_ns();
  f.redelivered = message.redelivered();
  f.nbytes = message.size();
  return f;
}

const Message& PyMessage::message() const {
  if (detached()) raise(Error(ErrorCode::closed, "the message is a private copy: its slot was given back"));
  if (!message_.valid()) raise(Error(ErrorCode::closed, "the message was released"));
  return message_;
}

const MessageFacts& PyMessage::facts() const {
  if (released()) raise(Error(ErrorCode::closed, "the message was released"));
  return facts_;
}

py::bytes PyMessage::user_meta() const {
  if (detached()) return py::bytes(*detached_user_);
  const auto user = message().user_meta();
  return py::bytes(reinterpret_cast<const char*>(user.data()), user.size());
}

void PyMessage::release() noexcept {
  message_.release();
  detached_user_.reset();
  array_ = py::object();
}

py::object PyMessage::array(py::handle self) {
  (void)self;
  if (array_) return array_;
  const Message& s = message();
  const Layout layout = layout_of(s);
  py::object owner = py::cast(MessageRef{s});
  py::array arr(numpy_dtype(layout.dtype), layout.shape, layout.strides, s.data().data(), owner);
  // The memory is mapped read-only: NumPy must never offer a write.
  py::detail::array_proxy(arr.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  array_ = std::move(arr);
  return array_;
}

py::object PyMessage::copy(py::handle self) {
  if (released()) raise(Error(ErrorCode::closed, "the message was released"));
  // numpy.array(copy=True, order="C") owns its memory and is writable whatever the source's flags.
  return py::module_::import("numpy").attr("array")(array(self), py::arg("copy") = true, py::arg("order") = "C");
}

void PyMessage::detach(py::handle self) {
  if (detached()) return;
  const auto user = message().user_meta();
  std::string user_copy(reinterpret_cast<const char*>(user.data()), user.size());
  py::object private_copy = copy(self);
  message_.release();  // the slot goes back now; views made before keep their own reference
  array_ = std::move(private_copy);
  detached_user_ = std::move(user_copy);
}

py::object PyMessage::dlpack(py::handle self) {
  if (detached()) return array(self).attr("__dlpack__")();  // NumPy exports its own copy
  const Message& s = message();
  const Layout layout = layout_of(s);
  auto* holder = new DlpackHolder;
  holder->message = s;
  const std::size_t item = dtype_size(layout.dtype);
  for (std::size_t i = 0; i < layout.shape.size(); ++i) {
    holder->shape[i] = layout.shape[i];
    holder->strides[i] = layout.strides[i] / static_cast<py::ssize_t>(item);  // DLPack counts elements
  }
  DLTensor& t = holder->managed.dl_tensor;
  t.data = const_cast<std::byte*>(holder->message.data().data());
  t.device = DLDevice{kDLCPU, 0};
  t.ndim = static_cast<std::int32_t>(layout.shape.size());
  t.dtype = dl_type(layout.dtype);
  t.shape = holder->shape.data();
  t.strides = holder->strides.data();
  t.byte_offset = 0;
  holder->managed.manager_ctx = holder;
  holder->managed.deleter = &delete_holder;
  return py::capsule(&holder->managed, "dltensor", &capsule_destructor);
}

namespace {

// The names shared with C++ and the CLI are `frame` and `user_meta`; the older Python names stay
// for one release and say what replaces them.
void deprecated(const char* old_name, const char* new_name) {
  const std::string text = std::string(old_name) + " is deprecated: use " + new_name;
  if (PyErr_WarnEx(PyExc_DeprecationWarning, text.c_str(), 1) != 0) throw py::error_already_set();
}

// A fact of an image message's description, or None for a message that is no image.
template <typename Get>
py::object image_field(const PyMessage& m, Get get) {
  const MessageMeta& meta = m.facts().meta;
  if (meta.kind != PayloadKind::image) return py::none();
  return get(meta.image);
}

}  // namespace

void bind_message(py::module_& mod) {
  py::class_<MessageRef>(mod, "_MessageRef");

  py::class_<PyMessage>(mod, "Message", py::buffer_protocol(), R"doc(
A received message. Its payload stays in shared memory: ``array`` is a read-only NumPy view and
``__dlpack__`` exports it without copying. The slot returns to the channel when the message and
every view made from it are gone, or early with ``release()`` / the ``with`` statement (views
made before keep their own reference).)doc")
      .def_property_readonly(
          "stream", [](const PyMessage& m) { return m.facts().meta.stream; }, "Video stream (camera) id.")
      .def_property_readonly(
          "frame", [](const PyMessage& m) { return m.facts().meta.frame; }, "Frame number in the stream.")
      .def_property_readonly(
          "frame_id",
          [](const PyMessage& m) {
            deprecated("Message.frame_id", "Message.frame");
            return m.facts().meta.frame;
          },
          "Deprecated name of ``frame``.")
      .def_property_readonly(
          "pts", [](const PyMessage& m) { return m.facts().meta.pts; }, "Presentation time stamp.")
      .def_property_readonly("flags", [](const PyMessage& m) { return m.facts().meta.flags; })
      .def_property_readonly(
          "redelivered", [](const PyMessage& m) { return m.facts().redelivered; },
          "True when a consumer of this group died holding it and it came again.")
      .def_property_readonly(
          "end_of_stream", [](const PyMessage& m) { return (m.facts().meta.flags & flags::kEndOfStream) != 0; },
          "True for the marker sent by Producer.end_stream(stream).")
      .def_property_readonly(
          "publish_time_ns", [](const PyMessage& m) { return m.facts().publish_ns; },
          "CLOCK_MONOTONIC nanoseconds at publish (time.monotonic_ns() scale).")
      .def_property_readonly("user_meta", &PyMessage::user_meta, "The user metadata blob, as bytes.")
      .def_property_readonly(
          "meta",
          [](const PyMessage& m) {
            deprecated("Message.meta", "Message.user_meta");
            return m.user_meta();
          },
          "Deprecated name of ``user_meta``.")
      .def_property_readonly(
          "kind", [](const PyMessage& m) { return std::string(to_string(m.facts().meta.kind)); },
          "'bytes', 'image' or 'tensor'.")
      .def_property_readonly(
          "format",
          [](const PyMessage& m) {
            return image_field(m, [](const ImageDesc& i) { return py::str(std::string(to_string(i.format))); });
          },
          "Pixel format of an image message ('bgr24', 'nv12', ...), else None.")
      .def_property_readonly(
          "width",
          [](const PyMessage& m) { return image_field(m, [](const ImageDesc& i) { return py::int_(i.width); }); },
          "Width in pixels of an image message (also of nv12 / yuv420p ones, whose array is flat), else None.")
      .def_property_readonly(
          "height",
          [](const PyMessage& m) { return image_field(m, [](const ImageDesc& i) { return py::int_(i.height); }); },
          "Height in pixels of an image message, else None.")
      .def_property_readonly("nbytes", [](const PyMessage& m) { return m.facts().nbytes; })
      .def_property_readonly("released", &PyMessage::released)
      .def_property_readonly(
          "private", [](const PyMessage& m) { return m.detached(); },
          "True for a private copy (Consumer(writable=True)): its slot was given back at once.")
      .def_property_readonly(
          "array", [](py::handle self) { return self.cast<PyMessage&>().array(self); },
          "Read-only NumPy view of the payload (no copy); for a private message\n"
          "(Consumer(writable=True)), its writable copy.")
      .def(
          "copy", [](py::handle self) { return self.cast<PyMessage&>().copy(self); },
          "A new private, writable, C-contiguous NumPy copy of the payload, of the shape and dtype of\n"
          "``array``: for code that draws on frames (OpenCV ignores NumPy's read-only flag).")
      .def("_detach", [](py::handle self) { self.cast<PyMessage&>().detach(self); })
      .def("release", &PyMessage::release, "Gives the message's own reference to the slot back now.")
      .def("__enter__", [](py::handle self) { return self; })
      .def("__exit__", [](PyMessage& m, py::args) { m.release(); })
      .def(
          "__dlpack__",
          [](py::handle self, py::object stream) {
            if (!stream.is_none() && !(py::isinstance<py::int_>(stream) && stream.cast<long>() == -1)) {
              raise(Error(ErrorCode::invalid_argument,
                          "framebus messages live in host memory: __dlpack__ takes no stream"));
            }
            return self.cast<PyMessage&>().dlpack(self);
          },
          py::arg("stream") = py::none())
      .def("__dlpack_device__", [](const PyMessage&) { return py::make_tuple(static_cast<int>(kDLCPU), 0); })
      .def_buffer([](PyMessage& m) {
        if (m.detached()) {
          // The private copy's own buffer; the returned info holds a view of it until released.
          return py::buffer(m.array(py::handle())).request(/*writable=*/false);
        }
        const Message& s = m.message();
        return py::buffer_info(const_cast<std::byte*>(s.data().data()), 1,
                               py::format_descriptor<std::uint8_t>::format(), 1, {static_cast<py::ssize_t>(s.size())},
                               {py::ssize_t{1}}, /*readonly=*/true);
      })
      .def("__repr__", [](const PyMessage& m) {
        if (m.released()) return std::string("<framebus.Message released>");
        const MessageFacts& f = m.facts();
        return "<framebus.Message stream=" + std::to_string(f.meta.stream) + " frame=" + std::to_string(f.meta.frame) +
               " kind=" + std::string(to_string(f.meta.kind)) + " nbytes=" + std::to_string(f.nbytes) +
               (f.redelivered ? " redelivered" : "") +
               ((f.meta.flags & flags::kEndOfStream) != 0 ? " end_of_stream" : "") + (m.detached() ? " private" : "") +
               ">";
      });
}

}  // namespace framebus::python
