// Classifier for Python: NumPy pictures and received Messages, both read in place. Inference runs
// with the GIL released; the arrays and samples it reads are held until it returns.
#include "classifier.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <limits>
#include <optional>

#include "errors.hpp"
#include "framebus/classify/classifier.hpp"
#include "message.hpp"

namespace py = pybind11;

namespace framebus::python {
namespace {

[[noreturn]] void bad_image(std::size_t index, const std::string& what) {
  raise(Error(ErrorCode::invalid_argument, "image " + std::to_string(index) + ": " + what));
}

// An H x W x 3 (BGR) or H x W (gray) uint8 array whose pixels are contiguous within a row (any
// row stride); anything else strided is made contiguous first (one copy), as NumPy would.
ImageRef array_image(py::handle item, std::size_t index, std::vector<py::object>& keep) {
  auto arr = py::reinterpret_borrow<py::array>(item);
  // Compared by value: an unpickled array (from a multiprocessing queue) has its own dtype object.
  if (!arr.dtype().equal(py::dtype::of<std::uint8_t>())) {
    bad_image(index, "dtype " + py::str(arr.dtype()).cast<std::string>() + "; uint8 pixels are expected");
  }
  const bool gray = arr.ndim() == 2 || (arr.ndim() == 3 && arr.shape(2) == 1);
  if (!gray && !(arr.ndim() == 3 && arr.shape(2) == 3)) {
    std::string shape;
    for (py::ssize_t i = 0; i < arr.ndim(); ++i) shape += (i != 0 ? " x " : "") + std::to_string(arr.shape(i));
    bad_image(index, "shape " + shape + "; H x W x 3 (BGR) or H x W (gray) is expected");
  }
  const py::ssize_t pixel = gray ? 1 : 3;
  const bool rows_packed = arr.ndim() < 3 || arr.strides(2) == 1;
  if (!rows_packed || arr.strides(1) != pixel || arr.strides(0) < arr.shape(1) * pixel) {
    arr = py::array::ensure(arr, py::array::c_style);
  }
  if (arr.shape(0) > std::numeric_limits<std::int32_t>::max() ||
      arr.shape(1) > std::numeric_limits<std::int32_t>::max() ||
      arr.strides(0) > std::numeric_limits<std::uint32_t>::max()) {
    bad_image(index, "too large");
  }
  keep.push_back(arr);
  ImageRef ref;
  ref.data = static_cast<const std::byte*>(arr.data());
  ref.desc.width = static_cast<std::uint32_t>(arr.shape(1));
  ref.desc.height = static_cast<std::uint32_t>(arr.shape(0));
  ref.desc.format = gray ? PixelFormat::gray8 : PixelFormat::bgr24;
  ref.desc.plane_count = 1;
  ref.desc.stride[0] = static_cast<std::uint32_t>(arr.strides(0));
  return ref;
}

class PyClassifier {
 public:
  explicit PyClassifier(ClassifierOptions options) {
    Result<Classifier> c = [&] {
      py::gil_scoped_release nogil;
      return Classifier::create(std::move(options));
    }();
    classifier_.emplace(unwrap(std::move(c)));
  }

  py::list classify(const py::iterable& images) {
    std::vector<ImageRef> refs;
    std::vector<py::object> arrays;  // keeps each array (or its contiguous copy) alive
    std::vector<Message> samples;    // keeps each message's slot
    std::size_t index = 0;
    for (py::handle item : images) {
      if (py::isinstance<PyMessage>(item) && item.cast<const PyMessage&>().detached()) {
        // A private copy (Consumer(writable=True)): its array is the image.
        refs.push_back(array_image(item.cast<PyMessage&>().array(item), index, arrays));
      } else if (py::isinstance<PyMessage>(item)) {
        const Message& s = item.cast<const PyMessage&>().message();
        auto ref = image_of(s);
        if (!ref) bad_image(index, ref.error().message());
        samples.push_back(s);
        refs.push_back(*ref);
      } else if (py::isinstance<py::array>(item)) {
        refs.push_back(array_image(item, index, arrays));
      } else {
        bad_image(index, "a " + py::str(py::type::of(item).attr("__name__")).cast<std::string>() +
                             "; a NumPy array or a framebus.Message is expected");
      }
      ++index;
    }
    Result<std::vector<std::vector<Prediction>>> result = [&] {
      py::gil_scoped_release nogil;
      return classifier_->classify(refs);
    }();
    py::list out;
    for (const auto& list : unwrap(std::move(result))) {
      py::list row;
      for (const Prediction& p : list) row.append(py::make_tuple(p.class_id, p.score));
      out.append(std::move(row));
    }
    return out;
  }

  [[nodiscard]] const Classifier& get() const { return *classifier_; }
  [[nodiscard]] Classifier& get() { return *classifier_; }

 private:
  std::optional<Classifier> classifier_;
};

}  // namespace

Classifier& native_classifier(py::handle core) { return core.cast<PyClassifier&>().get(); }

void bind_classifier(py::module_& m) {
  py::class_<PyClassifier>(m, "_Classifier")
      .def(py::init([](const std::string& model, const std::string& labels, const std::string& backend,
                       std::uint32_t width, std::uint32_t height, std::array<float, 3> mean, std::array<float, 3> std,
                       bool swap_rb, std::uint32_t top_k, int threads, std::uint32_t max_batch) {
             ClassifierOptions o;
             o.model = model;
             o.labels = labels;
             o.backend = backend;
             o.input_width = width;
             o.input_height = height;
             o.mean = mean;
             o.std = std;
             o.swap_rb = swap_rb;
             o.top_k = top_k;
             o.threads = threads;
             o.max_batch = max_batch;
             return std::make_unique<PyClassifier>(std::move(o));
           }),
           py::arg("model"), py::arg("labels"), py::arg("backend"), py::arg("width"), py::arg("height"),
           py::arg("mean"), py::arg("std"), py::arg("swap_rb"), py::arg("top_k"), py::arg("threads"),
           py::arg("max_batch"))
      .def("classify", &PyClassifier::classify, py::arg("images"))
      .def_property_readonly("labels", [](const PyClassifier& c) { return c.get().labels(); })
      .def_property_readonly("classes", [](const PyClassifier& c) { return c.get().classes(); })
      .def_property_readonly("input_size", [](const PyClassifier& c) {
        return py::make_tuple(c.get().input_width(), c.get().input_height());
      });
}

}  // namespace framebus::python
