#pragma once
// The library's JSON encoders are the one description of a channel, a stream's status and a
// run's statistics (the CLI prints the same), so Python decodes their text rather than building
// dicts of its own.

#include <pybind11/pybind11.h>

#include <string>

namespace framebus::python {

inline pybind11::object from_json(const std::string& text) {
  return pybind11::module_::import("json").attr("loads")(text);
}

}  // namespace framebus::python
