// Model for Python: a dict of NumPy arrays in, a dict of NumPy arrays out (owned by Python, in the
// graph's output order). The graph runs with the GIL released; the input arrays are held until it
// returns.
#include "model.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>
#include <optional>

#include "errors.hpp"
#include "framebus/classify/model.hpp"

namespace py = pybind11;

namespace framebus::python {
namespace {

py::dtype numpy_of(DType dtype) {
  if (dtype == DType::bool8) return py::dtype("bool");
  return py::dtype(std::string(to_string(dtype)));
}

// The DType of a NumPy dtype; unknown for any other (object, complex, strings, ...).
DType dtype_of(const py::dtype& dt) {
  // Compared by value: an unpickled array has its own dtype object.
  static const DType kAll[] = {DType::uint8,   DType::int8,    DType::uint16,  DType::int16,
                               DType::uint32,  DType::int32,   DType::uint64,  DType::int64,
                               DType::float16, DType::float32, DType::float64, DType::bool8};
  for (const DType d : kAll) {
    if (dt.equal(numpy_of(d))) return d;
  }
  return DType::unknown;
}

py::list infos(const std::vector<TensorInfo>& list) {
  py::list out;
  for (const TensorInfo& t : list) {
    py::object dims = t.has_shape ? py::cast(t.dims) : py::none();
    py::object dtype = t.dtype == DType::unknown ? py::none() : py::object(numpy_of(t.dtype));
    out.append(py::make_tuple(t.name, dims, dtype));
  }
  return out;
}

class PyModel {
 public:
  explicit PyModel(ModelLoadOptions options) {
    Result<Model> m = [&] {
      py::gil_scoped_release nogil;
      return Model::create(std::move(options));
    }();
    model_.emplace(unwrap(std::move(m)));
  }

  py::dict run(const py::dict& inputs) {
    std::vector<py::array> arrays;  // keeps each array (or its contiguous copy) alive
    std::vector<std::vector<std::int64_t>> shapes;
    std::vector<std::string> names;
    arrays.reserve(inputs.size());
    shapes.reserve(inputs.size());
    names.reserve(inputs.size());
    for (auto item : inputs) {
      if (!py::isinstance<py::str>(item.first)) {
        raise(Error(
            ErrorCode::invalid_argument,
            "input names are strings, not " + py::str(py::type::of(item.first).attr("__name__")).cast<std::string>()));
      }
      names.push_back(item.first.cast<std::string>());
      if (!py::isinstance<py::array>(item.second)) {
        raise(Error(ErrorCode::invalid_argument,
                    "input '" + names.back() + "': a " +
                        py::str(py::type::of(item.second).attr("__name__")).cast<std::string>() +
                        "; a NumPy array is expected"));
      }
      auto arr = py::array::ensure(item.second, py::array::c_style);
      if (dtype_of(arr.dtype()) == DType::unknown) {
        raise(Error(ErrorCode::invalid_argument, "input '" + names.back() + "': dtype " +
                                                     py::str(arr.dtype()).cast<std::string>() +
                                                     " is not a numeric type a model takes"));
      }
      shapes.emplace_back(arr.shape(), arr.shape() + arr.ndim());
      arrays.push_back(std::move(arr));
    }
    std::vector<TensorRef> refs;
    refs.reserve(arrays.size());
    for (std::size_t i = 0; i < arrays.size(); ++i) {
      refs.push_back(TensorRef{names[i], dtype_of(arrays[i].dtype()), shapes[i], arrays[i].data()});
    }
    Result<std::vector<OwnedTensor>> result = [&] {
      py::gil_scoped_release nogil;
      return model_->run(refs);
    }();
    py::dict out;
    for (const OwnedTensor& t : unwrap(std::move(result))) {
      std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
      py::array arr(numpy_of(t.dtype), shape);
      if (!t.data.empty()) std::memcpy(arr.mutable_data(), t.data.data(), t.data.size());
      out[py::str(t.name)] = std::move(arr);
    }
    return out;
  }

  [[nodiscard]] const Model& get() const { return *model_; }

 private:
  std::optional<Model> model_;
};

}  // namespace

void bind_model(py::module_& m) {
  py::class_<PyModel>(m, "_Model")
      .def(py::init([](const std::string& path, const py::bytes& data, int threads, const std::string& backend) {
             ModelLoadOptions o;
             o.path = path;
             o.bytes = std::string(data);
             o.threads = threads;
             o.backend = backend;
             return std::make_unique<PyModel>(std::move(o));
           }),
           py::arg("path"), py::arg("data") = py::bytes(), py::arg("threads") = 0, py::arg("backend") = "opencv",
           "Loads an ONNX model from `path`, or from `data` (its bytes; `path` then only names it).")
      .def("run", &PyModel::run, py::arg("inputs"),
           "Runs the graph on {name: array}; returns {name: array} in the graph's output order.")
      .def_property_readonly("path", [](const PyModel& p) { return p.get().options().path; })
      .def_property_readonly("graph_name", [](const PyModel& p) { return p.get().graph_name(); })
      .def_property_readonly(
          "inputs", [](const PyModel& p) { return infos(p.get().inputs()); },
          "[(name, dims or None, numpy dtype or None)]: -1 marks a dynamic dimension.")
      .def_property_readonly("outputs", [](const PyModel& p) { return infos(p.get().outputs()); });
}

}  // namespace framebus::python
