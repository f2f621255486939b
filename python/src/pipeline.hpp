#pragma once
#include <pybind11/pybind11.h>

namespace framebus::python {
/// framebus._core.InferenceResult, the result codec, the sink and (with the classifier module)
/// the worker.
void bind_pipeline(pybind11::module_& m);
}
