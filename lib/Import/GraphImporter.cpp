//===- GraphImporter.cpp - ONNX graph to sqz graph IR ----------------------===//
//
// The importer driver. In order:
//   1. support scan: every unsupported op/opset/dtype (and external data) is collected and
//      reported together, one error per distinct problem;
//   2. input shapes: `--input-shape` pins are applied, remaining dynamic dims are errors;
//   3. the ONNX checker and strict shape inference (OnnxModel.cpp, the exception boundary);
//   4. IR construction: graph inputs become `func.func @main` arguments, initializers and
//      Constant outputs become import-time `HostTensor`s materialized as `arith.constant` on
//      first use, each node is imported by its op table entry (a node whose import fails
//      poisons its outputs, so independent problems are still all reported);
//   5. verification of the module.
//
//===----------------------------------------------------------------------===//

#include "GraphImporter.h"
#include "OnnxModel.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"
#include "sqz/Import/OnnxImporter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cstring>
#include <deque>

using namespace mlir;
using namespace mlir::sqz;
using namespace mlir::sqz::import;

//===----------------------------------------------------------------------===//
// Data types
//===----------------------------------------------------------------------===//

Type mlir::sqz::import::getElementType(MLIRContext *context, int32_t dtype) {
  Builder b(context);
  switch (dtype) {
  case onnx::TensorProto::FLOAT:
    return b.getF32Type();
  case onnx::TensorProto::FLOAT16:
    return b.getF16Type();
  case onnx::TensorProto::DOUBLE:
    return b.getF64Type();
  case onnx::TensorProto::INT64:
    return b.getI64Type();
  case onnx::TensorProto::INT32:
    return b.getI32Type();
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
    return b.getI8Type();
  case onnx::TensorProto::BOOL:
    return b.getI1Type();
  default:
    return nullptr;
  }
}

int64_t mlir::sqz::import::getDTypeSize(int32_t dtype) {
  switch (dtype) {
  case onnx::TensorProto::DOUBLE:
  case onnx::TensorProto::INT64:
    return 8;
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::INT32:
    return 4;
  case onnx::TensorProto::FLOAT16:
    return 2;
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::BOOL:
    return 1;
  default:
    return 0;
  }
}

std::string mlir::sqz::import::getDTypeName(int32_t dtype) {
  if (onnx::TensorProto::DataType_IsValid(dtype))
    return llvm::StringRef(
               onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(dtype)))
        .lower();
  return "dtype #" + std::to_string(dtype);
}

bool mlir::sqz::import::isFloatDType(int32_t dtype) {
  return dtype == onnx::TensorProto::FLOAT || dtype == onnx::TensorProto::FLOAT16 ||
         dtype == onnx::TensorProto::DOUBLE;
}

bool mlir::sqz::import::isUnsignedDType(int32_t dtype) { return dtype == onnx::TensorProto::UINT8; }

//===----------------------------------------------------------------------===//
// HostTensor
//===----------------------------------------------------------------------===//

HostTensor HostTensor::allocate(StringRef name, int32_t dtype, ArrayRef<int64_t> shape) {
  HostTensor tensor;
  tensor.name = name.str();
  tensor.dtype = dtype;
  tensor.shape.assign(shape.begin(), shape.end());
  tensor.storage = std::make_shared<std::vector<char>>(
      static_cast<size_t>(tensor.getNumElements() * getDTypeSize(dtype)), 0);
  tensor.data = ArrayRef<char>(tensor.storage->data(), tensor.storage->size());
  return tensor;
}

int64_t HostTensor::getNumElements() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

MutableArrayRef<char> HostTensor::getMutableData() {
  assert(storage && data.data() == storage->data() && "tensor does not own its data");
  return MutableArrayRef<char>(storage->data(), storage->size());
}

template <typename T> static T loadAs(ArrayRef<char> data, int64_t index) {
  T value;
  std::memcpy(&value, data.data() + index * sizeof(T), sizeof(T));
  return value;
}

template <typename T> static void storeAs(MutableArrayRef<char> data, int64_t index, T value) {
  std::memcpy(data.data() + index * sizeof(T), &value, sizeof(T));
}

double HostTensor::getDouble(int64_t index) const {
  switch (dtype) {
  case onnx::TensorProto::FLOAT:
    return loadAs<float>(data, index);
  case onnx::TensorProto::DOUBLE:
    return loadAs<double>(data, index);
  case onnx::TensorProto::FLOAT16: {
    llvm::APFloat value(llvm::APFloat::IEEEhalf(), llvm::APInt(16, loadAs<uint16_t>(data, index)));
    return value.convertToDouble();
  }
  default:
    return static_cast<double>(getInt(index));
  }
}

