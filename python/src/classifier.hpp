#pragma once
#include <pybind11/pybind11.h>

namespace framebus::python {
/// framebus._core._Classifier (only when the library was built with the classifier module).
void bind_classifier(pybind11::module_& m);
}
