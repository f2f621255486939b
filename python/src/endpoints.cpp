// Producer, Loan and Consumer for Python. Every call that may wait releases the GIL, so other
// Python threads run, and takes a stop token that Ctrl-C stops (interrupt.hpp).
//
// Threads: Python code may close a handle in one thread while another waits inside it (receive,
// iteration, a blocked send). Each handle counts the threads inside its calls; close() wakes them
// (cancel), waits with the GIL released until they have left, and only then closes the native
// handle, so its mapping never goes from under a thread. Calls that start after close() raise
// framebus.Closed.
#include "endpoints.hpp"

#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

#include "errors.hpp"
#include "framebus/framebus.hpp"
#include "interrupt.hpp"
#include "message.hpp"

namespace py = pybind11;

namespace framebus::python {

namespace {

Duration seconds_to_duration(const std::optional<double>& seconds) {
  if (!seconds) return forever;
  if (std::isnan(*seconds) || *seconds < 0)
    raise(Error(ErrorCode::invalid_argument, "a timeout must be >= 0 seconds or None"));
  if (*seconds > 1e9) return forever;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*seconds));
}

// The payload description that publish() and send() take as one (dtype, shape, format) tuple,
// each None when not given.
using Description =
    std::tuple<std::optional<std::string>, std::optional<std::vector<std::uint64_t>>, std::optional<std::string>>;

// The ImageDesc of an array of `shape` and `dtype` holding a picture in `format_name`, checked:
// an array that does not hold such a picture (another dtype, another channel count, a rank the
// format does not have) is refused, naming the argument and the expected value, so a reader never
// gets pixels reinterpreted from the wrong layout.
ImageDesc image_desc_of(const std::string& format_name, const std::optional<std::string>& dtype,
                        const std::vector<std::uint64_t>& s) {
  const PixelFormat format = unwrap(parse_pixel_format(format_name));
  const std::string name = "format '" + format_name + "'";
  auto shape_text = [&] {
    std::string t = "(";
    for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
    return t + (s.size() == 1 ? ",)" : ")");
  };
  if (dtype && *dtype != "uint8") {
    raise(Error(ErrorCode::invalid_argument, name + " takes uint8 pixels: dtype must be uint8, not " + *dtype));
  }
  auto dim = [](std::uint64_t v) { return static_cast<std::uint32_t>(v); };
  switch (format) {
    case PixelFormat::bgr24:
    case PixelFormat::rgb24:
      if (s.size() != 3 || s[2] != 3) {
        raise(Error(ErrorCode::invalid_argument, name + ": shape must be (height, width, 3), not " + shape_text()));
      }
      return ImageDesc::packed(dim(s[1]), dim(s[0]), format);
    case PixelFormat::gray8:
      if (s.size() != 2 && !(s.size() == 3 && s[2] == 1)) {
        raise(Error(ErrorCode::invalid_argument,
                    name + ": shape must be (height, width) or (height, width, 1), not " + shape_text()));
      }
      return ImageDesc::packed(dim(s[1]), dim(s[0]), format);
    case PixelFormat::nv12:
    case PixelFormat::yuv420p:
      // Raw bytes come with the picture's (height, width); an array is (height * 3 / 2, width),
      // as OpenCV holds 4:2:0 pictures: the luma plane, then chroma.
      if (!dtype && s.size() == 2 && s[0] % 2 == 0 && s[1] % 2 == 0) {
        return ImageDesc::packed(dim(s[1]), dim(s[0]), format);
      }
      if (s.size() != 2 || s[0] % 3 != 0 || s[1] % 2 != 0) {
        raise(Error(ErrorCode::invalid_argument,
                    name + ": shape must be (height * 3 / 2, width) with an even width, not " + shape_text()));
      }
      return ImageDesc::packed(dim(s[1]), dim(s[0] * 2 / 3), format);
    case PixelFormat::unknown:
      break;
  }
  raise(Error(ErrorCode::invalid_argument, "unknown " + name));
}

MessageMeta make_meta(std::uint32_t stream, std::uint64_t frame_id, std::int64_t pts, std::uint32_t flags,
                      const std::string& user, const Description& d) {
  const auto& [dtype, shape, format_name] = d;
  MessageMeta meta;
  meta.stream = stream;
  meta.frame = frame_id;
  meta.pts = pts;
  meta.flags = flags;
  meta.user = std::as_bytes(std::span(user.data(), user.size()));
  if (format_name) {
    if (!shape) raise(Error(ErrorCode::invalid_argument, "an image needs a shape"));
    meta.image = image_desc_of(*format_name, dtype, *shape);
    meta.kind = PayloadKind::image;
  } else if (dtype && shape) {
    if (shape->size() > kMaxDims) {
      raise(Error(ErrorCode::invalid_argument, "a tensor has at most " + std::to_string(kMaxDims) + " dimensions"));
    }
    meta.kind = PayloadKind::tensor;
    meta.tensor.dtype = unwrap(framebus::parse_dtype(*dtype));
    meta.tensor.ndim = static_cast<std::uint32_t>(shape->size());
    for (std::size_t i = 0; i < shape->size(); ++i) meta.tensor.shape[i] = (*shape)[i];
  }
  return meta;
}