int64_t HostTensor::getInt(int64_t index) const {
  switch (dtype) {
  case onnx::TensorProto::INT64:
    return loadAs<int64_t>(data, index);
  case onnx::TensorProto::INT32:
    return loadAs<int32_t>(data, index);
  case onnx::TensorProto::INT8:
    return loadAs<int8_t>(data, index);
  case onnx::TensorProto::UINT8:
    return loadAs<uint8_t>(data, index);
  case onnx::TensorProto::BOOL:
    return loadAs<uint8_t>(data, index) != 0;
  default:
    return static_cast<int64_t>(getDouble(index));
  }
}

void HostTensor::setDouble(int64_t index, double value) {
  MutableArrayRef<char> bytes = getMutableData();
  switch (dtype) {
  case onnx::TensorProto::FLOAT:
    return storeAs<float>(bytes, index, static_cast<float>(value));
  case onnx::TensorProto::DOUBLE:
    return storeAs<double>(bytes, index, value);
  case onnx::TensorProto::FLOAT16: {
    llvm::APFloat half(value);
    bool losesInfo = false;
    half.convert(llvm::APFloat::IEEEhalf(), llvm::APFloat::rmNearestTiesToEven, &losesInfo);
    return storeAs<uint16_t>(bytes, index,
                             static_cast<uint16_t>(half.bitcastToAPInt().getZExtValue()));
  }
  default:
    return setInt(index, static_cast<int64_t>(value));
  }
}

void HostTensor::setInt(int64_t index, int64_t value) {
  MutableArrayRef<char> bytes = getMutableData();
  switch (dtype) {
  case onnx::TensorProto::INT64:
    return storeAs<int64_t>(bytes, index, value);
  case onnx::TensorProto::INT32:
    return storeAs<int32_t>(bytes, index, static_cast<int32_t>(value));
  case onnx::TensorProto::INT8:
    return storeAs<int8_t>(bytes, index, static_cast<int8_t>(value));
  case onnx::TensorProto::UINT8:
    return storeAs<uint8_t>(bytes, index, static_cast<uint8_t>(value));
  case onnx::TensorProto::BOOL:
    return storeAs<uint8_t>(bytes, index, value != 0);
  default:
    return setDouble(index, static_cast<double>(value));
  }
}

/// Copies a typed repeated field into `tensor`, converting each value with `convert`.
template <typename Field, typename Convert>
static LogicalResult copyTypedField(const Field &field, HostTensor &tensor, Convert convert,
                                    std::string &error) {
  if (static_cast<int64_t>(field.size()) != tensor.getNumElements()) {
    error = "tensor '" + tensor.name + "' has " + std::to_string(field.size()) +
            " values, its shape needs " + std::to_string(tensor.getNumElements());
    return failure();
  }
  for (int64_t i = 0, e = field.size(); i < e; ++i)
    convert(tensor, i, field.Get(static_cast<int>(i)));
  return success();
}

FailureOr<HostTensor> mlir::sqz::import::readTensorProto(const onnx::TensorProto &proto,
                                                         std::string &error) {
  const std::string &name = proto.name();
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    for (const onnx::StringStringEntryProto &entry : proto.external_data())
      if (entry.key() == "location")
        location = entry.value();
    error = "tensor '" + name + "' keeps its data in an external file ('" + location +
            "'); external data is not supported yet";
    return failure();
  }
  int32_t dtype = proto.data_type();
  int64_t elementSize = getDTypeSize(dtype);
  if (elementSize == 0) {
    error = "unsupported ONNX dtype '" + getDTypeName(dtype) + "' of tensor '" + name + "'";
    return failure();
  }
  SmallVector<int64_t> shape;
  int64_t numElements = 1;
  for (int64_t dim : proto.dims()) {
    if (dim < 0 || (dim > 0 && numElements > (int64_t(1) << 48) / dim)) {
      error = "tensor '" + name + "' has an invalid shape";
      return failure();
    }
    shape.push_back(dim);
    numElements *= dim;
  }

  if (proto.has_raw_data()) {
    const std::string &raw = proto.raw_data();
    if (static_cast<int64_t>(raw.size()) != numElements * elementSize) {
      error = "tensor '" + name + "' has " + std::to_string(raw.size()) +
              " bytes of raw data, its shape and dtype need " +
              std::to_string(numElements * elementSize);
      return failure();
    }
    HostTensor tensor;
    tensor.name = name;
    tensor.dtype = dtype;
    tensor.shape = shape;
    tensor.data = ArrayRef<char>(raw.data(), raw.size());
    return tensor;
  }

  HostTensor tensor = HostTensor::allocate(name, dtype, shape);
  auto setInt = [](HostTensor &t, int64_t i, int64_t v) { t.setInt(i, v); };
  auto setDouble = [](HostTensor &t, int64_t i, double v) { t.setDouble(i, v); };
  LogicalResult copied = success();
  switch (dtype) {
  case onnx::TensorProto::FLOAT:
    copied = copyTypedField(proto.float_data(), tensor, setDouble, error);
    break;
  case onnx::TensorProto::DOUBLE:
    copied = copyTypedField(proto.double_data(), tensor, setDouble, error);
    break;
  case onnx::TensorProto::INT64:
    copied = copyTypedField(proto.int64_data(), tensor, setInt, error);
    break;
  case onnx::TensorProto::FLOAT16:
    // float16 values are stored as their bit patterns in int32_data.
    copied = copyTypedField(
        proto.int32_data(), tensor,
        [](HostTensor &t, int64_t i, int32_t bits) {
          storeAs<uint16_t>(t.getMutableData(), i, static_cast<uint16_t>(bits));
        },
        error);
    break;
  default: // int32, int8, uint8, bool all live in int32_data.
    copied = copyTypedField(proto.int32_data(), tensor, setInt, error);
    break;
  }
  if (failed(copied))
    return failure();
  return tensor;
}

