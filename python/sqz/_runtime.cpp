//===- _runtime.cpp - Python bindings of the runtime C API ----------------===//
//
// The `sqz._runtime` extension: a thin pybind11 layer over include/sqz-c/sqz.h. It checks the
// arrays it is given against the manifest (dtype, shape), makes them C-contiguous, releases the
// GIL while the model runs, and turns every C API failure into a `sqz.Error` carrying
// sqz_last_error()'s text. python/sqz/__init__.py is the public face.
//
//===----------------------------------------------------------------------===//

#include "sqz-c/sqz.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

/// Python's sqz.Error (registered in the module init).
py::object &errorType() {
  static py::object type;
  return type;
}

[[noreturn]] void raise(const std::string &message) {
  PyErr_SetString(errorType().ptr(), message.c_str());
  throw py::error_already_set();
}

struct TensorInfo {
  std::string name;
  std::string dtype;      // NumPy name of the buffer's element type
  std::string onnxDType;  // logical ONNX type when it has no NumPy name, else ""
  std::vector<int64_t> shape;
  size_t nbytes;
};

class Model {
public:
  explicit Model(const std::string &path) : handle(sqz_model_load(path.c_str()), &sqz_model_unload) {
    if (!handle)
      raise(sqz_last_error());
    sqz_model *m = handle.get();
    for (size_t i = 0, e = sqz_model_num_inputs(m); i < e; ++i) {
      const int64_t *shape = sqz_model_input_shape(m, i);
      inputs.push_back({sqz_model_input_name(m, i), sqz_model_input_dtype(m, i),
                        sqz_model_input_onnx_dtype(m, i),
                        std::vector<int64_t>(shape, shape + sqz_model_input_rank(m, i)),
                        sqz_model_input_nbytes(m, i)});
    }
    for (size_t i = 0, e = sqz_model_num_outputs(m); i < e; ++i) {
      const int64_t *shape = sqz_model_output_shape(m, i);
      outputs.push_back({sqz_model_output_name(m, i), sqz_model_output_dtype(m, i),
                         sqz_model_output_onnx_dtype(m, i),
                         std::vector<int64_t>(shape, shape + sqz_model_output_rank(m, i)),
                         sqz_model_output_nbytes(m, i)});
    }
  }

  /// Runs with `arrays[i]` as input i; returns the outputs in manifest order.
  std::vector<py::array> run(const std::vector<py::object> &arrays) {
    if (arrays.size() != inputs.size())
      raise("the model takes " + std::to_string(inputs.size()) + " inputs, got " +
            std::to_string(arrays.size()));
    std::vector<py::array> held; // keeps converted inputs alive during the run
    std::vector<const void *> inputPtrs;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const TensorInfo &info = inputs[i];
      py::dtype want(info.dtype == "bool" ? std::string("bool") : info.dtype);
      py::array given = py::array::ensure(arrays[i]);
      if (!given)
        raise("input '" + info.name + "' is not an array");
      // Same kind and size (no silent float64 -> float32 conversions), C order.
      if (!given.dtype().is(want) && given.dtype().attr("str").cast<std::string>() !=
                                         want.attr("str").cast<std::string>())
        raise("input '" + info.name + "' must have dtype " + info.dtype + ", got " +
              py::str(given.dtype()).cast<std::string>());
      std::vector<int64_t> shape(given.shape(), given.shape() + given.ndim());
      if (shape != info.shape)
        raise("input '" + info.name + "' must have shape " + formatShape(info.shape) + ", got " +
              formatShape(shape));
      py::array dense = py::array::ensure(given, py::array::c_style);
      held.push_back(dense);
      inputPtrs.push_back(dense.data());
    }
    std::vector<py::array> results;
    std::vector<void *> outputPtrs;
    for (const TensorInfo &info : outputs) {
      py::array out(py::dtype(info.dtype), info.shape);
      outputPtrs.push_back(out.mutable_data());
      results.push_back(out);
    }
    int status;
    {
      py::gil_scoped_release release;
      status = sqz_model_run(handle.get(), inputPtrs.data(), outputPtrs.data());
    }
    if (status != 0)
      raise(sqz_last_error());
    return results;
  }

  std::string source() const { return sqz_model_source(handle.get()); }

  std::vector<TensorInfo> inputs, outputs;

private:
  static std::string formatShape(const std::vector<int64_t> &shape) {
    std::string text = "(";
    for (size_t i = 0; i < shape.size(); ++i)
      text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + (shape.size() == 1 ? ",)" : ")");
  }

  std::unique_ptr<sqz_model, void (*)(sqz_model *)> handle;
};

} // namespace

PYBIND11_MODULE(_runtime, m) {
  m.doc() = "Squeeze runtime (bindings of include/sqz-c/sqz.h)";
  errorType() = py::reinterpret_borrow<py::object>(
      PyErr_NewException("sqz.Error", PyExc_RuntimeError, nullptr));
  m.attr("Error") = errorType();
  m.attr("ABI_VERSION") = SQZ_ABI_VERSION;

  py::class_<TensorInfo>(m, "TensorInfo")
      .def_readonly("name", &TensorInfo::name)
      .def_readonly("dtype", &TensorInfo::dtype)
      .def_readonly("onnx_dtype", &TensorInfo::onnxDType)
      .def_property_readonly("shape",
                             [](const TensorInfo &t) {
                               py::tuple shape(t.shape.size());
                               for (size_t i = 0; i < t.shape.size(); ++i)
                                 shape[i] = t.shape[i];
                               return shape;
                             })
      .def_readonly("nbytes", &TensorInfo::nbytes)
      .def("__repr__", [](const TensorInfo &t) {
        std::string shape;
        for (size_t i = 0; i < t.shape.size(); ++i)
          shape += (i ? "x" : "") + std::to_string(t.shape[i]);
        return "TensorInfo(" + t.name + ": " + t.dtype + "[" + shape + "])";
      });

  py::class_<Model>(m, "Model")
      .def(py::init<const std::string &>(), py::arg("path"))
      .def_readonly("inputs", &Model::inputs)
      .def_readonly("outputs", &Model::outputs)
      .def_property_readonly("source", &Model::source)
      .def("run", &Model::run, py::arg("arrays"));
}
