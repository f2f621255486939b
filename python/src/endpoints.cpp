// Producer, Loan and Consumer for Python. Every call that may wait releases the GIL, so other
// Python threads run, and a wait checks Python's signal flags so Ctrl-C interrupts it.
#include "endpoints.hpp"

#include <pybind11/stl.h>

#include <cmath>
#include <optional>

#include "errors.hpp"
#include "framebus/framebus.hpp"
#include "message.hpp"

namespace py = pybind11;

namespace framebus::python {

namespace {

Duration seconds_to_duration(const std::optional<double>& seconds) {
  if (!seconds) return forever;
  if (std::isnan(*seconds) || *seconds < 0) raise(Error(ErrorCode::invalid_argument, "a timeout must be >= 0 seconds or None"));
  if (*seconds > 1e9) return forever;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*seconds));
}

// The payload description that publish() and send() accept, as keyword arguments.
struct Description {
  std::optional<std::string> dtype;
  std::optional<std::vector<std::uint64_t>> shape;
  std::optional<std::string> format;
};

MessageMeta make_meta(std::uint32_t stream, std::uint64_t frame_id, std::int64_t pts, std::uint32_t flags,
                      const std::string& user, const Description& d) {
  MessageMeta meta;
  meta.stream = stream;
  meta.frame = frame_id;
  meta.pts = pts;
  meta.flags = flags;
  meta.user = std::as_bytes(std::span(user.data(), user.size()));
  if (d.format) {
    if (!d.shape || d.shape->size() < 2) {
      raise(Error(ErrorCode::invalid_argument, "an image needs a shape of (height, width) or (height, width, channels)"));
    }
    const PixelFormat format = unwrap(parse_pixel_format(*d.format));
    const std::vector<std::uint64_t>& s = *d.shape;
    if ((format == PixelFormat::nv12 || format == PixelFormat::yuv420p) && s.size() == 2 && s[0] % 3 == 0 && d.dtype) {
      // (height * 3 / 2, width) arrays as OpenCV holds planar YUV: the image is 2/3 as tall.
      meta.image = ImageDesc::packed(static_cast<std::uint32_t>(s[1]), static_cast<std::uint32_t>(s[0] * 2 / 3), format);
    } else {
      meta.image = ImageDesc::packed(static_cast<std::uint32_t>(s[1]), static_cast<std::uint32_t>(s[0]), format);
    }
    meta.kind = PayloadKind::image;
  } else if (d.dtype && d.shape) {
    if (d.shape->size() > kMaxDims) {
      raise(Error(ErrorCode::invalid_argument, "a tensor has at most " + std::to_string(kMaxDims) + " dimensions"));
    }
    meta.kind = PayloadKind::tensor;
    meta.tensor.dtype = unwrap(framebus::parse_dtype(*d.dtype));
    meta.tensor.ndim = static_cast<std::uint32_t>(d.shape->size());
    for (std::size_t i = 0; i < d.shape->size(); ++i) meta.tensor.shape[i] = (*d.shape)[i];
  }
  return meta;
}

// A writable loan: the Python side wraps it in a NumPy array.
struct PyLoan {
  Loan loan;
};

class PyProducer {
 public:
  PyProducer(const std::string& name, std::uint32_t slots, std::uint64_t slot_size, std::uint32_t mode,
             const std::string& policy, const std::vector<std::pair<std::string, std::optional<std::string>>>& groups,
             std::optional<double> block_timeout, double linger, const std::vector<std::uint32_t>& trusted_owners) {
    ProducerOptions o;
    o.trusted_owners = trusted_owners;
    o.slots = slots;
    o.slot_size = slot_size;
    o.mode = mode;
    o.policy = unwrap(framebus::parse_policy(policy));
    for (const auto& [group, group_policy] : groups) {
      o.groups.push_back(GroupSpec{group, group_policy ? std::optional(unwrap(framebus::parse_policy(*group_policy))) : std::nullopt});
    }
    o.block_timeout = seconds_to_duration(block_timeout);
    o.linger = seconds_to_duration(linger);
    Result<Producer> p = [&] {
      py::gil_scoped_release nogil;
      return Producer::create(name, o);
    }();
    producer_ = unwrap(std::move(p));
  }