HostTensor mlir::sqz::import::transposeHostTensor(const HostTensor &tensor,
                                                  ArrayRef<int64_t> perm) {
  int64_t rank = tensor.shape.size();
  assert(static_cast<int64_t>(perm.size()) == rank && "bad permutation");
  SmallVector<int64_t> shape, inputStrides(rank, 1);
  for (int64_t d = rank - 2; d >= 0; --d)
    inputStrides[d] = inputStrides[d + 1] * tensor.shape[d + 1];
  for (int64_t p : perm)
    shape.push_back(tensor.shape[p]);
  int64_t size = getDTypeSize(tensor.dtype);
  HostTensor result = HostTensor::allocate(tensor.name, tensor.dtype, shape);
  MutableArrayRef<char> out = result.getMutableData();
  // Walk the result in order, keeping the input offset of the current index.
  SmallVector<int64_t> index(rank, 0);
  int64_t inputOffset = 0;
  for (int64_t i = 0, e = result.getNumElements(); i < e; ++i) {
    std::memcpy(out.data() + i * size, tensor.data.data() + inputOffset * size, size);
    for (int64_t d = rank - 1; d >= 0; --d) {
      inputOffset += inputStrides[perm[d]];
      if (++index[d] < shape[d])
        break;
      inputOffset -= inputStrides[perm[d]] * shape[d];
      index[d] = 0;
    }
  }
  return result;
}

//===----------------------------------------------------------------------===//
// GraphImporter
//===----------------------------------------------------------------------===//

namespace {

/// Problems found by a scan, each distinct one reported once (with how often it recurred).
class ProblemList {
public:
  /// `repeatNoun` names what a repeat is ("node", "tensor").
  void add(StringRef key, Location loc, const std::string &message,
           StringRef repeatNoun = "place") {
    auto [it, inserted] = index.try_emplace(key, problems.size());
    if (inserted)
      problems.push_back(Problem{loc, message, repeatNoun.str(), 0});
    else
      ++problems[it->second].repeats;
  }
  bool empty() const { return problems.empty(); }
  /// Emits every problem; returns failure if there was any.
  LogicalResult emit() {
    for (const Problem &problem : problems) {
      InFlightDiagnostic diag = mlir::emitError(problem.loc) << problem.message;
      if (problem.repeats)
        diag << " (and " << problem.repeats << " more " << problem.repeatNoun
             << (problem.repeats > 1 ? "s" : "") << ")";
    }
    return failure(!problems.empty());
  }

private:
  struct Problem {
    Location loc;
    std::string message;
    std::string repeatNoun;
    unsigned repeats;
  };
  std::vector<Problem> problems;
  llvm::StringMap<size_t> index;
};

} // namespace

namespace mlir::sqz::import {

class GraphImporter {
public:
  GraphImporter(MLIRContext *context, onnx::ModelProto &model, StringRef fileName,
                const OnnxImportOptions &options)
      : context(context), model(model), fileName(fileName.str()), options(options),
        builder(context) {}

  OwningOpRef<ModuleOp> run();

  /// What an ONNX value name stands for while importing.
  struct ValueEntry {
    Value value;                          // null for a constant not yet materialized
    const HostTensor *constant = nullptr; // set when known at import time
    int32_t dtype = 0;
    LocationAttr loc; // where a constant is materialized
  };

