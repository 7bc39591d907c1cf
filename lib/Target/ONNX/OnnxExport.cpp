//===- OnnxExport.cpp - Compressed sqz graph IR back to ONNX
//---------------===//
//
// The exporter edits the source model instead of translating the whole module:
//
// 1. The source model is parsed and normalized as the importer does (so unnamed
// nodes get the
//    importer's names) and imported again, with the module's argument shapes,
//    into S.
// 2. The module M must be S with only its linears changed: both functions are
// flattened in
//    pre-order, leaving out the linears and the constants only they read
//    (weights, codes, scales, zero points, biases); the remaining ops must
//    match one to one (name, attributes, result types, operands by position,
//    constant values), and the linears must match one to one (input, result
//    type). Anything else (AWQ's inserted input scaling, structured pruning's
//    smaller tensors, a canonicalized module) is an error naming the first op
//    that differs.
// 3. Each linear of S is located at its ONNX node (NameLoc). A linear whose
// weight M changed
//    replaces its node: sqz.quant_linear -> com.microsoft MatMulNBits (codes
//    packed low bits first along K in blocks of block_size, packed uint8 zero
//    points, bias), nf4 ones -> com.microsoft MatMulBnb4 (the [N, K] codes
//    flattened, even index in the high nibble, absmax per block; + Add for a
//    bias); sqz.linear -> MatMul with the transposed weight as a new
//    initializer (+ Add for a bias). Only MatMul, Gemm (transA = 0),
//    MatMulNBits and MatMulBnb4 nodes that hold exactly one linear can be
//    replaced.
// 4. Nodes and initializers that nothing reads any more (a DequantizeLinear
// that fed a
//    replaced MatMul, the old weights) are removed, com.microsoft is added to
//    the opsets, and the model is serialized. Nothing is written on any error.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/ONNX/OnnxExport.h"

#include "../../Import/ModelFixups.h"
#include "../../Import/OnnxModel.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"
#include "sqz/Import/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <climits>
#include <cstring>
#include <optional>
#include <tuple>

using namespace mlir;
using namespace mlir::sqz;