  PyLoan loan(std::size_t nbytes) {
    Result<Loan> l = [&] {
      py::gil_scoped_release nogil;
      return producer_.loan(nbytes);
    }();
    return PyLoan{unwrap(std::move(l))};
  }

  void publish(PyLoan& loan, std::uint32_t stream, std::uint64_t frame_id, std::int64_t pts, std::uint32_t flags,
               const std::string& meta, const Description& d) {
    const MessageMeta m = make_meta(stream, frame_id, pts, flags, meta, d);
    Result<void> r = [&] {
      py::gil_scoped_release nogil;
      return producer_.publish(std::move(loan.loan), m);
    }();
    unwrap(std::move(r));
  }

  void send(const py::buffer& data, std::uint32_t stream, std::uint64_t frame_id, std::int64_t pts, std::uint32_t flags,
            const std::string& meta, const Description& d) {
    Py_buffer view{};
    if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_C_CONTIGUOUS) != 0) {
      PyErr_Clear();
      raise(Error(ErrorCode::invalid_argument, "send() needs a C-contiguous buffer (use numpy.ascontiguousarray)"));
    }
    const MessageMeta m = make_meta(stream, frame_id, pts, flags, meta, d);
    Result<void> r = [&] {
      py::gil_scoped_release nogil;  // the copy of a frame runs while other threads go on
      return producer_.send(std::span(static_cast<const std::byte*>(view.buf), static_cast<std::size_t>(view.len)), m);
    }();
    PyBuffer_Release(&view);
    unwrap(std::move(r));
  }

  void end_stream(std::uint32_t stream, std::uint64_t frame_count) {
    Result<void> r = [&] {
      py::gil_scoped_release nogil;
      return producer_.end_stream(stream, frame_count);
    }();
    unwrap(std::move(r));
  }

  void close() {
    Result<void> r = [&] {
      py::gil_scoped_release nogil;
      return producer_.close();
    }();
    unwrap(std::move(r));
  }

  [[nodiscard]] const Producer& producer() const { return producer_; }

 private:
  Producer producer_;
};

class PyConsumer {
 public:
  PyConsumer(const std::string& name, const std::string& group, std::optional<std::string> policy, double wait,  // wait: seconds
             const std::vector<std::uint32_t>& trusted_owners) {
    ConsumerOptions o;
    o.trusted_owners = trusted_owners;
    o.group = group;
    if (policy) o.policy = unwrap(framebus::parse_policy(*policy));
    o.wait = seconds_to_duration(wait);
    Result<Consumer> c = [&] {
      py::gil_scoped_release nogil;
      return Consumer::open(name, o);
    }();
    consumer_ = unwrap(std::move(c));
  }

  py::object receive(std::optional<double> timeout) {
    const Duration t = seconds_to_duration(timeout);
    Result<Received> r = [&] {
      py::gil_scoped_release nogil;
      return consumer_.receive(t);
    }();
    Received got = unwrap(std::move(r));
    switch (got.status) {
      case Received::Status::message: return py::cast(Message(std::move(got.sample)));
      case Received::Status::timeout: return py::none();
      case Received::Status::end_of_channel: raise_end_of_channel(got.reason, consumer_.name());
    }
    return py::none();
  }

  void close() { consumer_.close(); }
  [[nodiscard]] const Consumer& consumer() const { return consumer_; }

 private:
  Consumer consumer_;
};

}  // namespace

