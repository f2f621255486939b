#pragma once
#include <pybind11/pybind11.h>

namespace framebus::python {
/// framebus._core._MultiDecoder (only when the library was built with the decoder module).
void bind_decoder(pybind11::module_& m);
}  // namespace framebus::python
