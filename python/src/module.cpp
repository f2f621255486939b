// The private native module framebus._core; the public API is the framebus package around it.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdio>

#include "endpoints.hpp"
#include "errors.hpp"
#include "framebus/framebus.hpp"
#include "message.hpp"
#include "pipeline.hpp"
#ifdef FRAMEBUS_HAS_DECODE
#include "decoder.hpp"
#endif
#ifdef FRAMEBUS_HAS_CLASSIFY
#include "classifier.hpp"
#endif

namespace py = pybind11;

namespace framebus::python {
namespace {

py::dict channel_dict(const ChannelInfo& c) {
  py::dict d;
  d["name"] = c.name;
  d["path"] = c.path;
  d["error"] = c.error.empty() ? py::object(py::none()) : py::object(py::str(c.error));
  d["slot_count"] = c.slot_count;
  d["slot_size"] = c.slot_size;
  d["total_bytes"] = c.total_bytes;
  d["owner_uid"] = c.owner_uid;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", c.mode);
  d["mode"] = std::string(mode);  // as `framebus ls --json` writes it
  d["published"] = c.published;
  d["free_slots"] = c.free_slots;
  d["lobby"] = c.lobby;
  d["end_reason"] = c.end_reason;
  d["stale"] = c.stale;
  d["discarded"] = c.discarded;
  d["reclaimed"] = c.reclaimed;
  d["groups_removed"] = c.groups_removed;
  d["group_released"] = c.group_released;
  d["lock_holder_pid"] = c.lock_holder_pid == 0 ? py::object(py::none()) : py::object(py::int_(c.lock_holder_pid));
  d["lock_held_ms"] = c.lock_held_ms;
  py::list participants;
  for (const ParticipantInfo& p : c.participants) {
    py::dict pd;
    pd["pid"] = p.pid;
    pd["role"] = p.producer ? "producer" : "consumer";
    pd["group"] = p.group.empty() ? py::object(py::none()) : py::object(py::str(p.group));
    pd["alive"] = p.alive;
    pd["held"] = p.held;
    participants.append(pd);
  }
  d["participants"] = participants;
  py::list groups;
  for (const GroupInfo& g : c.groups) {
    py::dict gd;
    gd["name"] = g.name;
    gd["policy"] = std::string(to_string(g.policy));
    gd["members"] = g.members;
    gd["queued"] = g.queued;
    gd["held"] = g.held;
    gd["delivered"] = g.delivered;
    gd["dropped"] = g.dropped;
    gd["redelivered"] = g.redelivered;
    gd["declared"] = g.declared;
    gd["max_deliveries"] = g.max_deliveries;
    gd["expired"] = g.expired;
    gd["dead_letters"] = g.dead_letters;
    py::list dead;
    for (const DeadLetter& x : g.recent_dead_letters) {
      py::dict entry;
      entry["stream"] = x.stream;
      entry["frame"] = x.frame;
      entry["deliveries"] = x.deliveries;
      dead.append(entry);
    }
    gd["recent_dead_letters"] = dead;
    gd["pending"] = g.pending;
    gd["blocking"] = g.blocking;
    gd["orphaned_ms"] = g.orphaned_ms;
    py::list drops;
    for (const StreamDrops& s : g.drops_by_stream) {
      py::dict entry;
      entry["stream"] = s.stream;
      entry["dropped"] = s.dropped;
      drops.append(entry);
    }
    gd["drops_by_stream"] = drops;
    groups.append(gd);
  }
  d["groups"] = groups;
  return d;
}

}  // namespace
}  // namespace framebus::python

PYBIND11_MODULE(_core, m) {
  using namespace framebus;
  using namespace framebus::python;
  m.doc() = "framebus native core (private: use the framebus package)";
  load_error_classes();
  install_interrupt_hook();
  bind_message(m);
  bind_endpoints(m);
#ifdef FRAMEBUS_HAS_DECODE
  bind_decoder(m);
#endif
#ifdef FRAMEBUS_HAS_CLASSIFY
  bind_classifier(m);
#endif
  bind_pipeline(m);  // after the classifier: its Worker takes one

  m.def("list_channels", [] {
    py::list out;
    for (const ChannelInfo& c : list_channels()) out.append(channel_dict(c));
    return out;
  }, "Every framebus channel on this host, as `framebus ls --json` shows them.");
  m.def("inspect_channel", [](const std::string& name) { return channel_dict(unwrap(inspect_channel(name))); }, py::arg("name"));
  m.def("remove_channel", [](const std::string& name) { unwrap(remove_channel(name)); }, py::arg("name"));
  m.def("collect_garbage", [] { return collect_garbage(); });
  m.def("remove_group", [](const std::string& name, const std::string& group) { return unwrap(remove_group(name, group)); },
        py::arg("name"), py::arg("group"), "Removes a consumer group (refused while it has a live member); returns the messages released.");
  m.def("parse_size", [](const std::string& text) { return unwrap(parse_size(text)); }, py::arg("text"));
  m.def("validate_name", [](const std::string& name) { unwrap(validate_name(name)); }, py::arg("name"));
  m.attr("layout_version") = kLayoutVersion;
  m.attr("__version__") = std::to_string(kVersionMajor) + "." + std::to_string(kVersionMinor) + "." + std::to_string(kVersionPatch);
}
