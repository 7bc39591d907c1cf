//===- _runtime.cpp - Python bindings of the runtime C API ----------------===//
//
// The `sqz._runtime` extension: a thin pybind11 layer over include/sqz-c/sqz.h. It checks the
// arrays it is given against the manifest (dtype, shape; for dynamic dims the runtime checks
// sizes, bounds and shared names), makes them C-contiguous, allocates the outputs (for a
// dynamic model at the shapes the model infers from the inputs), releases the GIL while the
// model runs, and turns every C API failure into a `sqz.Error` carrying sqz_last_error()'s
// text. python/sqz/__init__.py is the public face.
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
  std::vector<int64_t> shape;    // -1 for a dynamic dim
  std::vector<int64_t> maxShape; // bounds: static dims repeat their size, -1 = no bound
  std::vector<std::string> dimNames; // "" when unnamed
  size_t nbytes;                 // 0 when a dim is dynamic

  bool dynamic() const {
    for (int64_t d : shape)
      if (d < 0)
        return true;
    return false;
  }
};

class Model {
public:
  explicit Model(const std::string &path) : handle(sqz_model_load(path.c_str()), &sqz_model_unload) {
    if (!handle)
      raise(sqz_last_error());
    sqz_model *m = handle.get();
    dynamic = sqz_model_is_dynamic(m) != 0;
    for (size_t i = 0, e = sqz_model_num_inputs(m); i < e; ++i)
      inputs.push_back(describe(m, i, false));
    for (size_t i = 0, e = sqz_model_num_outputs(m); i < e; ++i)
      outputs.push_back(describe(m, i, true));
  }

  /// Runs with `arrays[i]` as input i; returns the outputs in manifest order.
  std::vector<py::array> run(const std::vector<py::object> &arrays) {
    if (arrays.size() != inputs.size())
      raise("the model takes " + std::to_string(inputs.size()) + " inputs, got " +
            std::to_string(arrays.size()));
    std::vector<py::array> held; // keeps converted inputs alive during the run
    std::vector<const void *> inputPtrs;
    std::vector<std::vector<int64_t>> inputShapes;
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
      if (!fits(info, shape))
        raise("input '" + info.name + "' must have shape " + formatShape(info) + ", got " +
              formatShape(shape));
      py::array dense = py::array::ensure(given, py::array::c_style);
      held.push_back(dense);
      inputPtrs.push_back(dense.data());
      inputShapes.push_back(std::move(shape));
    }
    // A dynamic model's output shapes follow from the input shapes (the runtime checks those
    // against the bounds and shared dim names).
    std::vector<std::vector<int64_t>> outputShapes;
    std::vector<const int64_t *> inputShapePtrs;
    for (const std::vector<int64_t> &shape : inputShapes)
      inputShapePtrs.push_back(shape.data());
    if (dynamic) {
      std::vector<int64_t *> outputShapePtrs;
      for (const TensorInfo &info : outputs)
        outputShapes.emplace_back(info.shape.size());
      for (std::vector<int64_t> &shape : outputShapes)
        outputShapePtrs.push_back(shape.data());
      if (sqz_model_infer_output_shapes(handle.get(), inputShapePtrs.data(),
                                        outputShapePtrs.data()) != 0)
        raise(sqz_last_error());
    } else {
      for (const TensorInfo &info : outputs)
        outputShapes.push_back(info.shape);
    }
    std::vector<py::array> results;
    std::vector<void *> outputPtrs;
    for (size_t j = 0; j < outputs.size(); ++j) {
      py::array out(py::dtype(outputs[j].dtype), outputShapes[j]);
      outputPtrs.push_back(out.mutable_data());
      results.push_back(out);
    }
    int status;
    {
      py::gil_scoped_release release;
      status = dynamic ? sqz_model_run_shaped(handle.get(), inputShapePtrs.data(),
                                              inputPtrs.data(), outputPtrs.data())
                       : sqz_model_run(handle.get(), inputPtrs.data(), outputPtrs.data());
    }
    if (status != 0)
      raise(sqz_last_error());
    return results;
  }

  std::string source() const { return sqz_model_source(handle.get()); }

  std::vector<TensorInfo> inputs, outputs;
  bool dynamic = false;