void bind_endpoints(py::module_& m) {
  py::class_<PyLoan>(m, "_Loan", py::buffer_protocol())
      .def_property_readonly("nbytes", [](const PyLoan& l) { return l.loan.size(); })
      .def_property_readonly("valid", [](const PyLoan& l) { return l.loan.valid(); })
      .def_property_readonly("discarded", [](const PyLoan& l) { return l.loan.discarded(); })
      .def_buffer([](PyLoan& l) {
        if (!l.loan.valid()) raise(Error(ErrorCode::closed, "the loan was published or dropped"));
        return py::buffer_info(l.loan.data().data(), 1, py::format_descriptor<std::uint8_t>::format(), 1,
                               {static_cast<py::ssize_t>(l.loan.size())}, {py::ssize_t{1}}, /*readonly=*/false);
      })
      .def("drop", [](PyLoan& l) { l.loan = Loan(); }, "Returns the slot without publishing.");

  py::class_<PyProducer>(m, "_Producer")
      .def(py::init<const std::string&, std::uint32_t, std::uint64_t, std::uint32_t, const std::string&,
                    const std::vector<std::pair<std::string, std::optional<std::string>>>&, std::optional<double>, double,
                    const std::vector<std::uint32_t>&>(),
           py::arg("name"), py::arg("slots"), py::arg("slot_size"), py::arg("mode"), py::arg("policy"), py::arg("groups"),
           py::arg("block_timeout"), py::arg("linger"), py::arg("trusted_owners"))
      .def("loan", &PyProducer::loan, py::arg("nbytes"))
      .def("publish",
           [](PyProducer& p, PyLoan& loan, std::uint32_t stream, std::uint64_t frame_id, std::int64_t pts, std::uint32_t flags,
              const py::bytes& meta, std::optional<std::string> dtype, std::optional<std::vector<std::uint64_t>> shape,
              std::optional<std::string> format) {
             p.publish(loan, stream, frame_id, pts, flags, meta, Description{std::move(dtype), std::move(shape), std::move(format)});
           },
           py::arg("loan"), py::arg("stream"), py::arg("frame_id"), py::arg("pts"), py::arg("flags"), py::arg("meta"),
           py::arg("dtype"), py::arg("shape"), py::arg("format"))
      .def("send",
           [](PyProducer& p, const py::buffer& data, std::uint32_t stream, std::uint64_t frame_id, std::int64_t pts,
              std::uint32_t flags, const py::bytes& meta, std::optional<std::string> dtype,
              std::optional<std::vector<std::uint64_t>> shape, std::optional<std::string> format) {
             p.send(data, stream, frame_id, pts, flags, meta, Description{std::move(dtype), std::move(shape), std::move(format)});
           },
           py::arg("data"), py::arg("stream"), py::arg("frame_id"), py::arg("pts"), py::arg("flags"), py::arg("meta"),
           py::arg("dtype"), py::arg("shape"), py::arg("format"))
      .def("end_stream", &PyProducer::end_stream, py::arg("stream"), py::arg("frame_count") = 0)
      .def("close", &PyProducer::close)
      .def_property_readonly("slot_count", [](const PyProducer& p) { return p.producer().slot_count(); })
      .def_property_readonly("slot_size", [](const PyProducer& p) { return p.producer().slot_size(); })
      .def_property_readonly("closed", [](const PyProducer& p) { return !p.producer().is_open(); });

  py::class_<PyConsumer>(m, "_Consumer")
      .def(py::init<const std::string&, const std::string&, std::optional<std::string>, double, const std::vector<std::uint32_t>&>(),
           py::arg("name"), py::arg("group"), py::arg("policy"), py::arg("wait"), py::arg("trusted_owners"))
      .def("receive", &PyConsumer::receive, py::arg("timeout"))
      .def("close", &PyConsumer::close)
      .def_property_readonly("end_reason", [](const PyConsumer& c) { return std::string(to_string(c.consumer().end_reason())); })
      .def_property_readonly("closed", [](const PyConsumer& c) { return !c.consumer().is_open(); });
}

}  // namespace framebus::python