// A writable loan: the Python side wraps it in a NumPy array.
struct PyLoan {
  Loan loan;
};

// The threads inside one handle's calls, and its closing. enter() and close() run with the GIL
// held, leave() and the waits without it.
class Gate {
 public:
  Gate() = default;
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // False once the handle is closing: the call must not touch the native handle.
  bool enter() {
    const std::lock_guard lock(mutex_);
    if (closing_) return false;
    inside_.push_back(std::this_thread::get_id());
    return true;
  }

  // The last thread out of a handle closed from inside one of its own calls (a signal handler
  // that ran during a wait) closes the native handle.
  void leave() noexcept {
    std::function<void()> close_now;
    {
      const std::lock_guard lock(mutex_);
      inside_.erase(std::find(inside_.begin(), inside_.end(), std::this_thread::get_id()));
      if (!inside_.empty()) return;
      left_.notify_all();
      close_now = std::move(deferred_close_);
      deferred_close_ = nullptr;
    }
    if (close_now) close_now();
  }

  [[nodiscard]] bool closing() const {
    const std::lock_guard lock(mutex_);
    return closing_;
  }

  // Closes once: wakes the threads inside with `cancel`, waits for them to leave, then runs
  // `close`. Its result is returned when no thread was inside (a plain close, which lingers);
  // a close that woke other threads' calls cancelled its own linger too, so its result is moot
  // and an empty one is returned. Called with the GIL held; it is released while waiting and
  // closing.
  template <typename Close>
  auto close(const std::function<void()>& cancel, Close close) -> decltype(close()) {
    using Out = decltype(close());
    bool alone = false;
    {
      const std::lock_guard lock(mutex_);
      if (closing_) return Out{};
      closing_ = true;
      alone = inside_.empty();
      if (!alone && std::find(inside_.begin(), inside_.end(), std::this_thread::get_id()) != inside_.end()) {
        // This thread is itself inside a call: it cannot wait for itself. The last one out closes.
        cancel();
        deferred_close_ = [close] { (void)close(); };
        return Out{};
      }
    }
    py::gil_scoped_release nogil;
    if (alone) return close();
    cancel();
    {
      std::unique_lock lock(mutex_);
      left_.wait(lock, [&] { return inside_.empty(); });
    }
    (void)close();
    return Out{};
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable left_;
  std::vector<std::thread::id> inside_;
  bool closing_ = false;
  std::function<void()> deferred_close_;
};

// Runs `f(stop)` on a handle inside its gate with the GIL released (Ctrl-C stops `stop` when the
// call `may_wait`); fails with Closed when the handle is closing.
template <typename F>
auto inside(Gate& gate, const char* what, F&& f, bool may_wait = true) -> decltype(f(std::stop_token{})) {
  using Out = decltype(f(std::stop_token{}));
  auto call = [&](std::stop_token stop) -> Out {
    if (!gate.enter()) return make_error(ErrorCode::closed, std::string("the ") + what + " is closed");
    struct Leave {
      Gate& gate;
      ~Leave() { gate.leave(); }
    } leave{gate};  // left before the GIL is taken back: close() may go on at once
    return f(std::move(stop));
  };
  if (may_wait) return interruptible(call);
  py::gil_scoped_release nogil;
  return call({});
}

// Like inside(), for a call that keeps the GIL (a property): no Python code runs meanwhile.
template <typename F>
auto peek(Gate& gate, const char* what, F&& f) -> decltype(f()) {
  if (!gate.enter()) raise(Error(ErrorCode::closed, std::string("the ") + what + " is closed"));
  struct Leave {
    Gate& gate;
    ~Leave() { gate.leave(); }
  } leave{gate};
  return f();
}

class PyProducer {
 public:
  PyProducer(const std::string& name, std::uint32_t slots, std::uint64_t slot_size, std::uint32_t mode,
             const std::string& policy, const std::vector<std::pair<std::string, std::optional<std::string>>>& groups,
             std::optional<double> block_timeout, double linger, const std::vector<std::uint32_t>& trusted_owners,
             double group_grace) {
    ProducerOptions o;
    o.trusted_owners = trusted_owners;
    o.group_grace = seconds_to_duration(group_grace);
    o.slots = slots;
    o.slot_size = slot_size;
    o.mode = mode;
    o.policy = unwrap(framebus::parse_policy(policy));
    for (const auto& [group, group_policy] : groups) {
      o.groups.push_back(
          GroupSpec{group, group_policy ? std::optional(unwrap(framebus::parse_policy(*group_policy))) : std::nullopt});
    }
    o.block_timeout = seconds_to_duration(block_timeout);
    o.linger = seconds_to_duration(linger);
    Result<Producer> p = [&] {
      py::gil_scoped_release nogil;
      return Producer::create(name, o);
    }();
    producer_ = unwrap(std::move(p));
  }
  PyProducer(const PyProducer&) = delete;
  PyProducer& operator=(const PyProducer&) = delete;
  // Dropped without close(): the linger runs without the GIL, so other threads go on meanwhile.
  // No thread can be inside: each call holds a reference to this object.
  ~PyProducer() {
    if (PyGILState_Check() != 0) {
      py::gil_scoped_release nogil;
      (void)producer_.close();
    }
  }