  ValueEntry *lookup(StringRef name) {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
  void define(StringRef name, ValueEntry entry) {
    if (!name.empty())
      values[name] = entry;
  }
  const HostTensor *addConstant(HostTensor tensor) {
    constants.push_back(std::move(tensor));
    return &constants.back();
  }
  Value materialize(ValueEntry &entry);
  RankedTensorType getType(const ValueEntry &entry);

private:
  LogicalResult scanSupport();
  LogicalResult pinInputShapes();
  LogicalResult validateModel();
  OwningOpRef<ModuleOp> buildModule();

  int64_t getOpsetVersion(StringRef domain) const;
  std::string getNodeName(int index) const;
  Location getNameLoc(StringRef name) { return NameLoc::get(StringAttr::get(context, name)); }
  llvm::StringSet<> getInitializerNames() const;

  MLIRContext *context;
  onnx::ModelProto &model;
  std::string fileName;
  const OnnxImportOptions &options;
  OpBuilder builder;
  llvm::StringMap<ValueEntry> values;
  std::deque<HostTensor> constants;
  DenseMap<const HostTensor *, Value> materialized;
};

} // namespace mlir::sqz::import

static bool isDefaultDomain(StringRef domain) { return domain.empty() || domain == "ai.onnx"; }

int64_t GraphImporter::getOpsetVersion(StringRef domain) const {
  for (const onnx::OperatorSetIdProto &opset : model.opset_import()) {
    StringRef importDomain = opset.domain();
    if (importDomain == domain || (isDefaultDomain(importDomain) && isDefaultDomain(domain)))
      return opset.version();
  }
  // IR versions before 3 had no opset_import; they mean default opset 1.
  if (isDefaultDomain(domain) && model.opset_import_size() == 0)
    return 1;
  return -1;
}

std::string GraphImporter::getNodeName(int index) const {
  const onnx::NodeProto &node = model.graph().node(index);
  if (!node.name().empty())
    return node.name();
  return node.op_type() + "_" + std::to_string(index);
}

llvm::StringSet<> GraphImporter::getInitializerNames() const {
  llvm::StringSet<> names;
  for (const onnx::TensorProto &tensor : model.graph().initializer())
    names.insert(tensor.name());
  return names;
}

LogicalResult GraphImporter::scanSupport() {
  const onnx::GraphProto &graph = model.graph();
  ProblemList problems;
  Location unknown = UnknownLoc::get(context);

  int64_t defaultOpset = getOpsetVersion("");
  bool opsetTooNew = defaultOpset > kMaxDefaultOpset;
  if (opsetTooNew)
    problems.add("opset", unknown,
                 "unsupported ONNX opset " + std::to_string(defaultOpset) +
                     " of the default domain (the importer supports up to " +
                     std::to_string(kMaxDefaultOpset) + ")");

  auto checkDType = [&](int32_t dtype, StringRef what, StringRef name, Location loc) {
    if (getElementType(context, dtype))
      return;
    problems.add("dtype:" + std::to_string(dtype), loc,
                 "unsupported ONNX dtype '" + getDTypeName(dtype) + "' of " + what.str() + " '" +
                     name.str() + "'",
                 "tensor");
  };
  auto checkTensor = [&](const onnx::TensorProto &tensor, StringRef what, Location loc) {
    if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
      problems.add("external", loc,
                   "tensor '" + tensor.name() +
                       "' keeps its data in an external file; external data is not "
                       "supported yet",
                   "tensor");
      return;
    }
    checkDType(tensor.data_type(), what, tensor.name(), loc);
  };
  auto checkValueInfo = [&](const onnx::ValueInfoProto &info, StringRef what) {
    Location loc = getNameLoc(info.name());
    if (!info.has_type() && what == "graph output")
      return; // inferred
    if (!info.type().has_tensor_type()) {
      problems.add("type:" + what.str() + info.name(), loc,
                   "unsupported ONNX type of " + what.str() + " '" + info.name() +
                       "': only tensors are supported");
      return;
    }
    checkDType(info.type().tensor_type().elem_type(), what, info.name(), loc);
  };

  for (int i = 0, e = graph.node_size(); i < e; ++i) {
    const onnx::NodeProto &node = graph.node(i);
    std::string name = getNodeName(i);
    Location loc = getNameLoc(name);
    int64_t opset = getOpsetVersion(node.domain());
    const OpImporter *entry = lookupOpImporter(node.domain(), node.op_type());
    bool opsetOk =
        entry && opset >= entry->minOpset && !(isDefaultDomain(node.domain()) && opsetTooNew);
    if (!entry || !opsetOk) {
      if (entry && opsetTooNew && isDefaultDomain(node.domain()))
        continue; // reported once for the model
      std::string opsetText =
          opset < 0 ? std::string("domain not imported") : "opset " + std::to_string(opset);
      std::string message = "unsupported ONNX op '" + node.op_type() + "' (domain '" +
                            node.domain() + "', " + opsetText + ") at node '" + name + "'";
      if (entry)
        message += ": the importer needs opset " + std::to_string(entry->minOpset) + " or newer";
      problems.add("op:" + node.domain() + ":" + node.op_type() + ":" + opsetText, loc, message,
                   "node");
      continue;
    }
    if (node.op_type() == "Constant")
      for (const onnx::AttributeProto &attr : node.attribute())
        if (attr.name() == "value" && attr.has_t())
          checkTensor(attr.t(), "tensor", loc);
  }

  for (const onnx::TensorProto &tensor : graph.initializer())
    checkTensor(tensor, "initializer", getNameLoc(tensor.name()));
  if (graph.sparse_initializer_size() > 0)
    problems.add("sparse", unknown, "sparse initializers are not supported");
  for (const onnx::ValueInfoProto &input : graph.input())
    checkValueInfo(input, "graph input");
  for (const onnx::ValueInfoProto &output : graph.output())
    checkValueInfo(output, "graph output");
  return problems.emit();
}