namespace {

//===----------------------------------------------------------------------===//
// Reading the module
//===----------------------------------------------------------------------===//

/// The linear forms of the sqz dialect (operand 0 is the activation).
bool isLinearFamily(Operation *op) {
  StringRef name = op->getName().getStringRef();
  return name == "sqz.linear" || name == "sqz.quant_linear" ||
         name == "sqz.sparse_linear" || name == "sqz.outlier_linear" ||
         name == "sqz.packed_linear";
}

/// The first NameLoc's name in `loc` (the ONNX node a linear was imported
/// from), or "".
std::string getLocName(Location loc) {
  std::string name;
  loc->walk([&](Location inner) {
    if (auto named = dyn_cast<NameLoc>(inner)) {
      name = named.getName().str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return name;
}

/// The bytes of a constant's value, row-major, splats expanded into `storage`;
/// std::nullopt when `value` is not a readable constant (e.g. an elided blob).
std::optional<ArrayRef<char>> getConstantBytes(Value value,
                                               std::vector<char> &storage) {
  Attribute attr;
  if (!value || !matchPattern(value, m_Constant(&attr)))
    return std::nullopt;
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (dense.getElementType().isInteger(1))
      return std::nullopt;
    if (!dense.isSplat())
      return dense.getRawData();
    ArrayRef<char> one = dense.getRawData();
    storage.clear();
    storage.reserve(one.size() * dense.getNumElements());
    for (int64_t i = 0, e = dense.getNumElements(); i < e; ++i)
      storage.insert(storage.end(), one.begin(), one.end());
    return ArrayRef<char>(storage);
  }
  if (auto blob = dyn_cast<DenseResourceElementsAttr>(attr))
    if (AsmResourceBlob *data = blob.getRawHandle().getBlob())
      return data->getData();
  return std::nullopt;
}

/// Whether two constants (or two absent values) hold the same typed value.
bool sameConstant(Value a, Value b) {
  if (!a || !b)
    return !a && !b;
  if (a.getType() != b.getType())
    return false;
  Attribute attrA, attrB;
  if (!matchPattern(a, m_Constant(&attrA)) ||
      !matchPattern(b, m_Constant(&attrB)))
    return false;
  if (attrA == attrB)
    return true;
  std::vector<char> storageA, storageB;
  std::optional<ArrayRef<char>> bytesA = getConstantBytes(a, storageA);
  std::optional<ArrayRef<char>> bytesB = getConstantBytes(b, storageB);
  return bytesA && bytesB && *bytesA == *bytesB;
}

/// A constant whose every use is a linear's weight-side operand (not its
/// activation).
bool isLinearParameter(Operation *op) {
  if (!op->hasTrait<OpTrait::ConstantLike>() || op->use_empty())
    return false;
  return llvm::all_of(op->getUses(), [](OpOperand &use) {
    return isLinearFamily(use.getOwner()) && use.getOperandNumber() != 0;
  });
}

/// A function flattened in pre-order: the compared ops and the linears.
struct FlatGraph {
  Operation *func;
  SmallVector<Operation *> ops;
  SmallVector<Operation *> linears;
  DenseMap<Operation *, int64_t> opIndex, linearIndex;

  explicit FlatGraph(func::FuncOp funcOp) : func(funcOp.getOperation()) {
    func->walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (op == func)
        return;
      if (isLinearFamily(op)) {
        linearIndex[op] = linears.size();
        linears.push_back(op);
      } else if (!isLinearParameter(op)) {
        opIndex[op] = ops.size();
        ops.push_back(op);
      }
    });
  }

  /// A position-independent name of `value`: (kind, index, number).
  std::tuple<int, int64_t, int64_t> key(Value value) const {
    if (auto arg = dyn_cast<BlockArgument>(value)) {
      Operation *parent = arg.getOwner()->getParentOp();
      if (parent == func)
        return {0, 0, arg.getArgNumber()};
      auto it = opIndex.find(parent);
      int64_t region = arg.getOwner()->getParent()->getRegionNumber();
      return {1, it == opIndex.end() ? -1 : it->second,
              (region << 32) | arg.getArgNumber()};
    }
    Operation *def = value.getDefiningOp();
    int64_t result = cast<OpResult>(value).getResultNumber();
    if (auto it = linearIndex.find(def); it != linearIndex.end())
      return {2, it->second, result};
    if (auto it = opIndex.find(def); it != opIndex.end())
      return {3, it->second, result};
    return {4, 0, 0};
  }
};

/// Whether op `a` of graph `ga` matches op `b` of graph `gb`.
bool sameOp(const FlatGraph &ga, Operation *a, const FlatGraph &gb,
            Operation *b) {
  if (a->getName() != b->getName() ||
      a->getResultTypes() != b->getResultTypes() ||
      a->getNumOperands() != b->getNumOperands() ||
      a->getNumRegions() != b->getNumRegions())
    return false;
  for (auto [x, y] : llvm::zip(a->getOperands(), b->getOperands()))
    if (ga.key(x) != gb.key(y))
      return false;
  for (auto [ra, rb] : llvm::zip(a->getRegions(), b->getRegions())) {
    if (ra.getBlocks().size() != rb.getBlocks().size())
      return false;
    for (auto [ba, bb] : llvm::zip(ra.getBlocks(), rb.getBlocks()))
      if (ba.getArgumentTypes() != bb.getArgumentTypes())
        return false;
  }
  if (a->hasTrait<OpTrait::ConstantLike>())
    return sameConstant(a->getResult(0), b->getResult(0));
  return a->getAttrDictionary() == b->getAttrDictionary();
}

//===----------------------------------------------------------------------===//
// Writing ONNX
//===----------------------------------------------------------------------===//

/// The ONNX dtype of a float element type we export, or 0.
int32_t getOnnxFloatDType(Type type) {
  if (type.isF32())
    return onnx::TensorProto::FLOAT;
  if (type.isF16())
    return onnx::TensorProto::FLOAT16;
  return 0;
}

/// f32 `value` in the bytes of `dtype` (FLOAT or FLOAT16, round to nearest
/// even).
void appendFloat(std::string &out, float value, int32_t dtype) {
  if (dtype == onnx::TensorProto::FLOAT) {
    char bytes[4];
    std::memcpy(bytes, &value, 4);
    out.append(bytes, 4);
    return;
  }
  APFloat half(value);
  bool losesInfo = false;
  half.convert(APFloat::IEEEhalf(), APFloat::rmNearestTiesToEven, &losesInfo);
  uint16_t bits = static_cast<uint16_t>(half.bitcastToAPInt().getZExtValue());
  out.push_back(static_cast<char>(bits & 0xff));
  out.push_back(static_cast<char>(bits >> 8));
}

/// The export of one module into the source model.
class OnnxExporter {
public:
  OnnxExporter(ModuleOp module, onnx::ModelProto &model)
      : module(module), model(model) {}

  LogicalResult run(ModuleOp source);

private:
  /// How a linear's node changes.
  enum class Action { Keep, Quant, Dense };
  struct Change {
    Action action;
    Operation *linear;       // in the module
    Operation *sourceLinear; // in the source's import
  };

