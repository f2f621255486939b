// MultiDecoder for Python. Waits release the GIL; Ctrl-C and close() stop them through the
// call's stop token (interrupt.hpp).
// The decoder is deleted with the GIL released wherever its last reference goes (a `del`, the
// end of a call that outlived close(), interpreter exit): deleting it joins stream threads that
// may be waiting for room, and holding the GIL meanwhile stalled every other Python thread.
#include "decoder.hpp"

#include <pybind11/stl.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "errors.hpp"
#include "framebus/decode/decoder.hpp"
#include "framebus/decode/probe.hpp"
#include "framebus/pipeline/decoder_status.hpp"
#include "from_json.hpp"
#include "interrupt.hpp"

namespace py = pybind11;

namespace framebus::python {
namespace {

Duration seconds(double s) { return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s)); }

// Deletes a MultiDecoder (which stops and joins its stream threads) without holding the GIL.
struct DeleteWithoutGil {
  void operator()(MultiDecoder* decoder) const {
    if (PyGILState_Check() != 0) {
      py::gil_scoped_release nogil;
      delete decoder;
    } else {
      delete decoder;
    }
  }
};

class PyMultiDecoder {
 public:
  PyMultiDecoder(const std::string& channel, std::uint32_t slots, std::uint64_t slot_size, std::uint32_t mode,
                 const std::string& policy, const std::vector<std::string>& groups, std::optional<double> block_timeout,
                 double linger) {
    ProducerOptions o;
    o.slots = slots;
    o.slot_size = slot_size;
    o.mode = mode;
    o.policy = unwrap(parse_policy(policy));
    for (const auto& g : groups) o.groups.push_back(GroupSpec{g, std::nullopt});
    o.block_timeout = block_timeout ? seconds(*block_timeout) : forever;
    o.linger = seconds(linger);
    Result<MultiDecoder> d = [&] {
      py::gil_scoped_release nogil;
      return MultiDecoder::create(channel, o);
    }();
    decoder_ = std::shared_ptr<MultiDecoder>(new MultiDecoder(unwrap(std::move(d))), DeleteWithoutGil{});
  }
  PyMultiDecoder(const PyMultiDecoder&) = delete;
  PyMultiDecoder& operator=(const PyMultiDecoder&) = delete;
  ~PyMultiDecoder() = default;  // the deleter above releases the GIL

  std::uint32_t add_stream(const std::string& source, const py::kwargs& kw) {
    StreamOptions o;
    for (const auto& [key_handle, value] : kw) {
      const auto key = key_handle.cast<std::string>();
      if (key == "channel") {
        o.channel = value.is_none() ? std::string() : value.cast<std::string>();
      } else if (key == "loop") {
        o.loop = value.is_none() ? StreamOptions::kLoopForever : value.cast<std::uint32_t>();
      } else if (key == "frame_skip") {
        o.frame_skip = value.cast<std::uint32_t>();
      } else if (key == "max_fps") {
        o.max_fps = value.cast<double>();
      } else if (key == "realtime") {
        o.realtime = value.cast<bool>();
      } else if (key == "reconnect") {
        o.reconnect = value.cast<bool>();
      } else if (key == "max_reconnects") {
        o.max_reconnects = value.cast<std::uint32_t>();
      } else if (key == "threads") {
        o.threads = value.cast<int>();
      } else if (key == "format") {
        o.format = unwrap(parse_pixel_format(value.cast<std::string>()));
      } else if (key == "width") {
        o.width = value.cast<std::uint32_t>();
      } else if (key == "height") {
        o.height = value.cast<std::uint32_t>();
      } else if (key == "connect_timeout") {
        o.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(seconds(value.cast<double>()));
      } else if (key == "read_timeout") {
        o.read_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(seconds(value.cast<double>()));
      } else if (key == "max_decode_errors") {
        o.max_decode_errors = value.cast<std::uint32_t>();
      } else {
        raise(Error(ErrorCode::invalid_argument, "add_stream() got an unknown option '" + key + "'"));
      }
    }
    auto d = decoder();
    Result<std::uint32_t> id = [&] {
      py::gil_scoped_release nogil;
      return d->add_stream(source, o);
    }();
    return unwrap(std::move(id));
  }