/// "1x128" for diagnostics.
static std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text;
  for (auto [i, dim] : llvm::enumerate(shape))
    text += (i ? "x" : "") + std::to_string(dim);
  return text;
}

LogicalResult GraphImporter::pinInputShapes() {
  onnx::GraphProto &graph = *model.mutable_graph();
  llvm::StringSet<> initializers = getInitializerNames();
  bool ok = true;
  auto error = [&](Location loc) {
    ok = false;
    return mlir::emitError(loc);
  };
  Location unknown = UnknownLoc::get(context);

  llvm::StringSet<> pinned;
  for (const auto &[name, dims] : options.inputShapes) {
    std::string spec = name + "=" + formatShape(dims);
    if (!pinned.insert(name).second) {
      error(unknown) << "--input-shape gives input '" << name << "' more than once";
      continue;
    }
    onnx::ValueInfoProto *input = nullptr;
    for (onnx::ValueInfoProto &candidate : *graph.mutable_input())
      if (candidate.name() == name && !initializers.contains(name))
        input = &candidate;
    if (!input) {
      InFlightDiagnostic diag = error(unknown) << "--input-shape " << spec << " names '" << name
                                               << "', which is not an input of the model";
      std::string inputs;
      for (const onnx::ValueInfoProto &candidate : graph.input())
        if (!initializers.contains(candidate.name()))
          inputs += (inputs.empty() ? "'" : ", '") + candidate.name() + "'";
      diag << " (inputs: " << (inputs.empty() ? "none" : inputs) << ")";
      continue;
    }
    if (!input->type().has_tensor_type())
      continue; // reported by the support scan
    onnx::TypeProto_Tensor *tensorType = input->mutable_type()->mutable_tensor_type();
    if (tensorType->has_shape()) {
      const onnx::TensorShapeProto &shape = tensorType->shape();
      if (shape.dim_size() != static_cast<int>(dims.size())) {
        error(getNameLoc(name)) << "--input-shape " << spec << " has rank " << dims.size()
                                << " but input '" << name << "' has rank " << shape.dim_size();
        continue;
      }
      bool conflict = false;
      for (int d = 0; d < shape.dim_size(); ++d) {
        if (shape.dim(d).has_dim_value() && shape.dim(d).dim_value() != dims[d]) {
          error(getNameLoc(name)) << "--input-shape " << spec << " sets dimension " << d
                                  << " of input '" << name << "' to " << dims[d]
                                  << " but the model fixes it to " << shape.dim(d).dim_value();
          conflict = true;
        }
      }
      if (conflict)
        continue;
    }
    onnx::TensorShapeProto *shape = tensorType->mutable_shape();
    shape->clear_dim();
    for (int64_t dim : dims)
      shape->add_dim()->set_dim_value(dim);
  }
  if (!ok)
    return failure();

  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (initializers.contains(input.name()) || !input.type().has_tensor_type())
      continue;
    const onnx::TypeProto_Tensor &tensorType = input.type().tensor_type();
    Location loc = getNameLoc(input.name());
    if (!tensorType.has_shape()) {
      error(loc) << "input '" << input.name()
                 << "' has an unknown rank; pin its shape with --input-shape " << input.name()
                 << "=<dims>";
      continue;
    }
    for (int d = 0; d < tensorType.shape().dim_size(); ++d) {
      const onnx::TensorShapeProto_Dimension &dim = tensorType.shape().dim(d);
      if (dim.has_dim_value() && dim.dim_value() >= 0)
        continue;
      InFlightDiagnostic diag = error(loc)
                                << "input '" << input.name() << "' has dynamic dimension " << d;
      if (dim.has_dim_param() && !dim.dim_param().empty())
        diag << " ('" << dim.dim_param() << "')";
      diag << "; only static shapes are supported: pin it with --input-shape " << input.name()
           << "=<dims>";
    }
  }
  return success(ok);
}

LogicalResult GraphImporter::validateModel() {
  Location unknown = UnknownLoc::get(context);
  std::string error;
  if (!checkOnnxModel(model, error))
    return mlir::emitError(unknown) << "invalid ONNX model '" << fileName << "': " << error;
  if (!inferOnnxShapes(model, error))
    return mlir::emitError(unknown)
           << "ONNX shape inference failed for '" << fileName << "': " << error;
  return success();
}

RankedTensorType GraphImporter::getType(const ValueEntry &entry) {
  if (entry.value)
    return cast<RankedTensorType>(entry.value.getType());
  return RankedTensorType::get(entry.constant->shape, getElementType(context, entry.dtype));
}

/// A resource blob key: the tensor name with characters outside [A-Za-z0-9_.] replaced by '_'.
static std::string getBlobKey(StringRef name) {
  std::string key;
  for (char c : name)
    key.push_back(llvm::isAlnum(c) || c == '_' || c == '.' ? c : '_');
  if (key.empty() || llvm::isDigit(key.front()))
    key.insert(key.begin(), '_');
  return key;
}

