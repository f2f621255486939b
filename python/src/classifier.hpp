#pragma once
#include <pybind11/pybind11.h>

namespace framebus {
class Classifier;
}

namespace framebus::python {
/// framebus._core._Classifier (only when the library was built with the classifier module).
void bind_classifier(pybind11::module_& m);
/// The C++ classifier inside a framebus._core._Classifier (for the pipeline's Worker); raises
/// TypeError for anything else.
Classifier& native_classifier(pybind11::handle core);
}  // namespace framebus::python
