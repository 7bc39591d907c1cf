//===- GraphImporter.cpp - ONNX graph to sqz graph IR ----------------------===//
//
// The importer driver. In order:
//   1. support scan: every unsupported op/opset/dtype is collected and reported together, one
//      error per distinct problem;
//   2. input shapes: `--input-shape` pins are applied, remaining dynamic dims are errors;
//      external data: the files of external tensors are checked (inside the model's folder, big
//      enough) and mapped; small ones are copied into the ModelProto, big initializers stay
//      mapped and become constants without a copy;
//   3. the ONNX checker and strict shape inference (OnnxModel.cpp, the exception boundary);
//   4. IR construction: graph inputs become `func.func @main` arguments, initializers and
//      Constant outputs become import-time `HostTensor`s materialized as `arith.constant` on
//      first use, each node is imported by its op table entry (a node whose import fails
//      poisons its outputs, so independent problems are still all reported); a node with
//      bfloat16 inputs whose op has no bf16 path of its own is imported in f32 and its results
//      rounded back to bf16 (`importInF32`);
//   5. verification of the module.
//
//===----------------------------------------------------------------------===//

#include "GraphImporter.h"
#include "ImportBuilders.h"
#include "ModelFixups.h"
#include "OnnxModel.h"
#include "SmallFloats.h"

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
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>

#if defined(__unix__)
#include <sys/mman.h>
#include <unistd.h>
#endif

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
  case onnx::TensorProto::BFLOAT16:
    return b.getBF16Type();
  case onnx::TensorProto::DOUBLE:
    return b.getF64Type();
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::UINT64:
    return b.getI64Type();
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::UINT32:
    return b.getI32Type();
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
  case kOnnxInt4: // sub-byte codes are unpacked into i8 (readTensorProto)
  case kOnnxUInt4:
  case kOnnxInt2:
  case kOnnxUInt2:
  case kOnnxFloat8E4M3FN: // float8/float4 bit patterns (SmallFloats.h)
  case kOnnxFloat8E4M3FNUZ:
  case kOnnxFloat8E5M2:
  case kOnnxFloat8E5M2FNUZ:
  case kOnnxFloat4E2M1:
    return b.getI8Type();
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::UINT16:
    return b.getI16Type();
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
  case onnx::TensorProto::UINT64:
    return 8;
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::UINT32:
    return 4;
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::UINT16:
    return 2;
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::BOOL:
  case kOnnxInt4: // one byte per element in a HostTensor (unpacked by readTensorProto)
  case kOnnxUInt4:
  case kOnnxInt2:
  case kOnnxUInt2:
  case kOnnxFloat8E4M3FN:
  case kOnnxFloat8E4M3FNUZ:
  case kOnnxFloat8E5M2:
  case kOnnxFloat8E5M2FNUZ:
  case kOnnxFloat4E2M1:
    return 1;
  default:
    return 0;
  }
}

