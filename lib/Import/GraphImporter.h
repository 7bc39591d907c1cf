//===- GraphImporter.h - Internal interfaces of the ONNX importer -*- C++ -*-===//
//
// The pieces op import functions work with: `HostTensor` (an ONNX tensor known at import time:
// an initializer or a Constant), `NodeContext` (one node being imported: its operands,
// attributes, results and diagnostics) and the op table that maps (domain, op type) to an import
// function. The driver, `GraphImporter`, is private to GraphImporter.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_IMPORT_GRAPHIMPORTER_H
#define SQZ_LIB_IMPORT_GRAPHIMPORTER_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include "onnx/onnx_pb.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::sqz::import {

//===----------------------------------------------------------------------===//
// Data types
//===----------------------------------------------------------------------===//

/// ONNX's 4-bit and 2-bit integer dtypes (IR versions 10 and 11), which libonnx 1.12's DataType
/// enum lacks. A HostTensor holds them unpacked, one byte per element; the IR carries them in i8
/// (and the artifact ABI as one int8/uint8 per element).
inline constexpr int32_t kOnnxUInt4 = 21;
inline constexpr int32_t kOnnxInt4 = 22;
inline constexpr int32_t kOnnxUInt2 = 25;
inline constexpr int32_t kOnnxInt2 = 26;
/// ONNX's float8 (17-20) and float4 (23) dtypes, also unknown to libonnx 1.12: carried as their
/// bit patterns in i8 (see SmallFloats.h). bfloat16 (16) is carried as MLIR bf16.
inline constexpr int32_t kOnnxFloat8E4M3FN = 17;
inline constexpr int32_t kOnnxFloat8E4M3FNUZ = 18;
inline constexpr int32_t kOnnxFloat8E5M2 = 19;
inline constexpr int32_t kOnnxFloat8E5M2FNUZ = 20;
inline constexpr int32_t kOnnxFloat4E2M1 = 23;

/// int4/uint4/int2/uint2: held one byte per element, packed in TensorProtos.
bool isSubByteIntDType(int32_t dtype);
/// Elements per byte of a packed TensorProto of `dtype` (2 for 4-bit, 4 for 2-bit types, else 1).
int64_t getPackedElementsPerByte(int32_t dtype);

/// The MLIR element type of an ONNX dtype (`onnx::TensorProto::DataType`), or null when the
/// importer does not support it. Unsigned integers map to signless integers (see
/// `isUnsignedDType`), bool to i1, int4/int2 to i8, float8/float4 bit patterns to i8, bfloat16
/// to bf16.
Type getElementType(MLIRContext *context, int32_t dtype);
/// Bytes per element of a supported dtype (bool: 1), 0 otherwise.
int64_t getDTypeSize(int32_t dtype);
/// Lower-case ONNX name of a dtype ("float", "bfloat16", ...).
std::string getDTypeName(int32_t dtype);
bool isFloatDType(int32_t dtype);
/// Unsigned integer dtypes are carried as signless integers; ops that care pick unsigned arith.
bool isUnsignedDType(int32_t dtype);

//===----------------------------------------------------------------------===//
// HostTensor
//===----------------------------------------------------------------------===//

struct DequantizedWeightOrigin; // QuantUtils.h

/// An ONNX tensor whose value is known at import time. `data` holds the elements densely, in
/// row-major order and host (little-endian) byte order, `getDTypeSize(dtype)` bytes each; it
/// points into the ModelProto (raw_data), into `storage`, or into memory kept alive by `owner`
/// (an initializer's raw_data moved out of the ModelProto, a mapped external data file).
/// Copies share `storage`/`owner`; `arith.constant` blobs made from tensors with an owner alias
/// the data instead of copying it.
struct HostTensor {
  std::string name;
  int32_t dtype = 0;
  SmallVector<int64_t> shape;
  ArrayRef<char> data;
  std::shared_ptr<std::vector<char>> storage;
  std::shared_ptr<const void> owner;
  /// Set by DequantizeLinear on the float weight it folds from constant codes, so that a MatMul
  /// can keep the weight quantized (QuantUtils.h).
  std::shared_ptr<const DequantizedWeightOrigin> quantOrigin;

  /// A zero-filled tensor that owns its storage.
  static HostTensor allocate(StringRef name, int32_t dtype, ArrayRef<int64_t> shape);

  int64_t getNumElements() const;
  MutableArrayRef<char> getMutableData();
  /// Element `index` converted to double / int64 (any supported dtype).
  double getDouble(int64_t index) const;
  int64_t getInt(int64_t index) const;
  /// Stores `value` (rounded to the dtype) at `index`; the tensor must own its storage.
  void setDouble(int64_t index, double value);
  void setInt(int64_t index, int64_t value);
};

/// An integer tensor of rank 0 or 1 whose elements are known at import time as constants or as
/// `index` SSA values computed from dynamic dims (`tensor.dim`): the value of a shape
/// computation (Shape -> Gather -> Concat -> Reshape) on a tensor with dynamic dims. Consumers
/// that need sizes (Reshape, Expand, ConstantOfShape, Range, Slice) read it with
/// `getMixedInts`; any other consumer gets it materialized as a tensor.
struct SymbolicInts {
  SmallVector<int64_t> shape; // [] or [n]
  SmallVector<OpFoldResult> elements;
};

