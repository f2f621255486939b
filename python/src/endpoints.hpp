#pragma once
#include <pybind11/pybind11.h>

namespace framebus::python {
void bind_endpoints(pybind11::module_& m);
}