std::string mlir::sqz::import::getDTypeName(int32_t dtype) {
  switch (dtype) {
  case kOnnxInt4:
    return "int4";
  case kOnnxUInt4:
    return "uint4";
  case kOnnxInt2:
    return "int2";
  case kOnnxUInt2:
    return "uint2";
  case kOnnxFloat8E4M3FN:
    return "float8e4m3fn";
  case kOnnxFloat8E4M3FNUZ:
    return "float8e4m3fnuz";
  case kOnnxFloat8E5M2:
    return "float8e5m2";
  case kOnnxFloat8E5M2FNUZ:
    return "float8e5m2fnuz";
  case kOnnxFloat4E2M1:
    return "float4e2m1";
  case 24:
    return "float8e8m0";
  default:
    break;
  }
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

bool mlir::sqz::import::isUnsignedDType(int32_t dtype) {
  return dtype == onnx::TensorProto::UINT8 || dtype == onnx::TensorProto::UINT16 ||
         dtype == onnx::TensorProto::UINT32 || dtype == onnx::TensorProto::UINT64 ||
         dtype == kOnnxUInt4 || dtype == kOnnxUInt2;
}

bool mlir::sqz::import::isSubByteIntDType(int32_t dtype) {
  return dtype == kOnnxInt4 || dtype == kOnnxUInt4 || dtype == kOnnxInt2 || dtype == kOnnxUInt2;
}

int64_t mlir::sqz::import::getPackedElementsPerByte(int32_t dtype) {
  if (dtype == kOnnxInt2 || dtype == kOnnxUInt2)
    return 4;
  if (dtype == kOnnxInt4 || dtype == kOnnxUInt4 || dtype == kOnnxFloat4E2M1)
    return 2;
  return 1;
}

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
  case onnx::TensorProto::UINT64:
    return static_cast<double>(loadAs<uint64_t>(data, index));
  case onnx::TensorProto::BFLOAT16:
    return decodeSmallFloat(*getSmallFloatFormat(dtype), loadAs<uint16_t>(data, index));
  case kOnnxFloat8E4M3FN:
  case kOnnxFloat8E4M3FNUZ:
  case kOnnxFloat8E5M2:
  case kOnnxFloat8E5M2FNUZ:
  case kOnnxFloat4E2M1:
    return decodeSmallFloat(*getSmallFloatFormat(dtype), loadAs<uint8_t>(data, index));
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
  case onnx::TensorProto::UINT32:
    return loadAs<uint32_t>(data, index);
  case onnx::TensorProto::UINT64: // values above INT64_MAX wrap to negative
    return static_cast<int64_t>(loadAs<uint64_t>(data, index));
  case onnx::TensorProto::INT8:
  case kOnnxInt4:
  case kOnnxInt2:
    return loadAs<int8_t>(data, index);
  case onnx::TensorProto::UINT8:
  case kOnnxUInt4:
  case kOnnxUInt2:
    return loadAs<uint8_t>(data, index);
  case onnx::TensorProto::INT16:
    return loadAs<int16_t>(data, index);
  case onnx::TensorProto::UINT16:
    return loadAs<uint16_t>(data, index);
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
  case onnx::TensorProto::UINT64:
    return storeAs<uint64_t>(bytes, index,
                             value >= 18446744073709551616.0 ? ~uint64_t(0)
                             : value > 0                     ? static_cast<uint64_t>(value)
                                                             : 0);
  case onnx::TensorProto::BFLOAT16:
    return storeAs<uint16_t>(bytes, index,
                             static_cast<uint16_t>(encodeSmallFloat(
                                 *getSmallFloatFormat(dtype), static_cast<float>(value), false)));
  case kOnnxFloat8E4M3FN: // saturating, as Cast and QuantizeLinear default to
  case kOnnxFloat8E4M3FNUZ:
  case kOnnxFloat8E5M2:
  case kOnnxFloat8E5M2FNUZ:
  case kOnnxFloat4E2M1:
    return storeAs<uint8_t>(bytes, index,
                            static_cast<uint8_t>(encodeSmallFloat(
                                *getSmallFloatFormat(dtype), static_cast<float>(value), true)));
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
  case onnx::TensorProto::UINT32:
    return storeAs<uint32_t>(bytes, index, static_cast<uint32_t>(value));
  case onnx::TensorProto::UINT64:
    return storeAs<uint64_t>(bytes, index, static_cast<uint64_t>(value));
  case onnx::TensorProto::INT8:
  case kOnnxInt4:
  case kOnnxInt2:
    return storeAs<int8_t>(bytes, index, static_cast<int8_t>(value));
  case onnx::TensorProto::UINT8:
  case kOnnxUInt4:
  case kOnnxUInt2:
    return storeAs<uint8_t>(bytes, index, static_cast<uint8_t>(value));
  case onnx::TensorProto::INT16:
    return storeAs<int16_t>(bytes, index, static_cast<int16_t>(value));
  case onnx::TensorProto::UINT16:
    return storeAs<uint16_t>(bytes, index, static_cast<uint16_t>(value));
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

  if (int64_t perByte = getPackedElementsPerByte(dtype); perByte > 1) {
    // 4-bit (2-bit) values, two (four) per byte, lowest bits first, in raw_data or one byte per
    // int32_data value.
    int64_t packedBytes = (numElements + perByte - 1) / perByte;
    int64_t available = proto.has_raw_data() ? static_cast<int64_t>(proto.raw_data().size())
                                             : proto.int32_data_size();
    if (available != packedBytes) {
      error = "tensor '" + name + "' has " + std::to_string(available) + " packed " +
              getDTypeName(dtype) + " bytes, its shape needs " + std::to_string(packedBytes);
      return failure();
    }
    int64_t bits = 8 / perByte;
    int64_t mask = (int64_t(1) << bits) - 1;
    bool isSigned = dtype == kOnnxInt4 || dtype == kOnnxInt2;
    HostTensor tensor = HostTensor::allocate(name, dtype, shape);
    MutableArrayRef<char> out = tensor.getMutableData();
    for (int64_t i = 0; i < numElements; ++i) {
      uint8_t byte = proto.has_raw_data()
                         ? static_cast<uint8_t>(proto.raw_data()[i / perByte])
                         : static_cast<uint8_t>(proto.int32_data(static_cast<int>(i / perByte)));
      int64_t code = (byte >> ((i % perByte) * bits)) & mask;
      if (isSigned && code > mask / 2)
        code -= mask + 1;
      storeAs<uint8_t>(out, i, static_cast<uint8_t>(code)); // float4: the bit pattern
    }
    return tensor;
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
  case onnx::TensorProto::BFLOAT16:
    // float16 and bfloat16 values are stored as their bit patterns in int32_data.
    copied = copyTypedField(
        proto.int32_data(), tensor,
        [](HostTensor &t, int64_t i, int32_t bits) {
          storeAs<uint16_t>(t.getMutableData(), i, static_cast<uint16_t>(bits));
        },
        error);
    break;
  case kOnnxFloat8E4M3FN:
  case kOnnxFloat8E4M3FNUZ:
  case kOnnxFloat8E5M2:
  case kOnnxFloat8E5M2FNUZ:
    // float8 values are stored as their bit patterns in int32_data.
    copied = copyTypedField(
        proto.int32_data(), tensor,
        [](HostTensor &t, int64_t i, int32_t bits) {
          storeAs<uint8_t>(t.getMutableData(), i, static_cast<uint8_t>(bits));
        },
        error);
    break;
  case onnx::TensorProto::UINT16:
    // uint16 values live in int32_data (like int16), as their unsigned value.
    copied = copyTypedField(proto.int32_data(), tensor, setInt, error);
    break;
  case onnx::TensorProto::UINT32:
  case onnx::TensorProto::UINT64:
    copied = copyTypedField(
        proto.uint64_data(), tensor,
        [](HostTensor &t, int64_t i, uint64_t v) { t.setInt(i, static_cast<int64_t>(v)); }, error);
    break;
  default: // int32, int16, int8, uint8, bool all live in int32_data.
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
  /// `modelDir`: the folder of the model file, where external data lives (empty when the model
  /// was not read from a file).
  GraphImporter(MLIRContext *context, onnx::ModelProto &model, StringRef fileName,
                StringRef modelDir, const OnnxImportOptions &options)
      : context(context), model(model), fileName(fileName.str()), modelDir(modelDir.str()),
        options(options), builder(context) {}

  OwningOpRef<ModuleOp> run();

  /// What an ONNX value name stands for while importing.
  struct ValueEntry {
    Value value;                          // null for a constant not yet materialized
    const HostTensor *constant = nullptr; // set when known at import time
    int32_t dtype = 0;
    LocationAttr loc; // where a constant is materialized
    std::shared_ptr<const SymbolicInts> symbolic; // set for symbolic shape values
  };

  ValueEntry *lookup(StringRef name) {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
  void define(StringRef name, ValueEntry entry) {
    if (name.empty())
      return;
    values[name] = entry;
    if (entry.constant)
      constantUses[entry.constant] += remainingUses.lookup(name);
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
  LogicalResult loadExternalData();
  LogicalResult validateModel();
  FailureOr<HostTensor> readInitializer(onnx::TensorProto &proto, std::string &error);
  /// Counts down the uses of a node input; frees the data of a constant nobody needs any more.
  void consumeUse(StringRef name);
  OwningOpRef<ModuleOp> buildModule();
  /// Imports a node that has bfloat16 inputs but whose op does not take bf16 itself: the bf16
  /// inputs are widened to f32 (exactly; constants on the host), the op is imported in f32 and
  /// its f32 results are rounded back to bf16 (round to nearest even).
  LogicalResult importInF32(NodeContext &node, const OpImporter &entry);
  LogicalResult checkDynamicSupport(NodeContext &node);
  /// The element type the graph declares for value `name` (value_info or graph output), or 0.
  int32_t getDeclaredDType(StringRef name) const;

  int64_t getOpsetVersion(StringRef domain) const;
  std::string getNodeName(int index) const;
  Location getNameLoc(StringRef name) { return NameLoc::get(StringAttr::get(context, name)); }
  llvm::StringSet<> getInitializerNames() const;

  MLIRContext *context;
  onnx::ModelProto &model;
  std::string fileName;
  std::string modelDir;
  const OnnxImportOptions &options;
  OpBuilder builder;
  llvm::StringMap<ValueEntry> values;
  std::deque<HostTensor> constants;
  /// Big external initializers: their bytes in a mapped file (kept alive by `file`).
  struct ExternalTensor {
    ArrayRef<char> data;
    std::shared_ptr<llvm::MemoryBuffer> file;
  };
  DenseMap<const onnx::TensorProto *, ExternalTensor> externalTensors;
  /// The mapped external data files (read-only file mappings).
  SmallVector<std::shared_ptr<llvm::MemoryBuffer>> externalFiles;
  /// Node inputs and graph outputs not imported yet, per value name, and per constant the sum
  /// over the names that stand for it: a constant whose count drops to zero is freed (a weight
  /// only used transposed does not stay in memory next to its transposed copy).
  llvm::StringMap<unsigned> remainingUses;
  /// --dynamic-dim bounds: input name -> axis -> max (-1: none).
  llvm::StringMap<std::map<int64_t, int64_t>> dynamicBounds;
  DenseMap<const HostTensor *, unsigned> constantUses;
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

  // --dynamic-dim: the dim becomes symbolic (keeping its dim_param, else named input.axis).
  for (const OnnxImportOptions::DynamicDim &dyn : options.dynamicDims) {
    std::string spec = dyn.input + ":" + std::to_string(dyn.axis);
    onnx::ValueInfoProto *input = nullptr;
    for (onnx::ValueInfoProto &candidate : *graph.mutable_input())
      if (candidate.name() == dyn.input && !initializers.contains(dyn.input))
        input = &candidate;
    if (!input || !input->type().has_tensor_type() ||
        !input->type().tensor_type().has_shape()) {
      error(unknown) << "--dynamic-dim " << spec << " names '" << dyn.input
                     << "', which is not an input of the model with a known rank";
      continue;
    }
    onnx::TensorShapeProto *shape =
        input->mutable_type()->mutable_tensor_type()->mutable_shape();
    int64_t rank = shape->dim_size();
    int64_t axis = dyn.axis < 0 ? dyn.axis + rank : dyn.axis;
    if (axis < 0 || axis >= rank) {
      error(getNameLoc(dyn.input)) << "--dynamic-dim " << spec << ": axis " << dyn.axis
                                   << " is out of range for input '" << dyn.input
                                   << "' of rank " << rank;
      continue;
    }
    if (pinned.contains(dyn.input)) {
      error(getNameLoc(dyn.input)) << "--dynamic-dim " << spec << " conflicts with --input-shape "
                                   << "of input '" << dyn.input << "'";
      continue;
    }
    onnx::TensorShapeProto_Dimension *dim = shape->mutable_dim(static_cast<int>(axis));
    std::string name = dim->has_dim_param() && !dim->dim_param().empty()
                           ? dim->dim_param()
                           : dyn.input + "." + std::to_string(axis);
    dim->set_dim_param(name);
    if (!dynamicBounds[dyn.input].try_emplace(axis, dyn.max).second)
      error(getNameLoc(dyn.input)) << "--dynamic-dim gives axis " << axis << " of input '"
                                   << dyn.input << "' more than once";
  }
  if (!ok)
    return failure();

  // Remaining unknown dims stay dynamic, unbounded; a dim_param is the dim's name.
  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (initializers.contains(input.name()) || !input.type().has_tensor_type())
      continue;
    const onnx::TypeProto_Tensor &tensorType = input.type().tensor_type();
    Location loc = getNameLoc(input.name());
    if (!tensorType.has_shape())
      error(loc) << "input '" << input.name()
                 << "' has an unknown rank; pin its shape with --input-shape " << input.name()
                 << "=<dims>";
  }
  return success(ok);
}

/// External tensors at most this big are copied into the ModelProto (shape inference may need
/// their values, e.g. a Reshape shape); bigger initializers stay in the mapped file.
static constexpr size_t kInlineExternalBytes = 64 * 1024;

/// Asks the kernel to drop the whole pages of `data`, which must lie in a read-only file mapping:
/// they fault back in from the file if they are read again, so this only lowers the resident set.
static void dropMappedPages(ArrayRef<char> data) {
#if defined(__unix__) && defined(MADV_DONTNEED)
  static const uintptr_t pageSize = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t begin = (reinterpret_cast<uintptr_t>(data.data()) + pageSize - 1) & ~(pageSize - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(data.data()) + data.size()) & ~(pageSize - 1);
  if (end > begin)
    (void)madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
#else
  (void)data;
#endif
}

LogicalResult GraphImporter::loadExternalData() {
  // Initializers, and tensors in node attributes (Constant values), that live in a file.
  SmallVector<std::pair<onnx::TensorProto *, bool>> tensors; // (tensor, is an attribute)
  onnx::GraphProto &graph = *model.mutable_graph();
  for (onnx::TensorProto &tensor : *graph.mutable_initializer())
    if (tensor.data_location() == onnx::TensorProto::EXTERNAL)
      tensors.push_back({&tensor, false});
  for (onnx::NodeProto &node : *graph.mutable_node())
    for (onnx::AttributeProto &attr : *node.mutable_attribute())
      if (attr.has_t() && attr.t().data_location() == onnx::TensorProto::EXTERNAL)
        tensors.push_back({attr.mutable_t(), true});
  if (tensors.empty())
    return success();

  bool ok = true;
  SmallString<256> realDir;
  std::error_code dirError;
  if (!modelDir.empty())
    dirError = llvm::sys::fs::real_path(modelDir, realDir);
  llvm::StringMap<std::shared_ptr<llvm::MemoryBuffer>> files; // by real path
  for (auto [proto, isAttribute] : tensors) {
    const std::string &name = proto->name();
    std::string location, offsetText, lengthText;
    bool hasOffset = false, hasLength = false;
    for (const onnx::StringStringEntryProto &entry : proto->external_data()) {
      if (entry.key() == "location")
        location = entry.value();
      else if (entry.key() == "offset")
        offsetText = entry.value(), hasOffset = true;
      else if (entry.key() == "length")
        lengthText = entry.value(), hasLength = true;
    }
    auto fail = [&]() {
      ok = false;
      return mlir::emitError(getNameLoc(name)) << "external data of tensor '" << name << "': ";
    };
    if (location.empty()) {
      fail() << "no 'location' entry names its file";
      continue;
    }
    if (modelDir.empty()) {
      fail() << "file '" << location << "': the model was not read from a file, so there is no "
             << "folder to find its external data in";
      continue;
    }
    if (dirError) {
      fail() << "cannot resolve the model's folder '" << modelDir << "': " << dirError.message();
      continue;
    }
    // The security boundary: external data must be inside the model's folder.
    StringRef locationRef(location);
    if (llvm::sys::path::is_absolute(locationRef) || locationRef.starts_with("/") ||
        locationRef.starts_with("\\")) {
      fail() << "file '" << location << "' is an absolute path; external data must be in the "
             << "model's folder '" << realDir << "' (give it relative to the model)";
      continue;
    }
    SmallVector<StringRef> components;
    locationRef.split(components, '/');
    if (llvm::any_of(components, [](StringRef part) {
          return part == ".." || part.contains("\\..") || part.starts_with("..\\");
        })) {
      fail() << "file '" << location << "' has a '..' component; external data must be in the "
             << "model's folder '" << realDir << "'";
      continue;
    }
    SmallString<256> path(modelDir);
    llvm::sys::path::append(path, location);
    SmallString<256> realPath;
    if (std::error_code ec = llvm::sys::fs::real_path(path, realPath)) {
      fail() << "cannot open file '" << path << "': " << ec.message();
      continue;
    }
    StringRef realPathRef(realPath);
    bool inside = realPathRef.starts_with(realDir) &&
                  (StringRef(realDir).ends_with("/") ||
                   realPathRef.drop_front(realDir.size()).starts_with("/"));
    if (!inside) {
      fail() << "file '" << location << "' resolves to '" << realPath
             << "', outside the model's folder '" << realDir << "' (a symbolic link?)";
      continue;
    }
    if (!llvm::sys::fs::is_regular_file(realPath)) {
      fail() << "file '" << path << "' is not a regular file";
      continue;
    }
    std::shared_ptr<llvm::MemoryBuffer> &file = files[realPath];
    if (!file) {
      llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer = llvm::MemoryBuffer::getFile(
          realPath, /*IsText=*/false, /*RequiresNullTerminator=*/false, /*IsVolatile=*/false);
      if (std::error_code ec = buffer.getError()) {
        files.erase(realPath);
        fail() << "cannot read file '" << path << "': " << ec.message();
        continue;
      }
      file = std::shared_ptr<llvm::MemoryBuffer>(std::move(*buffer));
      externalFiles.push_back(file);
    }
    uint64_t fileSize = file->getBufferSize();
    uint64_t offset = 0, length = 0;
    if (hasOffset && StringRef(offsetText).getAsInteger(10, offset)) {
      fail() << "'offset' of file '" << location << "' is not a byte count: '" << offsetText
             << "'";
      continue;
    }
    if (hasLength && StringRef(lengthText).getAsInteger(10, length)) {
      fail() << "'length' of file '" << location << "' is not a byte count: '" << lengthText
             << "'";
      continue;
    }
    if (offset > fileSize) {
      fail() << "offset " << offset << " is beyond the end of file '" << path << "' ("
             << fileSize << " bytes)";
      continue;
    }
    if (!hasLength)
      length = fileSize - offset;
    if (length > fileSize - offset) {
      fail() << "bytes " << offset << " to " << offset + length << " (offset + length) are beyond "
             << "the end of file '" << path << "' (" << fileSize << " bytes)";
      continue;
    }
    int64_t elementSize = getDTypeSize(proto->data_type());
    if (elementSize == 0)
      continue; // an unsupported dtype, reported when the tensor is read
    uint64_t numElements = 1;
    bool shapeOk = true;
    for (int64_t dim : proto->dims()) {
      shapeOk &= dim >= 0 && (dim == 0 || numElements <= (uint64_t(1) << 48) / dim);
      if (!shapeOk)
        break;
      numElements *= static_cast<uint64_t>(dim);
    }
    if (!shapeOk) {
      fail() << "the tensor has an invalid shape";
      continue;
    }
    // Sub-byte codes are packed in the file (and unpacked by readTensorProto).
    uint64_t perByte = static_cast<uint64_t>(getPackedElementsPerByte(proto->data_type()));
    bool packed = perByte > 1;
    uint64_t expected = packed ? (numElements + perByte - 1) / perByte
                               : numElements * static_cast<uint64_t>(elementSize);
    if (length != expected) {
      InFlightDiagnostic diag = fail();
      if (hasLength)
        diag << "length " << length << " of its data in file '" << path << "'";
      else
        diag << "the rest of file '" << path << "' after offset " << offset << " is " << length
             << " bytes, which";
      diag << " does not match the tensor: " << getDTypeName(proto->data_type()) << "[";
      llvm::interleave(proto->dims(), diag, ",");
      diag << "] needs " << expected << " bytes";
      continue;
    }
    ArrayRef<char> data(file->getBufferStart() + offset, static_cast<size_t>(length));
    if (isAttribute || packed || length <= kInlineExternalBytes) {
      proto->set_raw_data(data.data(), data.size());
      proto->clear_external_data();
      proto->set_data_location(onnx::TensorProto::DEFAULT);
      continue;
    }
    externalTensors[proto] = ExternalTensor{data, file};
  }
  return success(ok);
}

FailureOr<HostTensor> GraphImporter::readInitializer(onnx::TensorProto &proto,
                                                     std::string &error) {
  auto external = externalTensors.find(&proto);
  if (external != externalTensors.end()) {
    // Checked by loadExternalData: the bytes match the shape and dtype.
    HostTensor tensor;
    tensor.name = proto.name();
    tensor.dtype = proto.data_type();
    tensor.shape.assign(proto.dims().begin(), proto.dims().end());
    ArrayRef<char> data = external->second.data;
    if (reinterpret_cast<uintptr_t>(data.data()) % getDTypeSize(tensor.dtype) == 0) {
      tensor.data = data;
      tensor.owner = external->second.file;
      return tensor;
    }
    // Misaligned in the file (or a file read into memory): one copy.
    tensor = HostTensor::allocate(tensor.name, tensor.dtype, tensor.shape);
    std::memcpy(tensor.getMutableData().data(), data.data(), data.size());
    return tensor;
  }
  FailureOr<HostTensor> tensor = readTensorProto(proto, error);
  if (succeeded(tensor) && !tensor->storage && proto.has_raw_data() &&
      proto.raw_data().size() >= 4096) {
    // Take the bytes out of the ModelProto (checked and shape-inferred by now): the constant
    // and its blob share them, and they are freed once neither needs them.
    auto raw = std::make_shared<std::string>(std::move(*proto.mutable_raw_data()));
    proto.clear_raw_data();
    tensor->data = ArrayRef<char>(raw->data(), raw->size());
    tensor->owner = std::move(raw);
  }
  return tensor;
}

void GraphImporter::consumeUse(StringRef name) {
  auto uses = remainingUses.find(name);
  if (uses == remainingUses.end() || uses->second == 0)
    return;
  --uses->second;
  ValueEntry *entry = lookup(name);
  if (!entry || !entry->constant)
    return;
  auto count = constantUses.find(entry->constant);
  if (count == constantUses.end() || count->second == 0 || --count->second > 0)
    return;
  // Nothing reads this constant any more: free its data (a blob made from it keeps its own
  // reference). Pages of a mapped external file are dropped, they fault back in if needed.
  HostTensor &tensor = const_cast<HostTensor &>(*entry->constant);
  for (const std::shared_ptr<llvm::MemoryBuffer> &file : externalFiles)
    if (file->getBufferKind() == llvm::MemoryBuffer::MemoryBuffer_MMap &&
        tensor.data.data() >= file->getBufferStart() &&
        tensor.data.data() + tensor.data.size() <= file->getBufferEnd())
      dropMappedPages(tensor.data);
  tensor.data = {};
  tensor.storage.reset();
  tensor.owner.reset();
}

namespace {
/// libonnx 1.12 throws on the dtypes newer than it (float8 17-20, uint4/int4 21/22, float4e2m1
/// 23, uint2/int2 25/26) in type checks: while the model is checked and shape-inferred they are
/// presented as int8 (int4, int2) or uint8 (the others: unsigned codes and float bit patterns),
/// then restored.
class NewDTypesHidden {
public:
  explicit NewDTypesHidden(onnx::ModelProto &model) : graph(*model.mutable_graph()) {
    for (auto *infos : {graph.mutable_input(), graph.mutable_output(), graph.mutable_value_info()})
      for (onnx::ValueInfoProto &info : *infos)
        if (info.has_type() && info.type().has_tensor_type())
          hide(*info.mutable_type()->mutable_tensor_type());
    for (onnx::TensorProto &tensor : *graph.mutable_initializer())
      hide(tensor);
    for (onnx::NodeProto &node : *graph.mutable_node())
      for (onnx::AttributeProto &attr : *node.mutable_attribute())
        if (attr.has_t())
          hide(*attr.mutable_t());
    if (types.empty() && tensors.empty())
      return;
    // Shape inference types untyped graph outputs, possibly with a substitute: those are left
    // untyped again (the importer types them from what computes them). By index: the checker's
    // UntypedOutputsHidden takes them out and puts copies back at the same positions.
    for (int i = 0, e = graph.output_size(); i < e; ++i) {
      const onnx::ValueInfoProto &output = graph.output(i);
      if (!output.has_type() || (output.type().has_tensor_type() &&
                                 output.type().tensor_type().elem_type() == 0))
        untypedOutputs.push_back(i);
    }
  }
  ~NewDTypesHidden() {
    for (auto &[type, dtype] : types)
      type->set_elem_type(dtype);
    for (auto &[tensor, dtype] : tensors)
      tensor->set_data_type(dtype);
    for (int i : untypedOutputs)
      if (i < graph.output_size() && graph.output(i).type().has_tensor_type())
        graph.mutable_output(i)->mutable_type()->mutable_tensor_type()->set_elem_type(0);
  }
  NewDTypesHidden(const NewDTypesHidden &) = delete;
  NewDTypesHidden &operator=(const NewDTypesHidden &) = delete;

private:
  static bool isNew(int32_t dtype) {
    return isSubByteIntDType(dtype) || isBitPatternFloatDType(dtype);
  }
  static int32_t substitute(int32_t dtype) {
    return dtype == kOnnxInt4 || dtype == kOnnxInt2 ? onnx::TensorProto::INT8
                                                    : onnx::TensorProto::UINT8;
  }
  void hide(onnx::TypeProto_Tensor &type) {
    if (isNew(type.elem_type())) {
      types.emplace_back(&type, type.elem_type());
      type.set_elem_type(substitute(type.elem_type()));
    }
  }
  void hide(onnx::TensorProto &tensor) {
    if (isNew(tensor.data_type())) {
      tensors.emplace_back(&tensor, tensor.data_type());
      tensor.set_data_type(substitute(tensor.data_type()));
    }
  }
  std::vector<std::pair<onnx::TypeProto_Tensor *, int32_t>> types;
  std::vector<std::pair<onnx::TensorProto *, int32_t>> tensors;
  onnx::GraphProto &graph;
  std::vector<int> untypedOutputs;
};
} // namespace

LogicalResult GraphImporter::validateModel() {
  Location unknown = UnknownLoc::get(context);
  std::string error;
  bool checked;
  NewDTypesHidden newDTypes(model);
  {
    UntypedOutputsHidden hidden(model); // the checker wants a type on each graph output
    checked = checkOnnxModel(model, error, modelDir);
  }
  if (!checked)
    return mlir::emitError(unknown) << "invalid ONNX model '" << fileName << "': " << error;
  if (!inferOnnxShapes(model, error))
    return mlir::emitError(unknown)
           << "ONNX shape inference failed for '" << fileName << "': " << error;
  return success();
}

RankedTensorType GraphImporter::getType(const ValueEntry &entry) {
  if (entry.value)
    return cast<RankedTensorType>(entry.value.getType());
  if (entry.symbolic)
    return RankedTensorType::get(entry.symbolic->shape, getElementType(context, entry.dtype));
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
  if (entry.symbolic) {
    // A shape value read as data: the elements, cast to the integer type, in a tensor.
    RankedTensorType type = getType(entry);
    Location loc = entry.loc ? Location(entry.loc) : UnknownLoc::get(context);
    SmallVector<Value> elements;
    for (OpFoldResult element : entry.symbolic->elements) {
      if (auto attr = dyn_cast<Attribute>(element))
        elements.push_back(arith::ConstantOp::create(
            builder, loc, builder.getIntegerAttr(type.getElementType(),
                                                 cast<IntegerAttr>(attr).getInt())));
      else
        elements.push_back(arith::IndexCastOp::create(builder, loc, type.getElementType(),
                                                      cast<Value>(element)));
    }
    return entry.value = tensor::FromElementsOp::create(builder, loc, type, elements);
  }
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
    // A tensor that owns its bytes (host-computed, raw data taken from the ModelProto, a mapped
    // external file) lends them to the blob, which keeps them alive; others are copied.
    std::shared_ptr<const void> keepAlive = tensor.owner;
    if (!keepAlive && tensor.storage && tensor.data.data() == tensor.storage->data())
      keepAlive = tensor.storage;
    AsmResourceBlob blob;
    if (keepAlive && reinterpret_cast<uintptr_t>(tensor.data.data()) % align == 0)
      blob = AsmResourceBlob(
          tensor.data, align, [keepAlive](void *, size_t, size_t) mutable { keepAlive.reset(); },
          /*dataIsMutable=*/false);
    else
      blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(tensor.data, align);
    attr = DenseResourceElementsAttr::get(type, getBlobKey(tensor.name), std::move(blob));
  } else {
    attr = DenseElementsAttr::getFromRawBuffer(type, tensor.data);
  }
  cached = arith::ConstantOp::create(builder, Location(entry.loc), type, cast<TypedAttr>(attr));
  return entry.value = cached;
}

/// The attributes that tell the artifact's manifest how a graph input/output of `dtype` crosses
/// the C ABI: `sqz.unsigned` for unsigned integers (and the float8/float4 bit patterns, carried
/// as uint8), `sqz.onnx_dtype` for dtypes the ABI carries widened or as bit patterns.
static void setAbiDTypeAttrs(MLIRContext *context, int32_t dtype,
                             function_ref<void(StringRef, Attribute)> set) {
  if (isUnsignedDType(dtype) || isBitPatternFloatDType(dtype))
    set(kOnnxUnsignedAttr, UnitAttr::get(context));
  if (isSubByteIntDType(dtype) || getSmallFloatFormat(dtype))
    set(kOnnxDTypeAttr, StringAttr::get(context, getDTypeName(dtype)));
}

OwningOpRef<ModuleOp> GraphImporter::buildModule() {
  const onnx::GraphProto &graph = model.graph();
  Location fileLoc = FileLineColLoc::get(context, fileName, 0, 0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  builder.setInsertionPointToEnd(module->getBody());
  llvm::StringSet<> initializers = getInitializerNames();
  bool ok = true;
  for (const onnx::NodeProto &node : graph.node())
    for (const std::string &input : node.input())
      if (!input.empty())
        ++remainingUses[input];
  for (const onnx::ValueInfoProto &output : graph.output())
    ++remainingUses[output.name()];

  // Arguments: graph inputs that are not initializers (shapes are static by now).
  SmallVector<Type> argTypes;
  SmallVector<const onnx::ValueInfoProto *> argInfos;
  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (initializers.contains(input.name()))
      continue;
    const onnx::TypeProto_Tensor &tensorType = input.type().tensor_type();
    SmallVector<int64_t> shape;
    for (const onnx::TensorShapeProto_Dimension &dim : tensorType.shape().dim())
      shape.push_back(dim.has_dim_value() && !dim.has_dim_param() ? dim.dim_value()
                                                                  : ShapedType::kDynamic);
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
    auto argType = cast<RankedTensorType>(argTypes[i]);
    if (!argType.hasStaticShape()) {
      SmallVector<Attribute> names;
      SmallVector<int64_t> maxShape;
      const auto &bounds = dynamicBounds[info->name()];
      for (auto [d, dim] : llvm::enumerate(info->type().tensor_type().shape().dim())) {
        bool dynamic = argType.isDynamicDim(d);
        names.push_back(builder.getStringAttr(dynamic ? dim.dim_param() : ""));
        auto bound = bounds.find(static_cast<int64_t>(d));
        maxShape.push_back(!dynamic ? argType.getDimSize(d)
                                    : bound == bounds.end() ? -1 : bound->second);
      }
      func.setArgAttr(i, kDimNamesAttr, builder.getArrayAttr(names));
      func.setArgAttr(i, kMaxShapeAttr, builder.getDenseI64ArrayAttr(maxShape));
    }
    setAbiDTypeAttrs(context, dtype, [&](StringRef attrName, Attribute attr) {
      func.setArgAttr(i, attrName, attr);
    });
    define(info->name(), ValueEntry{arg, nullptr, dtype, {}});
  }
  builder.setInsertionPointToEnd(body);

  // Initializers.
  for (onnx::TensorProto &proto : *model.mutable_graph()->mutable_initializer()) {
    std::string error;
    FailureOr<HostTensor> tensor = readInitializer(proto, error);
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
      if (!foldSymbolic(nodeContext)) {
        skip = failed(checkDynamicSupport(nodeContext));
        skip = skip || failed(importInF32(nodeContext, *entry));
      }
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
    for (const std::string &input : node.input())
      consumeUse(input);
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
        match = !declared.shape().dim(d).has_dim_value() || type.isDynamicDim(d) ||
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
    auto resultType = cast<RankedTensorType>(results[i].getType());
    if (!resultType.hasStaticShape()) {
      SmallVector<Attribute> names;
      const onnx::TypeProto_Tensor &declared = info->type().tensor_type();
      for (int64_t d = 0; d < resultType.getRank(); ++d) {
        std::string name;
        if (resultType.isDynamicDim(d) && declared.has_shape() &&
            d < declared.shape().dim_size())
          name = declared.shape().dim(static_cast<int>(d)).dim_param();
        // Shape inference's made-up names say nothing.
        if (StringRef(name).starts_with("unk__"))
          name.clear();
        names.push_back(builder.getStringAttr(name));
      }
      func.setResultAttr(i, kDimNamesAttr, builder.getArrayAttr(names));
    }
    setAbiDTypeAttrs(context, lookup(info->name())->dtype, [&](StringRef attrName, Attribute attr) {
      func.setResultAttr(i, attrName, attr);
    });
  }
  return module;
}

/// Operands with dynamic dims reach only the importers that handle them.
LogicalResult GraphImporter::checkDynamicSupport(NodeContext &node) {
  const onnx::NodeProto &proto = node.getNode();
  for (auto [i, input] : llvm::enumerate(proto.input())) {
    if (input.empty())
      continue;
    ValueEntry *entry = lookup(input);
    if (!entry || entry->constant || entry->symbolic)
      continue;
    RankedTensorType type = getType(*entry);
    if (type.hasStaticShape() || supportsDynamicShapes(proto.domain(), proto.op_type()))
      continue;
    return node.emitError() << "input '" << input << "' has dynamic dims (" << type
                            << ") and this op supports only static shapes; pin the model's "
                               "dynamic dims with --input-shape";
  }
  return success();
}

/// Ops that take bfloat16 operands themselves: Cast, Q/DQ, the elementwise ops (which compute
/// bf16 in f32 and round each result, ElementwiseCommon.h) and data movement, which copies the
/// bf16 values unchanged. Every other op computes bf16 in f32 (`GraphImporter::importInF32`).
static bool takesBF16(StringRef domain, StringRef opType) {
  static const llvm::StringSet<> defaultDomainOps = {
      // Conversions.
      "Cast", "CastLike", "QuantizeLinear", "DequantizeLinear",
      // Elementwise (importElementwiseOp).
      "Abs", "Add", "Ceil", "Celu", "Clip", "Cos", "Div", "Elu", "Equal", "Erf", "Exp", "Floor",
      "Gelu", "Greater", "GreaterOrEqual", "HardSigmoid", "HardSwish", "IsInf", "IsNaN",
      "LeakyRelu", "Less", "LessOrEqual", "Log", "Max", "Mean", "Min", "Mod", "Mul", "Neg", "Pow",
      "PRelu", "Reciprocal", "Relu", "Round", "Selu", "Sigmoid", "Sign", "Shrink", "Sin",
      "Softplus", "Softsign", "Sqrt", "Sub", "Sum", "Tanh", "ThresholdedRelu",
      // Data movement.
      "Identity", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Concat", "Slice",
      "Gather", "Expand", "Shape", "Size"};
  static const llvm::StringSet<> microsoftOps = {"BiasGelu", "FastGelu", "Gelu", "QuickGelu"};
  if (isDefaultDomain(domain))
    return defaultDomainOps.contains(opType);
  return domain == "com.microsoft" && microsoftOps.contains(opType);
}

int32_t GraphImporter::getDeclaredDType(StringRef name) const {
  for (const onnx::ValueInfoProto &info : model.graph().value_info())
    if (info.name() == name && info.type().has_tensor_type())
      return info.type().tensor_type().elem_type();
  for (const onnx::ValueInfoProto &info : model.graph().output())
    if (info.name() == name && info.type().has_tensor_type())
      return info.type().tensor_type().elem_type();
  return 0;
}

LogicalResult GraphImporter::importInF32(NodeContext &node, const OpImporter &entry) {
  const onnx::NodeProto &proto = node.getNode();
  bool hasBF16Input = llvm::any_of(proto.input(), [&](const std::string &input) {
    return !input.empty() && lookup(input)->dtype == onnx::TensorProto::BFLOAT16;
  });
  if (!hasBF16Input || takesBF16(proto.domain(), proto.op_type()))
    return entry.import(node);

  // Widen the bf16 inputs in place of their entries for the duration of the import.
  SmallFloatFormat format = *getSmallFloatFormat(onnx::TensorProto::BFLOAT16);
  Location loc = node.getLoc();
  Type f32 = builder.getF32Type();
  llvm::StringMap<ValueEntry> saved;
  for (const std::string &input : proto.input()) {
    if (input.empty() || saved.count(input))
      continue;
    ValueEntry original = *lookup(input);
    if (original.dtype != onnx::TensorProto::BFLOAT16)
      continue;
    saved[input] = original;
    ValueEntry widened{nullptr, nullptr, onnx::TensorProto::FLOAT, original.loc};
    if (original.constant) {
      HostTensor tensor = HostTensor::allocate(original.constant->name, onnx::TensorProto::FLOAT,
                                               original.constant->shape);
      for (int64_t i = 0, e = tensor.getNumElements(); i < e; ++i)
        tensor.setDouble(i, original.constant->getDouble(i));
      widened.constant = addConstant(std::move(tensor));
    } else {
      auto type = cast<RankedTensorType>(original.value.getType());
      widened.value = buildElementwise(builder, loc, {original.value}, type.getShape(), f32,
                                       [&](OpBuilder &b, Location l, ValueRange args) {
                                         return buildSmallFloatToF32(b, l, format, args[0]);
                                       });
    }
    values[input] = widened;
  }
  LogicalResult result = entry.import(node);
  for (auto &[input, original] : saved)
    values[input] = original;
  if (failed(result))
    return failure();

  // Round the f32 results back to bf16, except the f32 statistics of the layer normalizations
  // (mean, inverse standard deviation: ONNX's stash type U) and results declared f32.
  bool isLayerNorm = StringRef(proto.op_type()).ends_with("LayerNormalization");
  for (auto [index, output] : llvm::enumerate(proto.output())) {
    ValueEntry *computed = output.empty() ? nullptr : lookup(output);
    if (!computed || computed->dtype != onnx::TensorProto::FLOAT ||
        (isLayerNorm && (index == 1 || index == 2)) ||
        getDeclaredDType(output) == onnx::TensorProto::FLOAT)
      continue;
    if (computed->constant) {
      HostTensor tensor =
          HostTensor::allocate(output, onnx::TensorProto::BFLOAT16, computed->constant->shape);
      for (int64_t i = 0, e = tensor.getNumElements(); i < e; ++i)
        tensor.setDouble(i, computed->constant->getDouble(i));
      define(output, {nullptr, addConstant(std::move(tensor)), onnx::TensorProto::BFLOAT16, loc});
      continue;
    }
    Value value = materialize(*computed);
    auto type = cast<RankedTensorType>(value.getType());
    Value rounded = buildElementwise(builder, loc, {value}, type.getShape(), builder.getBF16Type(),
                                     [&](OpBuilder &b, Location l, ValueRange args) {
                                       return buildF32ToSmallFloat(b, l, format, args[0],
                                                                   /*saturate=*/false);
                                     });
    define(output, {rounded, nullptr, onnx::TensorProto::BFLOAT16, {}});
  }
  return success();
}

OwningOpRef<ModuleOp> GraphImporter::run() {
  context->loadDialect<arith::ArithDialect, func::FuncDialect, linalg::LinalgDialect,
                       math::MathDialect, tensor::TensorDialect, sqz::SqzDialect>();
  normalizeOnnxModel(model); // "ai.onnx" opsets, unsorted nodes, untyped outputs
  if (failed(scanSupport()) || failed(pinInputShapes()) || failed(loadExternalData()) ||
      failed(validateModel()))
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

const SymbolicInts *NodeContext::getSymbolicInput(unsigned index) const {
  if (!hasInput(index))
    return nullptr;
  GraphImporter::ValueEntry *entry = importer.lookup(node.input(index));
  return entry ? entry->symbolic.get() : nullptr;
}

void NodeContext::setSymbolicResult(unsigned index, SymbolicInts value, int32_t dtype) {
  if (index >= static_cast<unsigned>(node.output_size()))
    return;
  if (llvm::all_of(value.elements, [](OpFoldResult e) { return isa<Attribute>(e); })) {
    HostTensor tensor = HostTensor::allocate("", dtype, value.shape);
    for (auto [i, element] : llvm::enumerate(value.elements))
      tensor.setInt(i, cast<IntegerAttr>(cast<Attribute>(element)).getInt());
    setConstantResult(index, std::move(tensor));
    return;
  }
  GraphImporter::ValueEntry entry;
  entry.symbolic = std::make_shared<const SymbolicInts>(std::move(value));
  entry.dtype = dtype;
  entry.loc = loc;
  importer.define(node.output(index), entry);
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

bool mlir::sqz::parseOnnxDynamicDim(StringRef spec, OnnxImportOptions &options,
                                    std::string &error) {
  auto fail = [&](const Twine &why) {
    error = ("invalid --dynamic-dim '" + spec + "': " + why +
             " (expected input:axis[:max], e.g. input_ids:1:2048)")
                .str();
    return false;
  };
  SmallVector<StringRef> parts;
  spec.split(parts, ':');
  if (parts.size() < 2 || parts.size() > 3)
    return fail("expected 2 or 3 ':'-separated fields");
  OnnxImportOptions::DynamicDim dim;
  dim.input = parts[0].trim().str();
  if (dim.input.empty())
    return fail("missing input name");
  if (parts[1].trim().getAsInteger(10, dim.axis))
    return fail("'" + parts[1] + "' is not an axis");
  if (parts.size() == 3 && (parts[2].trim().getAsInteger(10, dim.max) || dim.max < 0))
    return fail("'" + parts[2] + "' is not a bound (a size >= 0)");
  options.dynamicDims.push_back(std::move(dim));
  return true;
}

OwningOpRef<ModuleOp> mlir::sqz::importOnnx(const llvm::MemoryBuffer &buffer, MLIRContext *context,
                                            const OnnxImportOptions &options) {
  StringRef fileName = buffer.getBufferIdentifier();
  StringRef contents = buffer.getBuffer();
  onnx::ModelProto model;
  // External data is looked for next to the model file (when the buffer is one).
  std::string modelDir;
  if (!fileName.empty() && fileName != "-" && fileName != "<stdin>" &&
      llvm::sys::fs::is_regular_file(fileName)) {
    modelDir = llvm::sys::path::parent_path(fileName).str();
    if (modelDir.empty())
      modelDir = ".";
  }
  bool textual = isTextualOnnx(fileName, contents);
  if (textual) {
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
    // A mapped file's pages are dropped as they are parsed (see parseBinaryOnnx).
    bool dropParsedPages = buffer.getBufferKind() == llvm::MemoryBuffer::MemoryBuffer_MMap;
    if (!parseBinaryOnnx(contents, model, error, dropParsedPages)) {
      mlir::emitError(UnknownLoc::get(context))
          << "failed to parse ONNX model '" << fileName << "': " << error;
      return nullptr;
    }
  }
  return GraphImporter(context, model, fileName, modelDir, options).run();
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
