//===- SymbolicShapes.cpp - Shape computations on dynamic dims -------------===//
//
// With dynamic dims, `Shape` no longer folds to a constant: it yields a SymbolicInts whose
// elements are `tensor.dim` values (and constants for static dims). The shape arithmetic
// exporters build on it (Gather, Slice, Concat, Unsqueeze, Squeeze, Reshape, Cast, Add, Sub,
// Mul, Div, Min, Max, Neg, Equal, Where) is folded here on those elements, so consumers such
// as Reshape, Expand, ConstantOfShape, Range and Slice read their sizes as `index` values
// (`getMixedInts`) instead of computing with shape tensors at run time. Anything else reads a
// symbolic value as an ordinary tensor (`tensor.from_elements`).
//
// Dynamic dims are sizes, so they are >= 0; Equal of a dim with a negative constant is false
// (PyTorch exports compare shapes with -1).
//
//===----------------------------------------------------------------------===//

#include "GraphImporter.h"
#include "ImportBuilders.h"
#include "ShapeUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/StringSet.h"

#include <optional>

using namespace mlir;
using namespace mlir::sqz::import;

bool mlir::sqz::import::supportsDynamicShapes(StringRef domain, StringRef opType) {
  static const llvm::StringSet<> defaultDomainOps = {
      // Elementwise (importElementwiseOp) and conversions.
      "Abs", "Add", "And", "Ceil", "Cos", "Div", "Equal", "Erf", "Exp", "Floor", "Gelu",
      "Greater", "GreaterOrEqual", "IsInf", "IsNaN", "LeakyRelu", "Less", "LessOrEqual", "Log",
      "Max", "Min", "Mod", "Mul", "Neg", "Not", "Or", "Pow", "Reciprocal", "Relu", "Sigmoid",
      "Sign", "Sin", "Softplus", "Sqrt", "Sub", "Tanh", "Where", "Xor", "Cast", "CastLike",
      // Shape and data movement.
      "Identity", "Shape", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Slice",
      "Split", "Gather", "Expand", "ConstantOfShape", "Range", "Trilu",
      // Contractions, normalization, attention.
      "MatMul", "Gemm", "Softmax", "LogSoftmax", "ReduceMean", "ReduceSum", "ReduceMax",
      "RMSNormalization", "LayerNormalization", "SimplifiedLayerNormalization",
      "RotaryEmbedding", "Attention"};
  static const llvm::StringSet<> microsoftOps = {"SimplifiedLayerNormalization"};
  if (domain.empty() || domain == "ai.onnx")
    return defaultDomainOps.contains(opType);
  return domain == "com.microsoft" && microsoftOps.contains(opType);
}

FailureOr<SmallVector<OpFoldResult>> mlir::sqz::import::getMixedInts(NodeContext &node,
                                                                    unsigned index,
                                                                    StringRef what) {
  if (const SymbolicInts *symbolic = node.getSymbolicInput(index))
    return symbolic->elements;
  FailureOr<SmallVector<int64_t>> values = getConstantInts(node, index, what);
  if (failed(values))
    return failure();
  SmallVector<OpFoldResult> result;
  for (int64_t v : *values)
    result.push_back(node.getBuilder().getI64IntegerAttr(v));
  return result;
}

namespace {
/// Builds the folded element arithmetic: constants fold on the host, anything else becomes
/// `arith` on `index` (canonicalization simplifies it further).
struct SymbolicBuilder {
  OpBuilder &b;
  Location loc;

  OpFoldResult constant(int64_t v) { return b.getI64IntegerAttr(v); }

  OpFoldResult binary(StringRef op, OpFoldResult lhs, OpFoldResult rhs) {
    return buildIndexOp(b, loc, op, lhs, rhs);
  }
};

/// An input as symbolic elements (constant or symbolic; integer, rank <= 1), or nullopt.
std::optional<SymbolicInts> getSymbolicOperand(NodeContext &node, unsigned index) {
  if (const SymbolicInts *symbolic = node.getSymbolicInput(index))
    return *symbolic;
  const HostTensor *tensor = node.getConstantInput(index);
  if (!tensor || tensor->shape.size() > 1 || isFloatDType(tensor->dtype) ||
      tensor->getNumElements() > 64)
    return std::nullopt;
  SymbolicInts result;
  result.shape = tensor->shape;
  for (int64_t i = 0, e = tensor->getNumElements(); i < e; ++i)
    result.elements.push_back(node.getBuilder().getI64IntegerAttr(tensor->getInt(i)));
  return result;
}

/// Shape of a tensor with dynamic dims: `tensor.dim`s and constants.
bool foldShape(NodeContext &node) {
  RankedTensorType type = node.getInputType(0);
  if (type.hasStaticShape() || node.getConstantInput(0) || node.getSymbolicInput(0))
    return false;
  int64_t rank = type.getRank();
  FailureOr<int64_t> start = node.getOpset() >= 15 ? node.getIntAttr("start", 0) : 0;
  FailureOr<int64_t> end = node.getOpset() >= 15 ? node.getIntAttr("end", rank) : rank;
  if (failed(start) || failed(end))
    return false;
  auto clamp = [&](int64_t value) {
    if (value < 0)
      value += rank;
    return std::clamp<int64_t>(value, 0, rank);
  };
  int64_t first = clamp(*start), last = std::max(clamp(*end), first);
  SmallVector<OpFoldResult> sizes =
      getMixedSizes(node.getBuilder(), node.getLoc(), node.getInput(0));
  SymbolicInts result;
  result.shape = {last - first};
  result.elements.assign(sizes.begin() + first, sizes.begin() + last);
  node.setSymbolicResult(0, std::move(result), onnx::TensorProto::INT64);
  return true;
}

} // namespace

