// The pipeline pieces for Python: the result record and its one codec (the C++ one, so that a
// Python worker's records feed a C++ sink and the other way round), the reorder sink, and the
// C++ worker loop (batching, inference, publishing) run from Python with the GIL released.
#include "pipeline.hpp"

#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <span>
#include <string>

#include "errors.hpp"
#include "framebus/pipeline/result.hpp"
#include "framebus/pipeline/result_sink.hpp"
#include "interrupt.hpp"
#ifdef FRAMEBUS_HAS_CLASSIFY
#include "classifier.hpp"
#include "framebus/pipeline/worker.hpp"
#endif

namespace py = pybind11;

namespace framebus::python {
namespace {

using Kind = InferenceResult::Kind;

Duration seconds(double s) {
  if (!(s >= 0.0)) raise(Error(ErrorCode::invalid_argument, "a duration must be a non-negative number of seconds"));
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

Kind kind_from(const py::handle& kind) {
  if (py::isinstance<py::str>(kind)) {
    const auto name = kind.cast<std::string>();
    if (name == "frame") return Kind::frame;
    if (name == "end_of_stream") return Kind::end_of_stream;
    raise(Error(ErrorCode::invalid_argument, "result kind '" + name + "': 'frame' or 'end_of_stream' is expected"));
  }
  return kind.cast<Kind>();
}

std::vector<Prediction> top_from(const py::handle& top) {
  std::vector<Prediction> out;
  for (py::handle item : top) {
    auto pair = py::reinterpret_borrow<py::sequence>(item);
    if (pair.size() != 2) raise(Error(ErrorCode::invalid_argument, "a prediction is a (class_id, score) pair"));
    out.push_back({pair[0].cast<std::uint32_t>(), pair[1].cast<float>()});
  }
  if (out.size() > kMaxTopK) {
    raise(Error(ErrorCode::invalid_argument, "a result carries at most " + std::to_string(kMaxTopK) +
                                                 " predictions, not " + std::to_string(out.size())));
  }
  return out;
}

py::list top_to(const std::vector<Prediction>& top) {
  py::list out;
  for (const Prediction& p : top) out.append(py::make_tuple(p.class_id, p.score));
  return out;
}

py::bytes encode(const InferenceResult& r) {
  std::string buffer(encoded_result_size(), '\0');
  unwrap(encode_result(r, std::as_writable_bytes(std::span(buffer.data(), buffer.size()))));
  return py::bytes(buffer);
}

InferenceResult decode(const py::buffer& data) {
  py::buffer_info info = data.request();
  if (info.ndim != 1 || info.strides[0] != info.itemsize) {
    // A message's array (Message.array) is one flat run of bytes; anything else is copied flat.
    return decode(py::bytes(py::memoryview(data).attr("tobytes")()));
  }
  const auto* begin = static_cast<const std::byte*>(info.ptr);
  return unwrap(decode_result(std::span(begin, static_cast<std::size_t>(info.size * info.itemsize))));
}

std::string repr(const InferenceResult& r) {
  std::string s = "<framebus.InferenceResult ";
  s += r.kind == Kind::frame ? "frame" : "end_of_stream";
  s += " stream " + std::to_string(r.stream) + " frame " + std::to_string(r.frame) + " worker " +
       std::to_string(r.worker);
  if (!r.top.empty()) s += " top1 " + std::to_string(r.top.front().class_id);
  return s + ">";
}

py::list entries_to(std::vector<SinkEntry>& entries) {
  py::list out;
  for (SinkEntry& e : entries) out.append(py::cast(std::move(e)));
  entries.clear();
  return out;
}

// The C++ sink calls back for every entry it emits; the entries are collected and handed to
// Python as the return value, so that a Python exception never unwinds through the sink.
class PySink {
 public:
  explicit PySink(double gap_timeout)
      : sink_(SinkOptions{seconds(gap_timeout)}, [this](const SinkEntry& e) { emitted_.push_back(e); }) {}

  py::list add(InferenceResult r, std::int64_t now_ns) {
    sink_.add(std::move(r), now_ns);
    return entries_to(emitted_);
  }
  py::list tick(std::int64_t now_ns) {
    sink_.tick(now_ns);
    return entries_to(emitted_);
  }
  py::list finish(std::int64_t now_ns) {
    sink_.finish(now_ns);
    return entries_to(emitted_);
  }
  [[nodiscard]] const ResultSink& get() const { return sink_; }

 private:
  std::vector<SinkEntry> emitted_;
  ResultSink sink_;
};

#ifdef FRAMEBUS_HAS_CLASSIFY
// run_worker with a stop source: stop() from any thread wakes the worker's waits at once.
class PyWorker {
 public:
  PyWorker(py::object classifier, WorkerOptions options)
      : classifier_(std::move(classifier)), options_(std::move(options)) {
    native_classifier(classifier_);  // a TypeError now rather than in run()
    options_.stop = stop_.get_token();
  }

  WorkerStats run() {
    if (running_.exchange(true)) raise(Error(ErrorCode::invalid_argument, "this Worker is already running"));
    struct NotRunning {
      std::atomic<bool>& running;
      ~NotRunning() { running = false; }
    } not_running{running_};
    Classifier& classifier = native_classifier(classifier_);
    // Ctrl-C stops the worker as stop() does (after its current batch), then is raised.
    return unwrap(
        until_interrupted([&] { return run_worker(classifier, options_); }, [this] { stop_.request_stop(); }));
  }

  void stop() { stop_.request_stop(); }
  [[nodiscard]] bool stop_requested() const { return stop_.stop_requested(); }
  [[nodiscard]] const WorkerOptions& options() const { return options_; }

 private:
  py::object classifier_;  // the framebus._core._Classifier, kept alive while the worker exists
  WorkerOptions options_;
  std::stop_source stop_;
  std::atomic<bool> running_{false};
};
#endif

}  // namespace

void bind_pipeline(py::module_& m) {
  py::class_<InferenceResult> result(m, "InferenceResult",
                                     "One worker's report on one frame (or on the end of a stream); "
                                     "encoded by the C++ codec (framebus/pipeline/result.hpp).");
  py::enum_<Kind>(result, "Kind")
      .value("frame", Kind::frame, "A classified frame.")
      .value("end_of_stream", Kind::end_of_stream, "The stream's end marker: `frame` holds its frame count.");
  result
      .def(py::init([](const py::object& kind, std::uint32_t stream, std::uint64_t frame, std::int64_t pts_us,
                       const py::object& top, std::int64_t published_ns, std::int64_t received_ns,
                       std::int64_t infer_start_ns, std::int64_t infer_end_ns, std::uint32_t worker,
                       std::uint32_t batch_size, std::uint64_t batch, std::uint32_t worker_pid, bool redelivered) {
             // clang-format off
             return InferenceResult{
                 .kind = kind_from(kind), .stream = stream, .frame = frame, .pts_us = pts_us,
                 .published_ns = published_ns, .received_ns = received_ns,
                 .infer_start_ns = infer_start_ns, .infer_end_ns = infer_end_ns,
                 .worker = worker, .batch_size = batch_size, .batch = batch, .worker_pid = worker_pid,
                 .redelivered = redelivered, .top = top_from(top)};
             // clang-format on
           }),
           py::kw_only(), py::arg("kind") = Kind::frame, py::arg("stream") = 0, py::arg("frame") = 0,
           py::arg("pts_us") = 0, py::arg("top") = py::list(), py::arg("published_ns") = 0, py::arg("received_ns") = 0,
           py::arg("infer_start_ns") = 0, py::arg("infer_end_ns") = 0, py::arg("worker") = 0, py::arg("batch_size") = 0,
           py::arg("batch") = 0, py::arg("worker_pid") = 0, py::arg("redelivered") = false)
      .def_property(
          "kind", [](const InferenceResult& r) { return r.kind; },
          [](InferenceResult& r, const py::object& k) { r.kind = kind_from(k); })
      .def_readwrite("stream", &InferenceResult::stream)
      .def_readwrite("frame", &InferenceResult::frame)
      .def_readwrite("pts_us", &InferenceResult::pts_us)
      .def_readwrite("published_ns", &InferenceResult::published_ns)
      .def_readwrite("received_ns", &InferenceResult::received_ns)
      .def_readwrite("infer_start_ns", &InferenceResult::infer_start_ns)
      .def_readwrite("infer_end_ns", &InferenceResult::infer_end_ns)
      .def_readwrite("worker", &InferenceResult::worker)
      .def_readwrite("batch_size", &InferenceResult::batch_size)
      .def_readwrite("batch", &InferenceResult::batch)
      .def_readwrite("worker_pid", &InferenceResult::worker_pid)
      .def_readwrite("redelivered", &InferenceResult::redelivered)
      .def_property(
          "top", [](const InferenceResult& r) { return top_to(r.top); },
          [](InferenceResult& r, const py::object& top) { r.top = top_from(top); })
      .def_property_readonly("end_of_stream", [](const InferenceResult& r) { return r.kind == Kind::end_of_stream; })
      .def("encode", &encode, "The record's bytes, as a worker publishes them (encoded_result_size() bytes).")
      .def_static("decode", &decode, py::arg("data"),
                  "Reads a record from bytes or a buffer (a received Message's array, read in place); "
                  "Corrupt (VersionMismatch) when the bytes are not one.")
      .def(
          "__eq__",
          [](const InferenceResult& a, const InferenceResult& b) {
            return a.kind == b.kind && a.stream == b.stream && a.frame == b.frame && a.pts_us == b.pts_us &&
                   a.published_ns == b.published_ns && a.received_ns == b.received_ns &&
                   a.infer_start_ns == b.infer_start_ns && a.infer_end_ns == b.infer_end_ns && a.worker == b.worker &&
                   a.batch_size == b.batch_size && a.batch == b.batch && a.worker_pid == b.worker_pid &&
                   a.redelivered == b.redelivered && a.top == b.top;
          },
          py::is_operator())
      .def("__repr__", &repr)
      .def(
          py::pickle([](const InferenceResult& r) { return encode(r); }, [](const py::bytes& b) { return decode(b); }));
  m.def("encode_result", &encode, py::arg("result"));
  m.def("decode_result", &decode, py::arg("data"));
  m.def("encoded_result_size", &encoded_result_size);
  m.attr("max_top_k") = kMaxTopK;

  py::class_<SinkEntry>(m, "SinkEntry", "One frame emitted in order by a ResultSink: its result, or a gap.")
      .def_readonly("stream", &SinkEntry::stream)
      .def_readonly("frame", &SinkEntry::frame)
      .def_readonly("gap", &SinkEntry::gap)
      .def_property_readonly("result",
                             [](const SinkEntry& e) { return e.gap ? py::object(py::none()) : py::cast(e.result); })
      .def_readonly("arrived_ns", &SinkEntry::arrived_ns)
      .def_property_readonly("latency_ms",
                             [](const SinkEntry& e) {
                               return e.gap ? 0.0 : static_cast<double>(e.arrived_ns - e.result.published_ns) / 1e6;
                             })
      .def("__repr__", [](const SinkEntry& e) {
        return "<framebus.SinkEntry stream " + std::to_string(e.stream) + " frame " + std::to_string(e.frame) +
               (e.gap ? " gap>" : " worker " + std::to_string(e.result.worker) + ">");
      });

  py::class_<StreamTally>(m, "StreamTally", "What a ResultSink saw of one stream.")
      .def_readonly("emitted", &StreamTally::emitted)
      .def_readonly("gaps", &StreamTally::gaps)
      .def_readonly("duplicates", &StreamTally::duplicates)
      .def_readonly("late", &StreamTally::late)
      .def_readonly("redelivered", &StreamTally::redelivered)
      .def_readonly("frame_count", &StreamTally::frame_count)
      .def_readonly("next", &StreamTally::next)
      .def_readonly("first_ns", &StreamTally::first_ns)
      .def_readonly("last_ns", &StreamTally::last_ns)
      .def_property_readonly("finished", &StreamTally::finished)
      .def(
          "latency_percentile", [](const StreamTally& t, double p) { return t.latency.percentile(p); }, py::arg("p"),
          "The p-th percentile (0..100) of the publish-to-sink latency in ms (within 1%); 0 when empty.");

  py::class_<PySink>(m, "_ResultSink")
      .def(py::init<double>(), py::arg("gap_timeout"))
      .def("add", &PySink::add, py::arg("result"), py::arg("now_ns"))
      .def("tick", &PySink::tick, py::arg("now_ns"))
      .def("finish", &PySink::finish, py::arg("now_ns"))
      .def_property_readonly("all_finished", [](const PySink& s) { return s.get().all_finished(); })
      .def_property_readonly("streams", [](const PySink& s) { return s.get().streams(); });

#ifdef FRAMEBUS_HAS_CLASSIFY
  py::class_<WorkerStats>(m, "WorkerStats", "What a Worker did, once it returned.")
      .def_readonly("frames", &WorkerStats::frames)
      .def_readonly("batches", &WorkerStats::batches)
      .def_readonly("end_markers", &WorkerStats::end_markers)
      .def_readonly("redelivered", &WorkerStats::redelivered)
      .def_readonly("errors", &WorkerStats::errors)
      .def_property_readonly("busy", [](const WorkerStats& s) { return static_cast<double>(s.busy_ns) / 1e9; })
      .def_property_readonly("wall", [](const WorkerStats& s) { return static_cast<double>(s.wall_ns) / 1e9; })
      .def_property_readonly("end_reason", [](const WorkerStats& s) { return std::string(to_string(s.end)); })
      .def_property_readonly("last_error",
                             [](const WorkerStats& s) {
                               return s.last_error ? py::object(py::str(s.last_error->message()))
                                                   : py::object(py::none());
                             })
      .def("__repr__", [](const WorkerStats& s) {
        return "<framebus.WorkerStats " + std::to_string(s.frames) + " frames in " + std::to_string(s.batches) +
               " batches, end " + std::string(to_string(s.end)) + ">";
      });

  m.def("_results_channel_options", [] {
    const ProducerOptions o = results_channel_options();
    py::dict d;
    d["slots"] = o.slots;
    d["slot_size"] = o.slot_size;
    d["policy"] = std::string(to_string(o.policy));
    py::list groups;
    for (const GroupSpec& g : o.groups) {
      groups.append(py::make_tuple(
          g.name, g.policy ? py::object(py::str(std::string(to_string(*g.policy)))) : py::object(py::none())));
    }
    d["groups"] = groups;
    d["linger"] = std::chrono::duration<double>(o.linger).count();
    return d;
  });

  py::class_<PyWorker>(m, "_Worker")
      .def(py::init([](py::object classifier, const std::string& channel, const std::string& results,
                       const std::string& group, std::uint32_t batch, double batch_timeout, std::uint32_t worker_id,
                       bool copy_on_receive, double open_wait) {
             return std::make_unique<PyWorker>(std::move(classifier),
                                               WorkerOptions{.channel = channel,
                                                             .group = group,
                                                             .results = results,
                                                             .batch = batch,
                                                             .batch_timeout = seconds(batch_timeout),
                                                             .worker_id = worker_id,
                                                             .copy_on_receive = copy_on_receive,
                                                             .open_wait = seconds(open_wait)});
           }),
           py::arg("classifier"), py::arg("channel"), py::arg("results"), py::arg("group"), py::arg("batch"),
           py::arg("batch_timeout"), py::arg("worker_id"), py::arg("copy_on_receive"), py::arg("open_wait"))
      .def("run", &PyWorker::run)
      .def("stop", &PyWorker::stop)
      .def_property_readonly("stop_requested", &PyWorker::stop_requested);
#endif
#if defined(FRAMEBUS_HAS_DECODE) && defined(FRAMEBUS_HAS_CLASSIFY)
  bind_pipeline_run(m);
#endif
}

}  // namespace framebus::python