Value GraphImporter::materialize(ValueEntry &entry) {
  if (entry.value)
    return entry.value;
  // Names that alias one constant (Identity) share its arith.constant.
  Value &cached = materialized[entry.constant];
  if (cached)
    return entry.value = cached;
  const HostTensor &tensor = *entry.constant;
  RankedTensorType type = getType(entry);
  Attribute attr;
  if (tensor.dtype == onnx::TensorProto::BOOL) {
    // i1 constants stay DenseElementsAttr: blobs would need a bit-packing convention.
    SmallVector<bool> bits;
    for (int64_t i = 0, e = tensor.getNumElements(); i < e; ++i)
      bits.push_back(tensor.getInt(i) != 0);
    attr = DenseElementsAttr::get(type, ArrayRef<bool>(bits));
  } else if (tensor.getNumElements() >= 64) {
    size_t align = static_cast<size_t>(getDTypeSize(tensor.dtype));
    attr = DenseResourceElementsAttr::get(
        type, getBlobKey(tensor.name),
        HeapAsmResourceBlob::allocateAndCopyWithAlign(tensor.data, align));
  } else {
    attr = DenseElementsAttr::getFromRawBuffer(type, tensor.data);
  }
  cached = arith::ConstantOp::create(builder, Location(entry.loc), type, cast<TypedAttr>(attr));
  return entry.value = cached;
}

OwningOpRef<ModuleOp> GraphImporter::buildModule() {
  const onnx::GraphProto &graph = model.graph();
  Location fileLoc = FileLineColLoc::get(context, fileName, 0, 0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  builder.setInsertionPointToEnd(module->getBody());
  llvm::StringSet<> initializers = getInitializerNames();
  bool ok = true;

  // Arguments: graph inputs that are not initializers (shapes are static by now).
  SmallVector<Type> argTypes;
  SmallVector<const onnx::ValueInfoProto *> argInfos;
  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (initializers.contains(input.name()))
      continue;
    const onnx::TypeProto_Tensor &tensorType = input.type().tensor_type();
    SmallVector<int64_t> shape;
    for (const onnx::TensorShapeProto_Dimension &dim : tensorType.shape().dim())
      shape.push_back(dim.dim_value());
    argTypes.push_back(
        RankedTensorType::get(shape, getElementType(context, tensorType.elem_type())));
    argInfos.push_back(&input);
  }
  auto func = func::FuncOp::create(builder, fileLoc, "main", builder.getFunctionType(argTypes, {}));
  Block *body = func.addEntryBlock();
  for (auto [i, info] : llvm::enumerate(argInfos)) {
    BlockArgument arg = body->getArgument(i);
    arg.setLoc(getNameLoc(info->name()));
    int32_t dtype = info->type().tensor_type().elem_type();
    func.setArgAttr(i, kOnnxNameAttr, builder.getStringAttr(info->name()));
    if (isUnsignedDType(dtype))
      func.setArgAttr(i, kOnnxUnsignedAttr, builder.getUnitAttr());
    define(info->name(), ValueEntry{arg, nullptr, dtype, {}});
  }
  builder.setInsertionPointToEnd(body);

  // Initializers.
  for (const onnx::TensorProto &proto : graph.initializer()) {
    std::string error;
    FailureOr<HostTensor> tensor = readTensorProto(proto, error);
    if (failed(tensor)) {
      mlir::emitError(getNameLoc(proto.name())) << error;
      ok = false;
      continue;
    }
    int32_t dtype = tensor->dtype;
    define(proto.name(),
           ValueEntry{nullptr, addConstant(std::move(*tensor)), dtype, getNameLoc(proto.name())});
  }
  if (!ok)
    return nullptr;

  // Nodes, in their (topological) order.
  llvm::StringSet<> poisoned;
  for (int i = 0, e = graph.node_size(); i < e; ++i) {
    const onnx::NodeProto &node = graph.node(i);
    std::string name = getNodeName(i);
    Location loc = getNameLoc(name);
    bool skip = false;
    for (const std::string &input : node.input()) {
      if (input.empty() || lookup(input))
        continue;
      if (!poisoned.contains(input))
        mlir::emitError(loc) << "ONNX node '" << name << "' (" << node.op_type() << "): input '"
                             << input << "' is not defined";
      skip = true;
    }
    const OpImporter *entry = lookupOpImporter(node.domain(), node.op_type());
    if (!skip && entry) {
      NodeContext nodeContext(*this, node, name, loc, getOpsetVersion(node.domain()), builder);
      skip = failed(entry->import(nodeContext));
      for (const std::string &output : node.output()) {
        if (skip || output.empty() || lookup(output))
          continue;
        nodeContext.emitError() << "output '" << output << "' was not produced";
        skip = true;
      }
    }
    if (skip || !entry) {
      ok = false;
      for (const std::string &output : node.output()) {
        poisoned.insert(output);
        values.erase(output);
      }
    }
  }

  // Results.
  SmallVector<Value> results;
  SmallVector<const onnx::ValueInfoProto *> resultInfos;
  for (const onnx::ValueInfoProto &output : graph.output()) {
    ValueEntry *entry = lookup(output.name());
    Location loc = getNameLoc(output.name());
    if (!entry) {
      if (!poisoned.contains(output.name())) {
        mlir::emitError(loc) << "graph output '" << output.name() << "' is not defined";
        ok = false;
      }
      continue;
    }
    RankedTensorType type = getType(*entry);
    const onnx::TypeProto_Tensor &declared = output.type().tensor_type();
    if (declared.elem_type() != onnx::TensorProto::UNDEFINED &&
        declared.elem_type() != entry->dtype) {
      mlir::emitError(loc) << "graph output '" << output.name() << "' is declared "
                           << getDTypeName(declared.elem_type()) << " but computed as "
                           << getDTypeName(entry->dtype);
      ok = false;
      continue;
    }
    if (declared.has_shape()) {
      bool match = declared.shape().dim_size() == type.getRank();
      for (int d = 0; match && d < declared.shape().dim_size(); ++d)
        match = !declared.shape().dim(d).has_dim_value() ||
                declared.shape().dim(d).dim_value() == type.getDimSize(d);
      if (!match) {
        mlir::emitError(loc) << "graph output '" << output.name()
                             << "' has a declared shape that does not match the computed " << type;
        ok = false;
        continue;
      }
    }
    results.push_back(materialize(*entry));
    resultInfos.push_back(&output);
  }
  if (!ok)
    return nullptr;

  func::ReturnOp::create(builder, fileLoc, results);
  func.setFunctionType(builder.getFunctionType(argTypes, ValueRange(results).getTypes()));
  for (auto [i, info] : llvm::enumerate(resultInfos)) {
    func.setResultAttr(i, kOnnxNameAttr, builder.getStringAttr(info->name()));
    if (isUnsignedDType(lookup(info->name())->dtype))
      func.setResultAttr(i, kOnnxUnsignedAttr, builder.getUnitAttr());
  }
  return module;
}