  PyLoan loan(std::size_t nbytes) {
    return PyLoan{unwrap(
        inside(gate_, "producer", [&](std::stop_token stop) { return producer_.loan(nbytes, std::move(stop)); }))};
  }

  void publish(PyLoan& loan, std::uint32_t stream, std::uint64_t frame_id, std::int64_t pts, std::uint32_t flags,
               const std::string& meta, const Description& d) {
    const MessageMeta m = make_meta(stream, frame_id, pts, flags, meta, d);
    unwrap(inside(
        gate_, "producer", [&](const std::stop_token&) { return producer_.publish(std::move(loan.loan), m); }, false));
  }

  void send(const py::buffer& data, std::uint32_t stream, std::uint64_t frame_id, std::int64_t pts, std::uint32_t flags,
            const std::string& meta, const Description& d) {
    const MessageMeta m = make_meta(stream, frame_id, pts, flags, meta, d);
    Py_buffer view{};
    if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_C_CONTIGUOUS) != 0) {
      PyErr_Clear();
      raise(Error(ErrorCode::invalid_argument, "send() needs a C-contiguous buffer (use numpy.ascontiguousarray)"));
    }
    struct Release {
      Py_buffer& view;
      ~Release() { PyBuffer_Release(&view); }  // also when the producer is closed (raises)
    } release{view};
    // The copy of a frame runs while other threads go on.
    unwrap(inside(gate_, "producer", [&](std::stop_token stop) {
      return producer_.send(std::span(static_cast<const std::byte*>(view.buf), static_cast<std::size_t>(view.len)), m,
                            std::move(stop));
    }));
  }

  void end_stream(std::uint32_t stream, std::uint64_t frame_count) {
    unwrap(inside(gate_, "producer",
                  [&](std::stop_token stop) { return producer_.end_stream(stream, frame_count, std::move(stop)); }));
  }

  // (group, messages) that the linger discarded; "" names messages no group had joined for.
  std::vector<std::pair<std::string, std::uint64_t>> close() {
    Result<CloseReport> r = gate_.close([this] { producer_.cancel(); }, [this] { return producer_.close(); });
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (const CloseReport::Group& g : unwrap(std::move(r)).groups) out.emplace_back(g.name, g.discarded);
    return out;
  }

  [[nodiscard]] bool closed() const { return gate_.closing(); }
  std::uint32_t slot_count() {
    return peek(gate_, "producer", [&] { return producer_.slot_count(); });
  }
  std::uint64_t slot_size() {
    return peek(gate_, "producer", [&] { return producer_.slot_size(); });
  }

 private:
  Producer producer_;
  Gate gate_;
};

class PyConsumer {
 public:
  PyConsumer(const std::string& name, const std::string& group, std::optional<std::string> policy,
             double wait,  // wait: seconds
             const std::vector<std::uint32_t>& trusted_owners, std::uint32_t max_deliveries) {
    ConsumerOptions o;
    o.trusted_owners = trusted_owners;
    o.max_deliveries = max_deliveries;
    o.group = group;
    if (policy) o.policy = unwrap(framebus::parse_policy(*policy));
    o.wait = seconds_to_duration(wait);
    consumer_ = unwrap(interruptible([&](std::stop_token stop) { return Consumer::open(name, o, std::move(stop)); }));
  }
  PyConsumer(const PyConsumer&) = delete;
  PyConsumer& operator=(const PyConsumer&) = delete;

