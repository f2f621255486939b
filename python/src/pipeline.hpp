#pragma once
#include <pybind11/pybind11.h>

namespace framebus::python {
/// framebus._core.InferenceResult, the result codec, the sink and (with the classifier module)
/// the worker.
void bind_pipeline(pybind11::module_& m);
/// framebus._core._Pipeline, the whole pipeline (with the decoder and classifier modules).
void bind_pipeline_run(pybind11::module_& m);
}  // namespace framebus::python
