// framebus.Pipeline's native half: the whole C++ pipeline (framebus::Pipeline) from keyword
// options, run with the GIL released, its ordered results taken one by one and its statistics
// as dicts with the keys of `framebus run --report`.
#include "pipeline.hpp"

#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "errors.hpp"
#include "framebus/pipeline/pipeline.hpp"
#include "from_json.hpp"
#include "interrupt.hpp"

namespace py = pybind11;

namespace framebus::python {
namespace {

[[noreturn]] void bad_option(const std::string& option, const std::string& why) {
  raise(Error(ErrorCode::invalid_argument, option + ": " + why));
}

// Seconds as a number or a datetime.timedelta.
Duration duration_from(const std::string& option, const py::handle& value) {
  double s = 0.0;
  try {
    s = py::hasattr(value, "total_seconds") ? value.attr("total_seconds")().cast<double>() : value.cast<double>();
  } catch (const py::cast_error&) {
    bad_option(option, "seconds (a number) or a datetime.timedelta is expected");
  }
  if (!(s >= 0.0)) bad_option(option, "must not be negative");
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

template <typename T>
T number_from(const std::string& option, const py::handle& value) {
  if (py::isinstance<py::bool_>(value) && !std::is_same_v<T, bool>) bad_option(option, "a number is expected");
  try {
    if constexpr (std::is_unsigned_v<T>) {
      const auto n = value.cast<long long>();
      if (n < 0) bad_option(option, "must not be negative, not " + std::to_string(n));
      return static_cast<T>(n);
    } else {
      return value.cast<T>();
    }
  } catch (const py::cast_error&) {
    bad_option(option,
               "a number is expected, not " + py::str(py::type::of(value).attr("__name__")).cast<std::string>());
  }
}

std::string text_from(const std::string& option, const py::handle& value) {
  if (py::hasattr(value, "__fspath__")) return py::str(value.attr("__fspath__")()).cast<std::string>();
  if (!py::isinstance<py::str>(value)) bad_option(option, "a string is expected");
  return value.cast<std::string>();
}

// A decoding option (PipelineOptions::decode, or one source's); false when `name` is not one.
bool decode_option(SourceOptions& d, const std::string& name, const py::handle& value) {
  if (name == "loop") {
    // None (or 0) loops until the run is stopped, as Decoder.add_stream(loop=None) does.
    d.loop = value.is_none() ? SourceOptions::kLoopForever : number_from<std::uint32_t>(name, value);
  } else if (name == "max_fps") {
    d.max_fps = number_from<double>(name, value);
  } else if (name == "realtime") {
    d.realtime = value.cast<bool>();
  } else if (name == "reconnect") {
    d.reconnect = value.cast<bool>();
  } else if (name == "width") {
    d.width = number_from<std::uint32_t>(name, value);
  } else if (name == "height") {
    d.height = number_from<std::uint32_t>(name, value);
  } else if (name == "decode_threads") {
    d.decode_threads = number_from<int>(name, value);
  } else {
    return false;
  }
  return true;
}

PipelineOptions options_from(const py::dict& kwargs) {
  PipelineOptions o;
  // Sources given as {"source": ..., "loop": 2, ...}: decoded as `decode` says but for the keys
  // they give, so they are applied once every keyword option is read.
  std::vector<std::pair<std::uint32_t, py::dict>> own_options;
  for (const auto& [key, value] : kwargs) {
    const auto name = key.cast<std::string>();
    if (decode_option(o.decode, name, value)) continue;
    if (name == "sources") {
      if (py::isinstance<py::str>(value)) bad_option(name, "a list of sources is expected, not one string");
      for (py::handle s : value) {
        if (!py::isinstance<py::dict>(s)) {
          o.sources.push_back(text_from(name, s));
          continue;
        }
        auto d = py::reinterpret_borrow<py::dict>(s);
        if (!d.contains("source")) bad_option(name, "a source given as a dict needs its \"source\"");
        own_options.emplace_back(static_cast<std::uint32_t>(o.sources.size()), d);
        o.sources.push_back(text_from(name, d["source"]));
      }
    } else if (name == "model") {
      o.model.model = text_from(name, value);
    } else if (name == "labels") {
      o.model.labels = text_from(name, value);
    } else if (name == "top_k") {
      o.model.top_k = number_from<std::uint32_t>(name, value);
    } else if (name == "input_size") {
      o.model.input_size = number_from<std::uint32_t>(name, value);
    } else if (name == "backend") {
      o.model.backend = text_from(name, value);
    } else if (name == "topology") {
      auto t = parse_topology(text_from(name, value));
      if (!t) bad_option(name, t.error().message());
      o.topology = *t;
    } else if (name == "workers") {
      o.workers = number_from<std::uint32_t>(name, value);
    } else if (name == "batch") {
      o.batch = number_from<std::uint32_t>(name, value);
    } else if (name == "batch_timeout") {
      o.batch_timeout = duration_from(name, value);
    } else if (name == "threads") {
      o.threads = number_from<int>(name, value);
    } else if (name == "copy") {
      o.copy = value.cast<bool>();
    } else if (name == "name") {
      o.name = text_from(name, value);
    } else if (name == "policy") {
      // A name, or a member of an enum of the same names.
      if (!py::isinstance<py::str>(value) && !py::hasattr(value, "name")) bad_option(name, "a policy name is expected");
      auto p = parse_policy(py::str(py::isinstance<py::str>(value) ? value : value.attr("name")).cast<std::string>());
      if (!p) bad_option(name, p.error().message());
      o.policy = *p;
    } else if (name == "slots") {
      o.slots = number_from<std::uint32_t>(name, value);
    } else if (name == "slot_size") {
      if (py::isinstance<py::str>(value)) {
        auto size = parse_size(value.cast<std::string>());
        if (!size) bad_option(name, size.error().message());
        o.slot_size = *size;
      } else {
        o.slot_size = number_from<std::uint64_t>(name, value);
      }
    } else if (name == "gap_timeout") {
      o.gap_timeout = duration_from(name, value);
    } else if (name == "progress_interval") {
      o.progress_interval = duration_from(name, value);
    } else if (name == "max_restarts") {
      o.max_restarts = number_from<std::uint32_t>(name, value);
    } else if (name == "executable") {
      if (!value.is_none()) o.executable = text_from(name, value);
    } else if (name == "collect_results") {
      o.collect_results = value.cast<bool>();
    } else {
      bad_option(name, "not an option of Pipeline");
    }
  }
  for (const auto& [index, d] : own_options) {
    SourceOptions s = o.decode;
    for (const auto& [key, value] : d) {
      const auto name = key.cast<std::string>();
      if (name != "source" && !decode_option(s, name, value)) {
        bad_option("sources[" + std::to_string(index) + "]." + name, "not an option of a source");
      }
    }
    o.source_options[index] = s;
  }
  return o;
}

// The library's JSON of the snapshot, as a dict: the same keys as `framebus run --report`.
py::dict stats_to(const RunSnapshot& s) { return from_json(to_json(s)); }

class PyPipeline {
 public:
  explicit PyPipeline(const py::kwargs& kwargs) : pipeline_(unwrap(Pipeline::create(options_from(kwargs)))) {}

  // Blocks without the GIL. Ctrl-C stops the run (decoder first, workers drain: the stop
  // callback of the call's token) and is raised once it has ended.
  py::tuple run() {
    const RunReport r = until_interrupted([this] { return pipeline_.run(); }, [this] { pipeline_.stop(); });
    return py::make_tuple(r.exit_status, stats_to(r.stats));
  }

  void stop() { pipeline_.stop(); }
  py::dict stats() const { return stats_to(pipeline_.stats()); }

  // None when `timeout` passes first, or once the run is over and every result was taken.
  // Ctrl-C stops the run; what it had done is still handed out, then KeyboardInterrupt raised.
  std::optional<SinkEntry> next_result(std::optional<double> timeout) {
    std::optional<Duration> wait;
    if (timeout) wait = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(std::max(0.0, *timeout)));
    return until_interrupted([&] { return pipeline_.next_result(wait); }, [this] { pipeline_.stop(); });
  }

 private:
  Pipeline pipeline_;
};

}  // namespace

void bind_pipeline_run(py::module_& m) {
  py::class_<PyPipeline>(m, "_Pipeline")
      .def(py::init<const py::kwargs&>())
      .def("run", &PyPipeline::run)
      .def("stop", &PyPipeline::stop)
      .def("stats", &PyPipeline::stats)
      .def("next_result", &PyPipeline::next_result, py::arg("timeout") = py::none());
  m.attr("PIPELINE_EXIT_OK") = kRunOk;
  m.attr("PIPELINE_EXIT_STREAM_FAILED") = kRunStreamFailed;
  m.attr("PIPELINE_EXIT_SETUP_FAILED") = kRunSetupFailed;
  m.attr("PIPELINE_EXIT_INTERRUPTED") = kRunInterrupted;
}

}  // namespace framebus::python