/// Reads an ONNX TensorProto (raw_data or the typed fields). Returns failure with `error` set when
/// the dtype is unsupported, the data is external (the importer resolves external initializers
/// itself, see GraphImporter.cpp) or does not match the shape.
FailureOr<HostTensor> readTensorProto(const onnx::TensorProto &proto, std::string &error);

/// `tensor` transposed: result dim i is input dim perm[i] (perm must be a permutation).
HostTensor transposeHostTensor(const HostTensor &tensor, ArrayRef<int64_t> perm);

//===----------------------------------------------------------------------===//
// NodeContext
//===----------------------------------------------------------------------===//

class GraphImporter;

/// One ONNX node being imported. Op import functions read operands and attributes through it,
/// build IR with `getBuilder()` at `getLoc()`, set every result, and report problems with
/// `emitError()` (then return failure; the driver skips the nodes that depend on this one and
/// reports everything it finds before failing).
class NodeContext {
public:
  NodeContext(GraphImporter &importer, const onnx::NodeProto &node, std::string name, Location loc,
              int64_t opset, OpBuilder &builder)
      : importer(importer), node(node), name(std::move(name)), loc(loc), opset(opset),
        builder(builder) {}

  const onnx::NodeProto &getNode() const { return node; }
  StringRef getName() const { return name; }
  StringRef getOpType() const { return node.op_type(); }
  Location getLoc() const { return loc; }
  /// The opset version of the node's domain imported by the model.
  int64_t getOpset() const { return opset; }
  OpBuilder &getBuilder() { return builder; }
  MLIRContext *getContext() { return builder.getContext(); }

  /// "ONNX node '<name>' (<op type>): " diagnostics at the node's location.
  InFlightDiagnostic emitError();

  //--- Operands. Optional inputs may be absent (empty name).
  unsigned getNumInputs() const { return node.input_size(); }
  bool hasInput(unsigned index) const;
  /// Fails (with a diagnostic) unless `min <= #inputs <= max`.
  LogicalResult checkNumInputs(unsigned min, unsigned max);
  int32_t getInputDType(unsigned index) const;
  RankedTensorType getInputType(unsigned index) const;
  /// The import-time value of input `index`, or null if it is computed at run time.
  const HostTensor *getConstantInput(unsigned index) const;
  /// The import-time symbolic value of input `index` (see SymbolicInts), or null.
  const SymbolicInts *getSymbolicInput(unsigned index) const;
  /// The SSA value of input `index` (materializes constants as `arith.constant` and symbolic
  /// values as `tensor.from_elements`).
  Value getInput(unsigned index);

  //--- Results.
  void setResult(unsigned index, Value value, int32_t dtype);
  void setConstantResult(unsigned index, HostTensor tensor);
  /// Sets a symbolic integer result (all-constant elements become a constant result).
  void setSymbolicResult(unsigned index, SymbolicInts value, int32_t dtype);
  /// Materializes an import-time tensor derived by the op (e.g. a transposed weight) as an
  /// `arith.constant`, located at `tensor.name` (or the node when unnamed).
  Value createConstant(HostTensor tensor);
  /// Result `resultIndex` is input `inputIndex` (also when that is a constant).
  void forwardInput(unsigned inputIndex, unsigned resultIndex);

  //--- Attributes (a diagnostic is emitted when present with the wrong type).
  const onnx::AttributeProto *getAttr(StringRef attrName) const;
  FailureOr<int64_t> getIntAttr(StringRef attrName, int64_t defaultValue);
  FailureOr<float> getFloatAttr(StringRef attrName, float defaultValue);
  FailureOr<std::string> getStringAttr(StringRef attrName, StringRef defaultValue);
  /// std::nullopt when absent.
  FailureOr<std::optional<SmallVector<int64_t>>> getIntsAttr(StringRef attrName);

private:
  GraphImporter &importer;
  const onnx::NodeProto &node;
  std::string name;
  Location loc;
  int64_t opset;
  OpBuilder &builder;
};

//===----------------------------------------------------------------------===//
// The op table
//===----------------------------------------------------------------------===//

using OpImportFn = LogicalResult (*)(NodeContext &);

/// One supported ONNX op: the default domain is "". Nodes of opsets below `minOpset` are
/// reported as unsupported (their semantics differ from what `import` implements).
struct OpImporter {
  StringLiteral domain;
  StringLiteral opType;
  int64_t minOpset;
  OpImportFn import;
};

/// The importer's op table (OpTable.cpp).
ArrayRef<OpImporter> getOpImporters();
/// The entry for (domain, opType), or null. "ai.onnx" is the default domain.
const OpImporter *lookupOpImporter(StringRef domain, StringRef opType);

/// The highest default-domain opset the importer accepts: every op in the table has the
/// semantics the importer implements up to this version.
inline constexpr int64_t kMaxDefaultOpset = 25;

/// True when the importer of (domain, opType) handles operands with dynamic dims.
bool supportsDynamicShapes(StringRef domain, StringRef opType);

/// Folds a node on symbolic shape values (SymbolicShapes.cpp): when every input is an
/// import-time constant or SymbolicInts, at least one symbolic, and the op is a shape
/// computation (Gather, Concat, Slice, Unsqueeze, Squeeze, Reshape, Cast, Identity, Add, Sub,
/// Mul, Div, Min, Max, Neg, ...), sets symbolic results and returns true.
bool foldSymbolic(NodeContext &node);

} // namespace mlir::sqz::import

#endif // SQZ_LIB_IMPORT_GRAPHIMPORTER_H