  InFlightDiagnostic emitNodeError(Operation *linear,
                                   const onnx::NodeProto &node) {
    return emitError(linear->getLoc()) << "ONNX node '" << getNodeName(node)
                                       << "' (" << node.op_type() << "): ";
  }
  std::string getNodeName(const onnx::NodeProto &node) const {
    auto it = nodeNames.find(&node);
    return it == nodeNames.end() ? node.name() : it->second;
  }
  std::string uniqueName(StringRef base);
  void addInitializer(const std::string &name, int32_t dtype,
                      ArrayRef<int64_t> shape, std::string bytes);
  FailureOr<SmallVector<onnx::NodeProto>>
  exportQuant(QuantLinearOp op, const onnx::NodeProto &node);
  FailureOr<SmallVector<onnx::NodeProto>>
  exportNF4(QuantLinearOp op, const onnx::NodeProto &node, int32_t dtype);
  LogicalResult appendBias(Operation *linear, Value bias,
                           const onnx::NodeProto &node, int32_t dtype,
                           int64_t n, SmallVector<onnx::NodeProto> &nodes);
  FailureOr<SmallVector<onnx::NodeProto>>
  exportDense(LinearOp op, const onnx::NodeProto &node);
  LogicalResult checkReplaceable(Operation *linear, Operation *sourceLinear,
                                 const onnx::NodeProto &node);
  void removeDeadCode();