OwningOpRef<ModuleOp> GraphImporter::run() {
  context->loadDialect<arith::ArithDialect, func::FuncDialect, linalg::LinalgDialect,
                       math::MathDialect, tensor::TensorDialect, sqz::SqzDialect>();
  if (failed(scanSupport()) || failed(pinInputShapes()) || failed(validateModel()))
    return nullptr;
  OwningOpRef<ModuleOp> module = buildModule();
  if (!module || failed(verify(*module)))
    return nullptr;
  return module;
}

//===----------------------------------------------------------------------===//
// NodeContext
//===----------------------------------------------------------------------===//

InFlightDiagnostic NodeContext::emitError() {
  return mlir::emitError(loc) << "ONNX node '" << name << "' (" << node.op_type() << "): ";
}

bool NodeContext::hasInput(unsigned index) const {
  return index < getNumInputs() && !node.input(index).empty();
}

LogicalResult NodeContext::checkNumInputs(unsigned min, unsigned max) {
  unsigned count = getNumInputs();
  if (count >= min && count <= max &&
      llvm::all_of(llvm::seq(0u, min), [&](unsigned i) { return hasInput(i); }))
    return success();
  InFlightDiagnostic diag = emitError() << "expected ";
  if (min == max)
    diag << min;
  else
    diag << min << " to " << max;
  return diag << " inputs, got " << count;
}

int32_t NodeContext::getInputDType(unsigned index) const {
  return importer.lookup(node.input(index))->dtype;
}

RankedTensorType NodeContext::getInputType(unsigned index) const {
  return importer.getType(*importer.lookup(node.input(index)));
}

const HostTensor *NodeContext::getConstantInput(unsigned index) const {
  return importer.lookup(node.input(index))->constant;
}

Value NodeContext::getInput(unsigned index) {
  return importer.materialize(*importer.lookup(node.input(index)));
}

void NodeContext::setResult(unsigned index, Value value, int32_t dtype) {
  if (index < static_cast<unsigned>(node.output_size()))
    importer.define(node.output(index), {value, nullptr, dtype, {}});
}

void NodeContext::setConstantResult(unsigned index, HostTensor tensor) {
  if (index >= static_cast<unsigned>(node.output_size()))
    return;
  tensor.name = node.output(index);
  int32_t dtype = tensor.dtype;
  importer.define(node.output(index),
                  {nullptr, importer.addConstant(std::move(tensor)), dtype, loc});
}

Value NodeContext::createConstant(HostTensor tensor) {
  int32_t dtype = tensor.dtype;
  Location constantLoc = tensor.name.empty()
                             ? loc
                             : Location(NameLoc::get(StringAttr::get(getContext(), tensor.name)));
  GraphImporter::ValueEntry entry{nullptr, importer.addConstant(std::move(tensor)), dtype,
                                  constantLoc};
  return importer.materialize(entry);
}

void NodeContext::forwardInput(unsigned inputIndex, unsigned resultIndex) {
  if (resultIndex < static_cast<unsigned>(node.output_size()))
    importer.define(node.output(resultIndex), *importer.lookup(node.input(inputIndex)));
}