bool mlir::sqz::import::foldSymbolic(NodeContext &node) {
  StringRef op = node.getOpType();
  StringRef domain = node.getNode().domain();
  if (!domain.empty() && domain != "ai.onnx")
    return false;
  if (op == "Shape")
    return foldShape(node);
  // Every input constant or symbolic, one of them symbolic.
  bool anySymbolic = false;
  SmallVector<std::optional<SymbolicInts>> inputs;
  for (unsigned i = 0, e = node.getNumInputs(); i < e; ++i) {
    if (!node.hasInput(i)) {
      inputs.push_back(std::nullopt);
      continue;
    }
    anySymbolic |= node.getSymbolicInput(i) != nullptr;
    inputs.push_back(getSymbolicOperand(node, i));
    if (!inputs.back())
      return false;
  }
  if (!anySymbolic || node.getNode().output_size() != 1)
    return false;
  OpBuilder &b = node.getBuilder();
  SymbolicBuilder sb{b, node.getLoc()};
  int32_t dtype = node.getInputDType(0);
  SymbolicInts result;
  const SymbolicInts &x = *inputs[0];

  if (op == "Identity" || op == "Cast" || op == "CastLike") {
    if (op == "Cast") {
      FailureOr<int64_t> to = node.getIntAttr("to", 0);
      if (failed(to) || isFloatDType(*to) || *to == onnx::TensorProto::BOOL)
        return false;
      dtype = *to;
    } else if (op == "CastLike") {
      dtype = node.getInputDType(1);
      if (isFloatDType(dtype) || dtype == onnx::TensorProto::BOOL)
        return false;
    }
    result = x;
  } else if (op == "Gather") {
    FailureOr<int64_t> axis = node.getIntAttr("axis", 0);
    if (failed(axis) || *axis != 0 || x.shape.size() != 1 || inputs.size() < 2)
      return false;
    const SymbolicInts &indices = *inputs[1];
    int64_t n = x.shape[0];
    result.shape = indices.shape;
    for (OpFoldResult index : indices.elements) {
      std::optional<int64_t> i = getConstantSize(index);
      if (!i || *i < -n || *i >= n)
        return false;
      result.elements.push_back(x.elements[*i < 0 ? *i + n : *i]);
    }
  } else if (op == "Unsqueeze" || op == "Squeeze") {
    // Only between a scalar and [1].
    if (op == "Unsqueeze" && !x.shape.empty())
      return false;
    if (op == "Squeeze" && (x.shape.size() != 1 || x.shape[0] != 1))
      return false;
    result.shape = op == "Unsqueeze" ? SmallVector<int64_t>{1} : SmallVector<int64_t>{};
    result.elements = x.elements;
  } else if (op == "Reshape") {
    if (inputs.size() < 2 || inputs[1]->elements.size() > 1)
      return false;
    result.elements = x.elements;
    result.shape = inputs[1]->elements.empty() ? SmallVector<int64_t>{}
                                               : SmallVector<int64_t>{(int64_t)x.elements.size()};
    if (result.shape.empty() && x.elements.size() != 1)
      return false;
  } else if (op == "Concat") {
    FailureOr<int64_t> axis = node.getIntAttr("axis", 0);
    if (failed(axis) || (*axis != 0 && *axis != -1))
      return false;
    for (const std::optional<SymbolicInts> &in : inputs) {
      if (!in || in->shape.size() != 1)
        return false;
      result.elements.append(in->elements);
    }
    result.shape = {static_cast<int64_t>(result.elements.size())};
  } else if (op == "Slice") {
    if (x.shape.size() != 1 || node.getOpset() < 10 || inputs.size() < 3)
      return false;
    auto scalarInput = [&](unsigned i, int64_t dflt) -> std::optional<int64_t> {
      if (i >= inputs.size() || !inputs[i])
        return dflt;
      if (inputs[i]->elements.size() != 1)
        return std::nullopt;
      return getConstantSize(inputs[i]->elements[0]);
    };
    std::optional<int64_t> start = scalarInput(1, 0), end = scalarInput(2, 0),
                           axis = scalarInput(3, 0), step = scalarInput(4, 1);
    if (!start || !end || !axis || !step || (*axis != 0 && *axis != -1) || *step == 0)
      return false;
    int64_t n = x.shape[0];
    auto clampIndex = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0)
        v += n;
      return std::clamp(v, lo, hi);
    };
    int64_t s = *step > 0 ? clampIndex(*start, 0, n) : clampIndex(*start, -1, n - 1);
    int64_t e = *step > 0 ? clampIndex(*end, 0, n) : clampIndex(*end, -1, n - 1);
    for (int64_t i = s; *step > 0 ? i < e : i > e; i += *step)
      result.elements.push_back(x.elements[i]);
    result.shape = {static_cast<int64_t>(result.elements.size())};
  } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Mod" ||
             op == "Min" || op == "Max") {
    if (isFloatDType(dtype) || inputs.size() < 2 || (op == "Mod" && inputs.size() != 2))
      return false;
    // Variadic Min/Max fold pairwise; numpy broadcasting of 0-D/1-D operands.
    result = x;
    for (size_t i = 1; i < inputs.size(); ++i) {
      const SymbolicInts &y = *inputs[i];
      size_t n = std::max(result.elements.size(), y.elements.size());
      if ((result.elements.size() != n && result.elements.size() != 1) ||
          (y.elements.size() != n && y.elements.size() != 1))
        return false;
      SymbolicInts next;
      next.shape = result.shape.size() >= y.shape.size() ? result.shape : y.shape;
      if (!next.shape.empty())
        next.shape[0] = n;
      for (size_t k = 0; k < n; ++k)
        next.elements.push_back(
            sb.binary(op, result.elements[result.elements.size() == 1 ? 0 : k],
                      y.elements[y.elements.size() == 1 ? 0 : k]));
      result = std::move(next);
    }
  } else if (op == "Neg") {
    result.shape = x.shape;
    for (OpFoldResult e : x.elements)
      result.elements.push_back(sb.binary("Sub", sb.constant(0), e));
  } else if (op == "Equal") {
    // Known only when both sides are constants or a dim meets a negative constant.
    const SymbolicInts &y = *inputs[1];
    size_t n = std::max(x.elements.size(), y.elements.size());
    if ((x.elements.size() != n && x.elements.size() != 1) ||
        (y.elements.size() != n && y.elements.size() != 1))
      return false;
    for (size_t k = 0; k < n; ++k) {
      OpFoldResult l = x.elements[x.elements.size() == 1 ? 0 : k];
      OpFoldResult r = y.elements[y.elements.size() == 1 ? 0 : k];
      std::optional<int64_t> lc = getConstantSize(l), rc = getConstantSize(r);
      if (lc && rc)
        result.elements.push_back(sb.constant(*lc == *rc));
      else if ((lc && *lc < 0) || (rc && *rc < 0))
        result.elements.push_back(sb.constant(0));
      else if (l == r)
        result.elements.push_back(sb.constant(1));
      else
        return false;
    }
    result.shape = x.shape.size() >= y.shape.size() ? x.shape : y.shape;
    if (!result.shape.empty())
      result.shape[0] = n;
    dtype = onnx::TensorProto::BOOL;
  } else if (op == "Where") {
    const SymbolicInts &yes = *inputs[1], &no = *inputs[2];
    size_t n = std::max({x.elements.size(), yes.elements.size(), no.elements.size()});
    for (const SymbolicInts *in : {&x, &yes, &no})
      if (in->elements.size() != n && in->elements.size() != 1)
        return false;
    for (size_t k = 0; k < n; ++k) {
      std::optional<int64_t> c = getConstantSize(x.elements[x.elements.size() == 1 ? 0 : k]);
      if (!c)
        return false;
      const SymbolicInts &pick = *c ? yes : no;
      result.elements.push_back(pick.elements[pick.elements.size() == 1 ? 0 : k]);
    }
    result.shape = {static_cast<int64_t>(n)};
    if (x.shape.empty() && yes.shape.empty() && no.shape.empty())
      result.shape = {};
    dtype = node.getInputDType(1);
  } else {
    return false;
  }
  node.setSymbolicResult(0, std::move(result), dtype);
  return true;
}