  py::object receive(std::optional<double> timeout) {
    const Duration t = seconds_to_duration(timeout);
    std::string name;  // for the end of channel's text, read while inside
    Received got = unwrap(inside(
        gate_, "consumer",
        [&](std::stop_token stop) {
          Result<Received> r = consumer_.receive(t, std::move(stop));
          if (r && r->status == Received::Status::end_of_channel) name = consumer_.name();
          return r;
        },
        t != Duration::zero()));
    switch (got.status) {
      case Received::Status::message:
        return py::cast(PyMessage(std::move(got.message)));
      case Received::Status::timeout:
        return py::none();
      case Received::Status::end_of_channel:
        raise_end_of_channel(got.reason, name);
    }
    return py::none();
  }

  void close() {
    (void)gate_.close([this] { consumer_.cancel(); },
                      [this]() -> Result<void> {
                        consumer_.close();
                        return {};
                      });
  }

  [[nodiscard]] bool closed() const { return gate_.closing(); }
  std::string end_reason() {
    return peek(gate_, "consumer", [&] { return std::string(to_string(consumer_.end_reason())); });
  }

 private:
  Consumer consumer_;
  Gate gate_;
};

}  // namespace

void bind_endpoints(py::module_& m) {
  // Producer.loan checks its picture before it takes a slot, with the check send/publish make.
  m.def(
      "_check_image",
      [](const std::string& format, const std::string& dtype, const std::vector<std::uint64_t>& shape) {
        (void)image_desc_of(format, dtype, shape);
      },
      py::arg("format"), py::arg("dtype"), py::arg("shape"));
  py::class_<PyLoan>(m, "_Loan", py::buffer_protocol())
      .def_property_readonly("nbytes", [](const PyLoan& l) { return l.loan.size(); })
      .def_property_readonly("valid", [](const PyLoan& l) { return l.loan.valid(); })
      .def_property_readonly("discarded", [](const PyLoan& l) { return l.loan.discarded(); })
      .def_buffer([](PyLoan& l) {
        if (!l.loan.valid()) raise(Error(ErrorCode::closed, "the loan was published or dropped"));
        return py::buffer_info(l.loan.data().data(), 1, py::format_descriptor<std::uint8_t>::format(), 1,
                               {static_cast<py::ssize_t>(l.loan.size())}, {py::ssize_t{1}}, /*readonly=*/false);
      })
      .def(
          "drop", [](PyLoan& l) { l.loan = Loan(); }, "Returns the slot without publishing.");

  py::class_<PyProducer>(m, "_Producer")
      .def(py::init<const std::string&, std::uint32_t, std::uint64_t, std::uint32_t, const std::string&,
                    const std::vector<std::pair<std::string, std::optional<std::string>>>&, std::optional<double>,
                    double, const std::vector<std::uint32_t>&, double>(),
           py::arg("name"), py::arg("slots"), py::arg("slot_size"), py::arg("mode"), py::arg("policy"),
           py::arg("groups"), py::arg("block_timeout"), py::arg("linger"), py::arg("trusted_owners"),
           py::arg("group_grace"))
      .def("loan", &PyProducer::loan, py::arg("nbytes"))
      .def("publish", &PyProducer::publish, py::arg("loan"), py::arg("stream"), py::arg("frame_id"), py::arg("pts"),
           py::arg("flags"), py::arg("meta"), py::arg("description"))
      .def("send", &PyProducer::send, py::arg("data"), py::arg("stream"), py::arg("frame_id"), py::arg("pts"),
           py::arg("flags"), py::arg("meta"), py::arg("description"))
      .def("end_stream", &PyProducer::end_stream, py::arg("stream"), py::arg("frame_count") = 0)
      .def("close", &PyProducer::close)
      .def_property_readonly("slot_count", &PyProducer::slot_count)
      .def_property_readonly("slot_size", &PyProducer::slot_size)
      .def_property_readonly("closed", &PyProducer::closed);

  py::class_<PyConsumer>(m, "_Consumer")
      .def(py::init<const std::string&, const std::string&, std::optional<std::string>, double,
                    const std::vector<std::uint32_t>&, std::uint32_t>(),
           py::arg("name"), py::arg("group"), py::arg("policy"), py::arg("wait"), py::arg("trusted_owners"),
           py::arg("max_deliveries"))
      .def("receive", &PyConsumer::receive, py::arg("timeout"))
      .def("close", &PyConsumer::close)
      .def_property_readonly("end_reason", &PyConsumer::end_reason)
      .def_property_readonly("closed", &PyConsumer::closed);
}

}  // namespace framebus::python