const onnx::AttributeProto *NodeContext::getAttr(StringRef attrName) const {
  for (const onnx::AttributeProto &attr : node.attribute())
    if (attr.name() == attrName)
      return &attr;
  return nullptr;
}

FailureOr<int64_t> NodeContext::getIntAttr(StringRef attrName, int64_t defaultValue) {
  const onnx::AttributeProto *attr = getAttr(attrName);
  if (!attr)
    return defaultValue;
  if (attr->type() != onnx::AttributeProto::INT)
    return emitError() << "attribute '" << attrName << "' must be an int";
  return attr->i();
}

FailureOr<float> NodeContext::getFloatAttr(StringRef attrName, float defaultValue) {
  const onnx::AttributeProto *attr = getAttr(attrName);
  if (!attr)
    return defaultValue;
  if (attr->type() != onnx::AttributeProto::FLOAT)
    return emitError() << "attribute '" << attrName << "' must be a float";
  return attr->f();
}

FailureOr<std::string> NodeContext::getStringAttr(StringRef attrName, StringRef defaultValue) {
  const onnx::AttributeProto *attr = getAttr(attrName);
  if (!attr)
    return defaultValue.str();
  if (attr->type() != onnx::AttributeProto::STRING)
    return emitError() << "attribute '" << attrName << "' must be a string";
  return attr->s();
}

FailureOr<std::optional<SmallVector<int64_t>>> NodeContext::getIntsAttr(StringRef attrName) {
  const onnx::AttributeProto *attr = getAttr(attrName);
  if (!attr)
    return std::optional<SmallVector<int64_t>>();
  if (attr->type() != onnx::AttributeProto::INTS)
    return emitError() << "attribute '" << attrName << "' must be a list of ints";
  return std::optional<SmallVector<int64_t>>(
      SmallVector<int64_t>(attr->ints().begin(), attr->ints().end()));
}

//===----------------------------------------------------------------------===//
// Public API
//===----------------------------------------------------------------------===//

bool mlir::sqz::parseOnnxInputShape(StringRef spec, OnnxImportOptions &options,
                                    std::string &error) {
  size_t eq = spec.rfind('=');
  auto fail = [&](const Twine &why) {
    error = ("invalid --input-shape '" + spec + "': " + why +
             " (expected name=DIMxDIM..., e.g. x=1x128)")
                .str();
    return false;
  };
  if (eq == StringRef::npos)
    return fail("missing '='");
  StringRef name = spec.take_front(eq);
  StringRef dimsText = spec.drop_front(eq + 1).trim();
  if (name.empty())
    return fail("missing input name");
  SmallVector<int64_t> dims;
  if (!dimsText.empty()) {
    std::string separated = dimsText.str();
    std::replace(separated.begin(), separated.end(), ',', 'x');
    SmallVector<StringRef> parts;
    StringRef(separated).split(parts, 'x');
    for (StringRef part : parts) {
      int64_t dim;
      if (part.trim().getAsInteger(10, dim) || dim < 0)
        return fail("'" + part + "' is not a dimension size");
      dims.push_back(dim);
    }
  }
  options.inputShapes.emplace_back(name.str(), std::move(dims));
  return true;
}

OwningOpRef<ModuleOp> mlir::sqz::importOnnx(const llvm::MemoryBuffer &buffer, MLIRContext *context,
                                            const OnnxImportOptions &options) {
  StringRef fileName = buffer.getBufferIdentifier();
  StringRef contents = buffer.getBuffer();
  onnx::ModelProto model;
  if (isTextualOnnx(fileName, contents)) {
    OnnxParseError error;
    if (!parseTextualOnnx(contents, model, error)) {
      Location loc =
          error.line ? Location(FileLineColLoc::get(context, fileName, error.line, error.column))
                     : Location(UnknownLoc::get(context));
      mlir::emitError(loc) << "failed to parse ONNX model '" << fileName << "': " << error.message;
      return nullptr;
    }
  } else {
    std::string error;
    if (!parseBinaryOnnx(contents, model, error)) {
      mlir::emitError(UnknownLoc::get(context))
          << "failed to parse ONNX model '" << fileName << "': " << error;
      return nullptr;
    }
  }
  return GraphImporter(context, model, fileName, options).run();
}

OwningOpRef<ModuleOp> mlir::sqz::importOnnxFile(StringRef path, MLIRContext *context,
                                                const OnnxImportOptions &options) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (std::error_code ec = buffer.getError()) {
    mlir::emitError(UnknownLoc::get(context))
        << "cannot read ONNX model '" << path << "': " << ec.message();
    return nullptr;
  }
  return importOnnx(**buffer, context, options);
}

void mlir::sqz::registerOnnxImportDialects(DialectRegistry &registry) {
  registry.insert<arith::ArithDialect, func::FuncDialect, linalg::LinalgDialect, math::MathDialect,
                  tensor::TensorDialect, sqz::SqzDialect>();
}