private:
  static TensorInfo describe(sqz_model *m, size_t i, bool output) {
    size_t rank = output ? sqz_model_output_rank(m, i) : sqz_model_input_rank(m, i);
    const int64_t *shape = output ? sqz_model_output_shape(m, i) : sqz_model_input_shape(m, i);
    const int64_t *bounds =
        output ? sqz_model_output_max_shape(m, i) : sqz_model_input_max_shape(m, i);
    TensorInfo info{output ? sqz_model_output_name(m, i) : sqz_model_input_name(m, i),
                    output ? sqz_model_output_dtype(m, i) : sqz_model_input_dtype(m, i),
                    output ? sqz_model_output_onnx_dtype(m, i) : sqz_model_input_onnx_dtype(m, i),
                    std::vector<int64_t>(shape, shape + rank),
                    std::vector<int64_t>(bounds, bounds + rank),
                    {},
                    output ? sqz_model_output_nbytes(m, i) : sqz_model_input_nbytes(m, i)};
    for (size_t d = 0; d < rank; ++d)
      info.dimNames.push_back(output ? sqz_model_output_dim_name(m, i, d)
                                     : sqz_model_input_dim_name(m, i, d));
    return info;
  }

  /// Same rank and static dims (any size for a dynamic dim; the runtime checks its bound).
  static bool fits(const TensorInfo &info, const std::vector<int64_t> &shape) {
    if (shape.size() != info.shape.size())
      return false;
    for (size_t d = 0; d < shape.size(); ++d)
      if (info.shape[d] >= 0 && shape[d] != info.shape[d])
        return false;
    return true;
  }

  /// "(4, 16)", or "(batch, 16)" with a dynamic dim's name ("?" if unnamed).
  static std::string formatShape(const TensorInfo &info) {
    std::string text = "(";
    for (size_t i = 0; i < info.shape.size(); ++i)
      text += (i ? ", " : "") + (info.shape[i] >= 0      ? std::to_string(info.shape[i])
                                 : info.dimNames[i].empty() ? std::string("?")
                                                            : info.dimNames[i]);
    return text + (info.shape.size() == 1 ? ",)" : ")");
  }

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
      .def_property_readonly("max_shape",
                             [](const TensorInfo &t) {
                               py::tuple shape(t.maxShape.size());
                               for (size_t i = 0; i < t.maxShape.size(); ++i)
                                 shape[i] = t.maxShape[i];
                               return shape;
                             })
      .def_property_readonly("dim_names",
                             [](const TensorInfo &t) {
                               py::tuple names(t.dimNames.size());
                               for (size_t i = 0; i < t.dimNames.size(); ++i)
                                 names[i] = t.dimNames[i];
                               return names;
                             })
      .def_property_readonly("dynamic", &TensorInfo::dynamic)
      .def_readonly("nbytes", &TensorInfo::nbytes)
      .def("__repr__", [](const TensorInfo &t) {
        std::string shape;
        for (size_t i = 0; i < t.shape.size(); ++i)
          shape += (i ? "x" : "") + (t.shape[i] >= 0            ? std::to_string(t.shape[i])
                                     : t.dimNames[i].empty() ? std::string("?")
                                                             : t.dimNames[i]);
        return "TensorInfo(" + t.name + ": " + t.dtype + "[" + shape + "])";
      });

  py::class_<Model>(m, "Model")
      .def(py::init<const std::string &>(), py::arg("path"))
      .def_readonly("inputs", &Model::inputs)
      .def_readonly("outputs", &Model::outputs)
      .def_readonly("dynamic", &Model::dynamic)
      .def_property_readonly("source", &Model::source)
      .def("run", &Model::run, py::arg("arrays"));
}
