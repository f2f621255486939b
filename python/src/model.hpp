#pragma once
#include <pybind11/pybind11.h>

namespace framebus::python {
/// framebus._core._Model (only when the library was built with the classifier module).
void bind_model(pybind11::module_& m);
}  // namespace framebus::python