  ModuleOp module;
  onnx::ModelProto &model;
  DenseMap<const onnx::NodeProto *, std::string> nodeNames;
  llvm::StringSet<> usedNames;
  bool addedMicrosoftOp = false;
};

std::string OnnxExporter::uniqueName(StringRef base) {
  std::string name = base.str();
  for (int i = 1; usedNames.contains(name); ++i)
    name = (base + "_" + Twine(i)).str();
  usedNames.insert(name);
  return name;
}

void OnnxExporter::addInitializer(const std::string &name, int32_t dtype,
                                  ArrayRef<int64_t> shape, std::string bytes) {
  onnx::TensorProto *tensor = model.mutable_graph()->add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(dtype);
  for (int64_t d : shape)
    tensor->add_dims(d);
  tensor->set_raw_data(std::move(bytes));
}

LogicalResult OnnxExporter::checkReplaceable(Operation *linear,
                                             Operation *sourceLinear,
                                             const onnx::NodeProto &node) {
  StringRef opType = node.op_type();
  StringRef domain = node.domain();
  bool isDefault = domain.empty() || domain == "ai.onnx";
  if (isDefault && opType == "Gemm") {
    for (const onnx::AttributeProto &attr : node.attribute())
      if (attr.name() == "transA" && attr.i() != 0)
        return emitNodeError(linear, node)
               << "a Gemm with transA = 1 cannot be exported changed";
    // A C the importer did not fold into the bias is added after the linear:
    // replacing the node would drop it.
    float beta = 1.0f;
    for (const onnx::AttributeProto &attr : node.attribute())
      if (attr.name() == "beta")
        beta = attr.f();
    bool hasC = node.input_size() > 2 && !node.input(2).empty() && beta != 0.0f;
    Value sourceBias;
    if (auto linearOp = dyn_cast<LinearOp>(sourceLinear))
      sourceBias = linearOp.getBias();
    else if (auto q = dyn_cast<QuantLinearOp>(sourceLinear))
      sourceBias = q.getBias();
    if (hasC && !sourceBias)
      return emitNodeError(linear, node)
             << "its C is not a bias of the linear (it does not broadcast to "
                "[N]); such a Gemm "
                "cannot be exported changed";
    return success();
  }
  if ((isDefault && opType == "MatMul") ||
      (domain == "com.microsoft" &&
       (opType == "MatMulNBits" || opType == "MatMulBnb4")))
    return success();
  return emitNodeError(linear, node)
         << "its linear was changed, but only MatMul, Gemm, MatMulNBits and "
            "MatMulBnb4 nodes can be exported changed";
}

FailureOr<SmallVector<onnx::NodeProto>>
OnnxExporter::exportQuant(QuantLinearOp op, const onnx::NodeProto &node) {
  QuantAttr quant = op.getQuant();
  auto inputType = cast<RankedTensorType>(op.getInput().getType());
  int32_t dtype = getOnnxFloatDType(inputType.getElementType());
  if (!dtype)
    return emitNodeError(op, node)
           << "MatMulNBits and MatMulBnb4 take float or float16 activations, "
              "got "
           << inputType.getElementType();
  if (inputType.getRank() < 2)
    return emitNodeError(op, node)
           << "MatMulNBits and MatMulBnb4 need an input of rank 2 or more, got "
           << inputType;
  int64_t bits;
  bool ternary = false;
  switch (quant.getFormat()) {
  case QuantFormat::Int8:
    bits = 8;
    break;
  case QuantFormat::Int4:
    bits = 4;
    break;
  case QuantFormat::Int2:
    bits = 2;
    break;
  case QuantFormat::Ternary:
    bits = 2; // codes 0, 1, 2 with zero point 1
    ternary = true;
    break;
  case QuantFormat::NF4:
    return exportNF4(op, node, dtype);
  default:
    return emitNodeError(op, node)
           << "format '" << stringifyQuantFormat(quant.getFormat())
           << "' has no MatMulNBits or MatMulBnb4 form (int8, int4, int2, "
              "ternary and nf4 are exported)";
  }
  int64_t n = op.getOutFeatures(), k = op.getInFeatures();
  int64_t group = op.getGroupSize();
  // MatMulNBits blocks are powers of 2 of at least 16; one group per row takes
  // one block.
  int64_t block = quant.getGroup() < 0
                      ? std::max<int64_t>(16, llvm::PowerOf2Ceil(k))
                      : group;
  if (block < 16)
    return emitNodeError(op, node)
           << "group " << group
           << " is below MatMulNBits' smallest block_size, 16";
  int64_t blocks = (k + block - 1) / block;
  if (blocks != op.getNumGroups())
    return emitNodeError(op, node) << "internal: groups do not map onto blocks";
  std::vector<char> codeStorage, scaleStorage, zeroStorage;
  std::optional<ArrayRef<char>> codes =
      getConstantBytes(op.getCodes(), codeStorage);
  std::optional<ArrayRef<char>> scales =
      getConstantBytes(op.getScales(), scaleStorage);
  std::optional<ArrayRef<char>> zeros;
  if (op.getZeros())
    zeros = getConstantBytes(op.getZeros(), zeroStorage);
  if (!codes || !scales || (op.getZeros() && !zeros))
    return emitNodeError(op, node)
           << "the codes, scales or zero points are not readable "
              "constants (elided resources?)";

  std::string base = node.output(0);
  int64_t perByte = 8 / bits;
  int64_t blobSize = block * bits / 8;
  std::string packed(n * blocks * blobSize, '\0');
  for (int64_t row = 0; row < n; ++row)
    for (int64_t col = 0; col < k; ++col) {
      int64_t at = row * blocks * block + col;
      uint8_t code = static_cast<uint8_t>((*codes)[row * k + col]);
      packed[at / perByte] |=
          static_cast<char>(code << ((at % perByte) * bits));
    }
  std::string scaleBytes;
  for (int64_t i = 0; i < n * blocks; ++i) {
    float s;
    std::memcpy(&s, scales->data() + 4 * i, 4);
    appendFloat(scaleBytes, s, dtype);
  }
  std::string bName = uniqueName(base + "_sqz_B");
  std::string sName = uniqueName(base + "_sqz_scales");
  addInitializer(bName, onnx::TensorProto::UINT8, {n, blocks, blobSize},
                 std::move(packed));
  addInitializer(sName, dtype, {n, blocks}, std::move(scaleBytes));
  onnx::NodeProto result;
  result.set_name(getNodeName(node));
  result.set_op_type("MatMulNBits");
  result.set_domain("com.microsoft");
  result.add_input(node.input(0));
  result.add_input(bName);
  result.add_input(sName);
  if (zeros || ternary) {
    int64_t rowBytes = (blocks * bits + 7) / 8;
    std::string zp(n * rowBytes, '\0');
    for (int64_t row = 0; row < n; ++row)
      for (int64_t blk = 0; blk < blocks; ++blk) {
        int64_t at = row * rowBytes * perByte + blk;
        uint8_t z =
            zeros ? static_cast<uint8_t>((*zeros)[row * blocks + blk]) : 1;
        zp[at / perByte] |= static_cast<char>(z << ((at % perByte) * bits));
      }
    std::string zName = uniqueName(base + "_sqz_zero_points");
    addInitializer(zName, onnx::TensorProto::UINT8, {n, rowBytes},
                   std::move(zp));
    result.add_input(zName);
  }
  if (Value bias = op.getBias()) {
    std::vector<char> biasStorage;
    std::optional<ArrayRef<char>> biasBytes =
        getConstantBytes(bias, biasStorage);
    if (!biasBytes)
      return emitNodeError(op, node) << "the bias is not a readable constant";
    while (result.input_size() < 5)
      result.add_input("");
    std::string biasName = uniqueName(base + "_sqz_bias");
    addInitializer(biasName, dtype, {n},
                   std::string(biasBytes->begin(), biasBytes->end()));
    result.add_input(biasName);
  }
  result.add_output(node.output(0));
  auto addInt = [&](StringRef name, int64_t value) {
    onnx::AttributeProto *attr = result.add_attribute();
    attr->set_name(name.str());
    attr->set_type(onnx::AttributeProto::INT);
    attr->set_i(value);
  };
  addInt("K", k);
  addInt("N", n);
  addInt("bits", bits);
  addInt("block_size", block);
  addedMicrosoftOp = true;
  return SmallVector<onnx::NodeProto>{std::move(result)};
}

LogicalResult OnnxExporter::appendBias(Operation *linear, Value bias,
                                       const onnx::NodeProto &node,
                                       int32_t dtype, int64_t n,
                                       SmallVector<onnx::NodeProto> &nodes) {
  onnx::NodeProto &product = nodes.back();
  if (!bias) {
    product.add_output(node.output(0));
    return success();
  }
  std::vector<char> biasStorage;
  std::optional<ArrayRef<char>> biasBytes = getConstantBytes(bias, biasStorage);
  if (!biasBytes)
    return emitNodeError(linear, node) << "the bias is not a readable constant";
  std::string base = node.output(0);
  std::string biasName = uniqueName(base + "_sqz_bias");
  addInitializer(biasName, dtype, {n},
                 std::string(biasBytes->begin(), biasBytes->end()));
  std::string productName = uniqueName(base + "_sqz_matmul");
  product.add_output(productName);
  onnx::NodeProto add;
  add.set_name(uniqueName(getNodeName(node) + "_bias"));
  add.set_op_type("Add");
  add.add_input(productName);
  add.add_input(biasName);
  add.add_output(node.output(0));
  nodes.push_back(std::move(add));
  return success();
}

FailureOr<SmallVector<onnx::NodeProto>>
OnnxExporter::exportNF4(QuantLinearOp op, const onnx::NodeProto &node,
                        int32_t dtype) {
  int64_t n = op.getOutFeatures(), k = op.getInFeatures();
  // MatMulBnb4's absmax blocks run over the flattened [N, K] weight: each group
  // must be a whole block inside one row (one group per row: block_size K),
  // and onnxruntime implements blocks of 16 to 256 (powers of 2).
  bool onePerRow = op.getNumGroups() == 1;
  int64_t block = onePerRow ? k : op.getGroupSize();
  if (k % block != 0)
    return emitNodeError(op, node)
           << "nf4 group " << block << " does not divide the " << k
           << " inputs; MatMulBnb4's absmax blocks run over the flattened "
              "weight and cannot express a ragged last group";
  if (block < 16 || block > 256 || !llvm::isPowerOf2_64(block))
    return emitNodeError(op, node)
           << (onePerRow ? "one nf4 group per row needs block_size = K = "
                         : "nf4 group ")
           << block
           << ", outside MatMulBnb4's block sizes (16, 32, 64, 128, 256)";
  std::vector<char> codeStorage, scaleStorage;
  std::optional<ArrayRef<char>> codes =
      getConstantBytes(op.getCodes(), codeStorage);
  std::optional<ArrayRef<char>> scales =
      getConstantBytes(op.getScales(), scaleStorage);
  if (!codes || !scales)
    return emitNodeError(op, node) << "the codes or scales are not readable "
                                      "constants (elided resources?)";
  // Flat index i = row·K + col, two codes a byte, even i in the high nibble.
  std::string packed((n * k + 1) / 2, '\0');
  for (int64_t i = 0, e = n * k; i < e; ++i) {
    uint8_t code = static_cast<uint8_t>((*codes)[i]) & 0xF;
    packed[i / 2] |= static_cast<char>(i % 2 == 0 ? code << 4 : code);
  }
  int64_t blocks = n * (k / block);
  std::string absmax;
  for (int64_t i = 0; i < blocks; ++i) {
    float s;
    std::memcpy(&s, scales->data() + 4 * i, 4);
    appendFloat(absmax, s, dtype);
  }
  std::string base = node.output(0);
  std::string bName = uniqueName(base + "_sqz_B");
  std::string aName = uniqueName(base + "_sqz_absmax");
  addInitializer(bName, onnx::TensorProto::UINT8, {(n * k + 1) / 2},
                 std::move(packed));
  addInitializer(aName, dtype, {blocks}, std::move(absmax));
  SmallVector<onnx::NodeProto> nodes(1);
  onnx::NodeProto &result = nodes[0];
  result.set_name(getNodeName(node));
  result.set_op_type("MatMulBnb4");
  result.set_domain("com.microsoft");
  result.add_input(node.input(0));
  result.add_input(bName);
  result.add_input(aName);
  auto addInt = [&](StringRef name, int64_t value) {
    onnx::AttributeProto *attr = result.add_attribute();
    attr->set_name(name.str());
    attr->set_type(onnx::AttributeProto::INT);
    attr->set_i(value);
  };
  addInt("K", k);
  addInt("N", n);
  addInt("block_size", block);
  addInt("quant_type", 1); // NF4
  addedMicrosoftOp = true;
  if (failed(appendBias(op, op.getBias(), node, dtype, n, nodes)))
    return failure();
  return nodes;
}

FailureOr<SmallVector<onnx::NodeProto>>
OnnxExporter::exportDense(LinearOp op, const onnx::NodeProto &node) {
  auto inputType = cast<RankedTensorType>(op.getInput().getType());
  auto weightType = cast<RankedTensorType>(op.getWeight().getType());
  int32_t dtype = getOnnxFloatDType(inputType.getElementType());
  if (!dtype || weightType.getElementType() != inputType.getElementType())
    return emitNodeError(op, node)
           << "only float and float16 linears are exported, got " << inputType
           << " and " << weightType;
  int64_t n = weightType.getDimSize(0), k = weightType.getDimSize(1);
  std::vector<char> storage;
  std::optional<ArrayRef<char>> weight =
      getConstantBytes(op.getWeight(), storage);
  if (!weight)
    return emitNodeError(op, node) << "the weight is not a readable constant";
  int64_t size = dtype == onnx::TensorProto::FLOAT ? 4 : 2;
  std::string transposed(n * k * size, '\0');
  for (int64_t row = 0; row < n; ++row)
    for (int64_t col = 0; col < k; ++col)
      std::memcpy(&transposed[(col * n + row) * size],
                  weight->data() + (row * k + col) * size, size);
  std::string base = node.output(0);
  std::string wName = uniqueName(base + "_sqz_weight");
  addInitializer(wName, dtype, {k, n}, std::move(transposed));
  SmallVector<onnx::NodeProto> nodes(1);
  onnx::NodeProto &matmul = nodes[0];
  matmul.set_name(getNodeName(node));
  matmul.set_op_type("MatMul");
  matmul.add_input(node.input(0));
  matmul.add_input(wName);
  if (failed(appendBias(op, op.getBias(), node, dtype, n, nodes)))
    return failure();
  return nodes;
}

void OnnxExporter::removeDeadCode() {
  onnx::GraphProto &graph = *model.mutable_graph();
  llvm::StringSet<> graphOutputs;
  for (const onnx::ValueInfoProto &output : graph.output())
    graphOutputs.insert(output.name());
  // Nodes whose outputs nothing reads, until none is left.
  for (bool changed = true; changed;) {
    changed = false;
    llvm::StringSet<> read;
    for (const onnx::NodeProto &node : graph.node())
      for (const std::string &input : node.input())
        read.insert(input);
    google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
    for (onnx::NodeProto &node : *graph.mutable_node()) {
      bool live = llvm::any_of(node.output(), [&](const std::string &output) {
        return !output.empty() &&
               (read.contains(output) || graphOutputs.contains(output));
      });
      if (live)
        *kept.Add() = std::move(node);
      else
        changed = true;
    }
    graph.mutable_node()->Swap(&kept);
  }
  // Initializers nothing reads (those also listed as graph inputs stay: they
  // are part of the model's interface), and value_info of values no node
  // produces any more.
  llvm::StringSet<> read, produced, inputs;
  for (const onnx::NodeProto &node : graph.node()) {
    for (const std::string &input : node.input())
      read.insert(input);
    for (const std::string &output : node.output())
      produced.insert(output);
  }
  for (const onnx::ValueInfoProto &input : graph.input())
    inputs.insert(input.name());
  google::protobuf::RepeatedPtrField<onnx::TensorProto> initializers;
  for (onnx::TensorProto &tensor : *graph.mutable_initializer())
    if (read.contains(tensor.name()) || graphOutputs.contains(tensor.name()) ||
        inputs.contains(tensor.name()))
      *initializers.Add() = std::move(tensor);
  graph.mutable_initializer()->Swap(&initializers);
  google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> infos;
  for (onnx::ValueInfoProto &info : *graph.mutable_value_info())
    if (produced.contains(info.name()))
      *infos.Add() = std::move(info);
  graph.mutable_value_info()->Swap(&infos);
}

LogicalResult OnnxExporter::run(ModuleOp source) {
  auto mainFn = module.lookupSymbol<func::FuncOp>("main");
  auto sourceFn = source.lookupSymbol<func::FuncOp>("main");
  if (!mainFn)
    return emitError(module.getLoc())
           << "--export-onnx: the module has no func.func @main";
  if (!sourceFn)
    return emitError(module.getLoc())
           << "--export-onnx: the source's import has no @main";
  if (mainFn.getFunctionType() != sourceFn.getFunctionType())
    return emitError(mainFn.getLoc())
           << "--export-onnx: @main has type " << mainFn.getFunctionType()
           << " but the source model imports as " << sourceFn.getFunctionType()
           << " (was the module imported from this model?)";

  // The module must be the source's import with only its linears changed.
  FlatGraph flat(mainFn), sourceFlat(sourceFn);
  for (Operation *op : flat.linears)
    if (!isa<LinearOp, QuantLinearOp>(op))
      return emitError(op->getLoc())
             << "--export-onnx: '" << op->getName()
             << "' has no ONNX form (sqz.linear and sqz.quant_linear "
                "are exported)";
  size_t common = std::min(flat.ops.size(), sourceFlat.ops.size());
  for (size_t i = 0; i < common; ++i)
    if (!sameOp(flat, flat.ops[i], sourceFlat, sourceFlat.ops[i]))
      return emitError(flat.ops[i]->getLoc())
             << "--export-onnx: '" << flat.ops[i]->getName()
             << "' differs from the source model's import (which has '"
             << sourceFlat.ops[i]->getName()
             << "' here); only modules whose linears alone "
             << "changed can be exported (not, e.g., AWQ's input scaling or "
                "structured pruning)";
  if (flat.ops.size() != sourceFlat.ops.size()) {
    Operation *extra = flat.ops.size() > common ? flat.ops[common] : nullptr;
    InFlightDiagnostic diag =
        emitError(extra ? extra->getLoc() : mainFn.getLoc())
        << "--export-onnx: the module has " << flat.ops.size()
        << " ops besides its linears, the source's import "
        << sourceFlat.ops.size();
    if (extra)
      diag << "; '" << extra->getName()
           << "' has no counterpart in the source model";
    return diag;
  }
  if (flat.linears.size() != sourceFlat.linears.size())
    return emitError(mainFn.getLoc())
           << "--export-onnx: the module has " << flat.linears.size()
           << " linears, the source's import " << sourceFlat.linears.size();

  // Map linears to nodes.
  onnx::GraphProto &graph = *model.mutable_graph();
  llvm::StringMap<int> nodeIndex;
  for (int i = 0, e = graph.node_size(); i < e; ++i) {
    const onnx::NodeProto &node = graph.node(i);
    std::string name = node.name().empty()
                           ? node.op_type() + "_" + std::to_string(i)
                           : node.name();
    nodeIndex[name] = i;
    nodeNames[&node] = name;
    usedNames.insert(name);
    for (const std::string &output : node.output())
      usedNames.insert(output);
  }
  for (const onnx::TensorProto &tensor : graph.initializer())
    usedNames.insert(tensor.name());
  for (const onnx::ValueInfoProto &info : graph.input())
    usedNames.insert(info.name());
  for (const onnx::ValueInfoProto &info : graph.value_info())
    usedNames.insert(info.name());

  llvm::MapVector<int, SmallVector<Change>> changes;
  for (auto [op, sourceOp] : llvm::zip(flat.linears, sourceFlat.linears)) {
    if (op->getResultTypes() != sourceOp->getResultTypes() ||
        flat.key(op->getOperand(0)) != sourceFlat.key(sourceOp->getOperand(0)))
      return emitError(op->getLoc()) << "--export-onnx: this linear differs in "
                                        "its input or result from the source "
                                        "model's import";
    std::string name = getLocName(sourceOp->getLoc());
    auto it = nodeIndex.find(name);
    if (it == nodeIndex.end())
      return emitError(op->getLoc()) << "--export-onnx: no ONNX node '" << name
                                     << "' for this linear in the source model";
    Action action = Action::Keep;
    if (auto linear = dyn_cast<LinearOp>(op)) {
      auto sourceLinear = dyn_cast<LinearOp>(sourceOp);
      if (!sourceLinear ||
          !sameConstant(linear.getWeight(), sourceLinear.getWeight()) ||
          !sameConstant(linear.getBias(), sourceLinear.getBias()))
        action = Action::Dense;
    } else {
      auto q = cast<QuantLinearOp>(op);
      auto sourceQ = dyn_cast<QuantLinearOp>(sourceOp);
      if (!sourceQ || q.getQuant() != sourceQ.getQuant() ||
          !sameConstant(q.getCodes(), sourceQ.getCodes()) ||
          !sameConstant(q.getScales(), sourceQ.getScales()) ||
          !sameConstant(q.getZeros(), sourceQ.getZeros()) ||
          !sameConstant(q.getBias(), sourceQ.getBias()))
        action = Action::Quant;
    }
    changes[it->second].push_back({action, op, sourceOp});
  }

  // Build the replacements, then splice them in (node indices stay valid until
  // then).
  DenseMap<int, SmallVector<onnx::NodeProto>> replacements;
  for (auto &[index, list] : changes) {
    bool changed = llvm::any_of(
        list, [](const Change &c) { return c.action != Action::Keep; });
    if (!changed)
      continue;
    const onnx::NodeProto &node = graph.node(index);
    if (list.size() != 1)
      return emitNodeError(list.front().linear, node)
             << "it is imported as " << list.size()
             << " linears; only a node with one linear can be exported changed";
    const Change &change = list.front();
    if (failed(checkReplaceable(change.linear, change.sourceLinear, node)))
      return failure();
    FailureOr<SmallVector<onnx::NodeProto>> nodes =
        change.action == Action::Quant
            ? exportQuant(cast<QuantLinearOp>(change.linear), node)
            : exportDense(cast<LinearOp>(change.linear), node);
    if (failed(nodes))
      return failure();
    replacements[index] = std::move(*nodes);
  }
  if (!replacements.empty()) {
    google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
    for (int i = 0, e = graph.node_size(); i < e; ++i) {
      auto it = replacements.find(i);
      if (it == replacements.end()) {
        *nodes.Add() = std::move(*graph.mutable_node(i));
        continue;
      }
      for (onnx::NodeProto &node : it->second)
        *nodes.Add() = std::move(node);
    }
    graph.mutable_node()->Swap(&nodes);
    removeDeadCode();
  }
  if (addedMicrosoftOp &&
      llvm::none_of(model.opset_import(),
                    [](const onnx::OperatorSetIdProto &opset) {
                      return opset.domain() == "com.microsoft";
                    })) {
    onnx::OperatorSetIdProto *opset = model.add_opset_import();
    opset->set_domain("com.microsoft");
    opset->set_version(1);
  }
  return success();
}

} // namespace