  void remove_stream(std::uint32_t id) {
    auto d = decoder();
    Result<void> r = [&] {
      py::gil_scoped_release nogil;
      return d->remove_stream(id);
    }();
    unwrap(std::move(r));
  }

  py::dict status(std::uint32_t id) const { return from_json(to_json(unwrap(decoder()->status(id)))); }

  py::list statuses() const {
    py::list out;
    for (const auto& s : decoder()->statuses()) out.append(from_json(to_json(s)));
    return out;
  }

  // True when done, False on timeout. Ctrl-C stops the wait at once (interrupt.hpp).
  bool wait(std::optional<double> timeout, std::optional<std::uint32_t> stream) {
    auto d = decoder();
    const Duration limit = timeout ? seconds(std::max(0.0, *timeout)) : forever;
    Result<void> r = interruptible([&](std::stop_token stop) {
      return stream ? d->wait(*stream, limit, std::move(stop)) : d->wait(limit, std::move(stop));
    });
    if (r) return true;
    if (r.error().code() != ErrorCode::timeout) raise(r.error());
    return false;
  }

  void stop() {
    auto d = decoder();
    py::gil_scoped_release nogil;
    d->stop();
  }

  void close() {
    if (!decoder_) return;
    const auto d = std::move(decoder_);
    Result<void> r = [&] {
      py::gil_scoped_release nogil;
      return d->close();
    }();
    unwrap(std::move(r));
  }

  [[nodiscard]] std::string channel() const { return decoder()->channel(); }

 private:
  // The decoder, or Closed raised. Called with the GIL held (raising needs it); the shared
  // pointer keeps the decoder alive through a call that releases the GIL while another thread
  // closes it.
  [[nodiscard]] std::shared_ptr<MultiDecoder> decoder() const {
    if (!decoder_) raise(Error(ErrorCode::closed, "the MultiDecoder is closed"));
    return decoder_;
  }
  std::shared_ptr<MultiDecoder> decoder_;
};

py::dict probe(const std::string& source, double connect_timeout, double read_timeout) {
  ProbeOptions options;
  options.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(seconds(connect_timeout));
  options.read_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(seconds(read_timeout));
  Result<SourceInfo> info = [&] {
    py::gil_scoped_release nogil;
    return probe_source(source, options);
  }();
  const SourceInfo i = unwrap(std::move(info));
  py::dict out;
  out["source"] = i.source;
  out["kind"] = i.kind;
  out["width"] = i.width;
  out["height"] = i.height;
  out["native_fps"] = i.native_fps;
  out["frames"] = i.frames;
  return out;
}

}  // namespace

void bind_decoder(py::module_& m) {
  m.def("_probe", &probe, py::arg("source"), py::arg("connect_timeout"), py::arg("read_timeout"));
  py::class_<PyMultiDecoder>(m, "_MultiDecoder")
      .def(py::init<const std::string&, std::uint32_t, std::uint64_t, std::uint32_t, const std::string&,
                    const std::vector<std::string>&, std::optional<double>, double>(),
           py::arg("channel"), py::arg("slots"), py::arg("slot_size"), py::arg("mode"), py::arg("policy"),
           py::arg("groups"), py::arg("block_timeout"), py::arg("linger"))
      .def("add_stream", &PyMultiDecoder::add_stream, py::arg("source"))
      .def("remove_stream", &PyMultiDecoder::remove_stream, py::arg("id"))
      .def("status", &PyMultiDecoder::status, py::arg("id"))
      .def("statuses", &PyMultiDecoder::statuses)
      .def("wait", &PyMultiDecoder::wait, py::arg("timeout"), py::arg("stream"))
      .def("stop", &PyMultiDecoder::stop)
      .def("close", &PyMultiDecoder::close)
      .def_property_readonly("channel", &PyMultiDecoder::channel);
}

}  // namespace framebus::python
