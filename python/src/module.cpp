// The private native module framebus._core; the public API is the framebus package around it.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdio>

#include "endpoints.hpp"
#include "errors.hpp"
#include "framebus/framebus.hpp"
#include "from_json.hpp"
#include "message.hpp"
#include "pipeline.hpp"
#ifdef FRAMEBUS_HAS_DECODE
#include "decoder.hpp"
#endif
#ifdef FRAMEBUS_HAS_CLASSIFY
#include "classifier.hpp"
#include "model.hpp"
#endif

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  using namespace framebus;
  using namespace framebus::python;
  m.doc() = "framebus native core (private: use the framebus package)";
  load_error_classes();
  bind_message(m);
  bind_endpoints(m);
#ifdef FRAMEBUS_HAS_DECODE
  bind_decoder(m);
#endif
#ifdef FRAMEBUS_HAS_CLASSIFY
  bind_classifier(m);
  bind_model(m);
#endif
  bind_pipeline(m);  // after the classifier: its Worker takes one

  m.def(
      "list_channels", [] { return from_json(to_json(list_channels())); },
      "Every framebus channel on this host, as `framebus list --json` shows them.");
  m.def(
      "inspect_channel", [](const std::string& name) { return from_json(to_json(unwrap(inspect_channel(name)))); },
      py::arg("name"));
  m.def(
      "remove_channel", [](const std::string& name) { unwrap(remove_channel(name)); }, py::arg("name"));
  m.def("collect_garbage", [] { return collect_garbage(); });
  m.def(
      "remove_group",
      [](const std::string& name, const std::string& group) { return unwrap(remove_group(name, group)); },
      py::arg("name"), py::arg("group"),
      "Removes a consumer group (refused while it has a live member); returns the messages released.");
  m.def(
      "parse_size", [](const std::string& text) { return unwrap(parse_size(text)); }, py::arg("text"));
  m.def(
      "validate_name", [](const std::string& name) { unwrap(validate_name(name)); }, py::arg("name"));
  m.attr("layout_version") = kLayoutVersion;
  m.attr("__version__") =
      std::to_string(kVersionMajor) + "." + std::to_string(kVersionMinor) + "." + std::to_string(kVersionPatch);
}