LogicalResult mlir::sqz::exportOnnx(ModuleOp module, StringRef sourcePath,
                                    raw_ostream &os) {
  MLIRContext *context = module.getContext();
  Location loc = module.getLoc();
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(sourcePath);
  if (!buffer)
    return emitError(loc) << "--export-onnx: cannot read the source model '"
                          << sourcePath << "': " << buffer.getError().message();
  StringRef contents = (*buffer)->getBuffer();
  onnx::ModelProto model;
  if (import::isTextualOnnx(sourcePath, contents)) {
    import::OnnxParseError error;
    if (!import::parseTextualOnnx(contents, model, error))
      return emitError(loc) << "--export-onnx: cannot parse '" << sourcePath
                            << "': " << error.message;
  } else {
    std::string error;
    if (!import::parseBinaryOnnx(contents, model, error))
      return emitError(loc)
             << "--export-onnx: cannot parse '" << sourcePath << "': " << error;
  }
  import::normalizeOnnxModel(model);
  for (const onnx::TensorProto &tensor : model.graph().initializer())
    if (tensor.data_location() == onnx::TensorProto::EXTERNAL)
      return emitError(loc)
             << "--export-onnx: initializer '" << tensor.name()
             << "' of the source model is external data, which the exporter "
                "does not read yet";

  // Import the source again with the module's input shapes.
  OnnxImportOptions options;
  if (auto mainFn = module.lookupSymbol<func::FuncOp>("main")) {
    for (unsigned i = 0, e = mainFn.getNumArguments(); i < e; ++i) {
      auto name = mainFn.getArgAttrOfType<StringAttr>(i, kOnnxNameAttr);
      auto type = dyn_cast<RankedTensorType>(mainFn.getArgument(i).getType());
      if (!name || !type)
        continue;
      if (type.hasStaticShape()) {
        options.inputShapes.push_back(
            {name.str(), SmallVector<int64_t>(type.getShape().begin(),
                                              type.getShape().end())});
        continue;
      }
      auto maxShape =
          mainFn.getArgAttrOfType<DenseI64ArrayAttr>(i, kMaxShapeAttr);
      for (int64_t axis = 0; axis < type.getRank(); ++axis)
        if (type.isDynamicDim(axis))
          options.dynamicDims.push_back(
              {name.str(), axis,
               maxShape && axis < static_cast<int64_t>(maxShape.size())
                   ? maxShape[axis]
                   : -1});
    }
  }
  OwningOpRef<ModuleOp> source = importOnnx(**buffer, context, options);
  if (!source)
    return emitError(loc) << "--export-onnx: the source model '" << sourcePath
                          << "' does not import";

  OnnxExporter exporter(module, model);
  if (failed(exporter.run(*source)))
    return failure();
  std::string bytes;
  if (model.ByteSizeLong() > static_cast<size_t>(INT_MAX) ||
      !model.SerializeToString(&bytes))
    return emitError(loc)
           << "--export-onnx: the model does not serialize (over 2 GiB?)";
  os.write(bytes.data(), bytes.size());
  return success();
}
