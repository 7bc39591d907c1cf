//===- ReductionOps.cpp - ONNX reductions and ArgMax/ArgMin ---------------===//
//
// ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp: an optional elementwise
// pre-map (x², |x|), one `linalg.reduce` over the reduced dims, an optional post-map (÷count,
// sqrt, log) and, with keepdims, a `tensor.expand_shape` that puts the unit dims back.
// f16 sums are accumulated in f32. The axes are the `axes` attribute before opset 18 (13 for
// ReduceSum) and the optional constant second input from then on; `noop_with_empty_axes`
// (opset 13/18) makes empty axes the identity (of the pre-map), else empty axes reduce all.
// ArgMax/ArgMin are one `linalg.generic` reducing (value, index) pairs.
// Constant inputs are folded on the host (shape arithmetic such as ReduceProd of a Shape).
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/APInt.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::sqz::import;

/// Constant inputs up to this many elements are folded on the host.
static constexpr int64_t kMaxFoldElements = int64_t(1) << 20;

namespace {
enum class ReduceKind { Sum, Mean, Max, Min, Prod, L1, L2, SumSquare, LogSum, LogSumExp };
} // namespace

static bool isFloatOnly(ReduceKind kind) {
  return kind == ReduceKind::L2 || kind == ReduceKind::LogSum || kind == ReduceKind::LogSumExp;
}

/// Reads and normalizes the reduced dims; `reduceAll` when there are none (and no noop).
/// Returns failure after a diagnostic; sets `noop` for noop_with_empty_axes with empty axes.
static LogicalResult getReduceAxes(NodeContext &node, int64_t rank, int64_t axesInputOpset,
                                   SmallVector<int64_t> &dims, bool &noop) {
  noop = false;
  std::optional<SmallVector<int64_t>> axes;
  bool axesInput = node.getOpset() >= axesInputOpset;
  if (axesInput) {
    if (failed(node.checkNumInputs(1, 2)))
      return failure();
    if (node.hasInput(1)) {
      const HostTensor *t = node.getConstantInput(1);
      if (!t)
        return node.emitError() << "the axes input must be a constant (computed axes are not "
                                   "supported)";
      axes.emplace();
      for (int64_t i = 0, e = t->getNumElements(); i < e; ++i)
        axes->push_back(t->getInt(i));
    }
    FailureOr<int64_t> noopAttr = node.getIntAttr("noop_with_empty_axes", 0);
    if (failed(noopAttr))
      return failure();
    if ((!axes || axes->empty()) && *noopAttr) {
      noop = true;
      return success();
    }
  } else {
    if (failed(node.checkNumInputs(1, 1)))
      return failure();
    FailureOr<std::optional<SmallVector<int64_t>>> attr = node.getIntsAttr("axes");
    if (failed(attr))
      return failure();
    axes = *attr;
  }
  dims.clear();
  if (!axes || axes->empty()) {
    for (int64_t d = 0; d < rank; ++d)
      dims.push_back(d);
    return success();
  }
  for (int64_t axis : *axes) {
    int64_t d = axis < 0 ? axis + rank : axis;
    if (d < 0 || d >= rank)
      return node.emitError() << "axis " << axis << " is out of range for a rank-" << rank
                              << " input";
    if (!llvm::is_contained(dims, d))
      dims.push_back(d);
  }
  llvm::sort(dims);
  return success();
}

/// The shape with `dims` removed, or set to 1 when `keepDims`.
static SmallVector<int64_t> getReducedShape(ArrayRef<int64_t> shape, ArrayRef<int64_t> dims,
                                            bool keepDims) {
  SmallVector<int64_t> result;
  for (auto [i, dim] : llvm::enumerate(shape)) {
    if (!llvm::is_contained(dims, static_cast<int64_t>(i)))
      result.push_back(dim);
    else if (keepDims)
      result.push_back(1);
  }
  return result;
}

/// The row-major index in the reduced tensor (reduced dims dropped) of every input element.
template <typename Fn>
static void forEachReduced(ArrayRef<int64_t> shape, ArrayRef<int64_t> dims, Fn fn) {
  int64_t rank = shape.size();
  SmallVector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    if (!llvm::is_contained(dims, d)) {
      strides[d] = stride;
      stride *= shape[d];
    }
  }
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  SmallVector<int64_t> index(rank, 0);
  for (int64_t i = 0; i < count; ++i) {
    int64_t out = 0;
    for (int64_t d = 0; d < rank; ++d)
      out += index[d] * strides[d];
    fn(i, out, index);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
}

static HostTensor foldReduce(const HostTensor &input, ReduceKind kind, ArrayRef<int64_t> dims,
                             ArrayRef<int64_t> resultShape, int64_t reducedCount) {
  HostTensor result = HostTensor::allocate("", input.dtype, resultShape);
  int64_t n = result.getNumElements();
  bool isFloat = isFloatDType(input.dtype);
  double init = 0;
  if (kind == ReduceKind::Prod)
    init = 1;
  else if (kind == ReduceKind::Max)
    init = -std::numeric_limits<double>::infinity();
  else if (kind == ReduceKind::Min)
    init = std::numeric_limits<double>::infinity();
  SmallVector<double> accF(n, init);
  SmallVector<int64_t> accI(n, kind == ReduceKind::Prod  ? 1
                               : kind == ReduceKind::Max ? std::numeric_limits<int64_t>::min()
                               : kind == ReduceKind::Min ? std::numeric_limits<int64_t>::max()
                                                         : 0);
  SmallVector<double> lseMax;
  if (kind == ReduceKind::LogSumExp) {
    lseMax.assign(n, -std::numeric_limits<double>::infinity());
    forEachReduced(input.shape, dims, [&](int64_t i, int64_t out, ArrayRef<int64_t>) {
      lseMax[out] = std::max(lseMax[out], input.getDouble(i));
    });
  }
  forEachReduced(input.shape, dims, [&](int64_t i, int64_t out, ArrayRef<int64_t>) {
    if (isFloat) {
      double x = input.getDouble(i);
      double &a = accF[out];
      switch (kind) {
      case ReduceKind::Sum:
      case ReduceKind::Mean:
        a += x;
        break;
      case ReduceKind::Max:
        a = std::max(a, x);
        break;
      case ReduceKind::Min:
        a = std::min(a, x);
        break;
      case ReduceKind::Prod:
        a *= x;
        break;
      case ReduceKind::L1:
        a += std::fabs(x);
        break;
      case ReduceKind::L2:
      case ReduceKind::SumSquare:
        a += x * x;
        break;
      case ReduceKind::LogSum:
        a += x;
        break;
      case ReduceKind::LogSumExp:
        a += std::isinf(lseMax[out]) ? std::exp(x) : std::exp(x - lseMax[out]);
        break;
      }
    } else {
      int64_t x = input.getInt(i);
      int64_t &a = accI[out];
      auto wrap = [](uint64_t v) { return static_cast<int64_t>(v); };
      switch (kind) {
      case ReduceKind::Max:
        a = std::max(a, x);
        break;
      case ReduceKind::Min:
        a = std::min(a, x);
        break;
      case ReduceKind::Prod:
        a = wrap(static_cast<uint64_t>(a) * static_cast<uint64_t>(x));
        break;
      case ReduceKind::L1:
        a = wrap(static_cast<uint64_t>(a) + static_cast<uint64_t>(x < 0 ? -x : x));
        break;
      case ReduceKind::SumSquare:
        a = wrap(static_cast<uint64_t>(a) + static_cast<uint64_t>(x) * static_cast<uint64_t>(x));
        break;
      default:
        a = wrap(static_cast<uint64_t>(a) + static_cast<uint64_t>(x));
        break;
      }
    }
  });
  for (int64_t i = 0; i < n; ++i) {
    if (isFloat) {
      double a = accF[i];
      if (kind == ReduceKind::Mean)
        a /= static_cast<double>(reducedCount);
      else if (kind == ReduceKind::L2)
        a = std::sqrt(a);
      else if (kind == ReduceKind::LogSum)
        a = std::log(a);
      else if (kind == ReduceKind::LogSumExp)
        a = std::isinf(lseMax[i]) ? std::log(a) : std::log(a) + lseMax[i];
      result.setDouble(i, a);
    } else {
      int64_t a = accI[i];
      if (kind == ReduceKind::Mean && reducedCount > 0)
        a /= reducedCount;
      result.setInt(i, a);
    }
  }
  return result;
}

static TypedAttr getReduceInit(OpBuilder &b, ReduceKind kind, Type type, bool isUnsigned) {
  if (auto floatType = dyn_cast<FloatType>(type)) {
    const llvm::fltSemantics &sem = floatType.getFloatSemantics();
    if (kind == ReduceKind::Max)
      return b.getFloatAttr(type, llvm::APFloat::getInf(sem, /*Negative=*/true));
    if (kind == ReduceKind::Min)
      return b.getFloatAttr(type, llvm::APFloat::getInf(sem, /*Negative=*/false));
    return b.getFloatAttr(type, kind == ReduceKind::Prod ? 1.0 : 0.0);
  }
  unsigned width = type.getIntOrFloatBitWidth();
  if (kind == ReduceKind::Max)
    return b.getIntegerAttr(type, isUnsigned ? llvm::APInt::getMinValue(width)
                                             : llvm::APInt::getSignedMinValue(width));
  if (kind == ReduceKind::Min)
    return b.getIntegerAttr(type, isUnsigned ? llvm::APInt::getMaxValue(width)
                                             : llvm::APInt::getSignedMaxValue(width));
  return b.getIntegerAttr(type, kind == ReduceKind::Prod ? 1 : 0);
}

static Value combine(OpBuilder &b, Location loc, ReduceKind kind, Value x, Value acc,
                     bool isUnsigned) {
  bool isFloat = isa<FloatType>(x.getType());
  switch (kind) {
  case ReduceKind::Max:
    if (isFloat)
      return arith::MaximumFOp::create(b, loc, x, acc);
    return isUnsigned ? arith::MaxUIOp::create(b, loc, x, acc).getResult()
                      : arith::MaxSIOp::create(b, loc, x, acc).getResult();
  case ReduceKind::Min:
    if (isFloat)
      return arith::MinimumFOp::create(b, loc, x, acc);
    return isUnsigned ? arith::MinUIOp::create(b, loc, x, acc).getResult()
                      : arith::MinSIOp::create(b, loc, x, acc).getResult();
  case ReduceKind::Prod:
    return isFloat ? arith::MulFOp::create(b, loc, x, acc).getResult()
                   : arith::MulIOp::create(b, loc, x, acc).getResult();
  default:
    return isFloat ? arith::AddFOp::create(b, loc, x, acc).getResult()
                   : arith::AddIOp::create(b, loc, x, acc).getResult();
  }
}

static Value mapElements(OpBuilder &b, Location loc, Value input, Type resultElementType,
                         function_ref<Value(OpBuilder &, Location, Value)> fn) {
  auto type = cast<RankedTensorType>(input.getType());
  return buildElementwise(b, loc, {input}, type.getShape(), resultElementType,
                          [&](OpBuilder &nb, Location nl, ValueRange args) {
                            return fn(nb, nl, args[0]);
                          });
}

static LogicalResult importReduce(NodeContext &node, ReduceKind kind, int64_t axesInputOpset) {
  if (node.getNumInputs() < 1 || !node.hasInput(0))
    return node.checkNumInputs(1, 2);
  int32_t dtype = node.getInputDType(0);
  bool isFloat = isFloatDType(dtype);
  bool isUnsigned = isUnsignedDType(dtype);
  if (dtype == onnx::TensorProto::BOOL || (!isFloat && isFloatOnly(kind)))
    return node.emitError() << "operand dtype '" << getDTypeName(dtype) << "' is not supported";
  RankedTensorType type = node.getInputType(0);
  int64_t rank = type.getRank();
  SmallVector<int64_t> dims;
  bool noop;
  if (failed(getReduceAxes(node, rank, axesInputOpset, dims, noop)))
    return failure();
  FailureOr<int64_t> keepDimsAttr = node.getIntAttr("keepdims", 1);
  if (failed(keepDimsAttr))
    return failure();
  bool keepDims = *keepDimsAttr != 0;
  SmallVector<int64_t> resultShape =
      noop ? SmallVector<int64_t>(type.getShape()) : getReducedShape(type.getShape(), dims, keepDims);
  int64_t reducedCount = 1;
  for (int64_t d : dims)
    reducedCount *= type.getDimSize(d);
  if (noop)
    reducedCount = 1;

  if (const HostTensor *constant = node.getConstantInput(0);
      constant && constant->getNumElements() <= kMaxFoldElements) {
    SmallVector<int64_t> foldDims = noop ? SmallVector<int64_t>() : dims;
    HostTensor folded = foldReduce(*constant, kind, foldDims,
                                   getReducedShape(type.getShape(), foldDims, keepDims),
                                   reducedCount);
    folded.shape.assign(resultShape.begin(), resultShape.end());
    node.setConstantResult(0, std::move(folded));
    return success();
  }

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Type elementType = type.getElementType();
  // Sums of f16 accumulate in f32 (max/min are exact in f16).
  bool widen = elementType.isF16() && kind != ReduceKind::Max && kind != ReduceKind::Min;
  Type computeType = widen ? Type(b.getF32Type()) : elementType;
  Value x = node.getInput(0);

  // The per-element pre-map: f16 -> f32, x², |x|, exp(x - max).
  bool hasPreMap = widen || kind == ReduceKind::L1 || kind == ReduceKind::L2 ||
                   kind == ReduceKind::SumSquare || kind == ReduceKind::LogSumExp;
  auto preMap = [&](OpBuilder &nb, Location nl, Value v, Value max) -> Value {
    if (widen)
      v = arith::ExtFOp::create(nb, nl, computeType, v);
    switch (kind) {
    case ReduceKind::L2:
    case ReduceKind::SumSquare:
      return isFloat ? arith::MulFOp::create(nb, nl, v, v).getResult()
                     : arith::MulIOp::create(nb, nl, v, v).getResult();
    case ReduceKind::L1: {
      if (isFloat)
        return math::AbsFOp::create(nb, nl, v);
      if (isUnsigned)
        return v;
      Value zero = createScalar(nb, nl, computeType, 0);
      Value negative = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::slt, v, zero);
      return arith::SelectOp::create(nb, nl, negative, arith::SubIOp::create(nb, nl, zero, v),
                                     v);
    }
    case ReduceKind::LogSumExp:
      return max ? math::ExpOp::create(nb, nl, arith::SubFOp::create(nb, nl, v, max)).getResult()
                 : v;
    default:
      return v;
    }
  };

  Value reduced;
  Value lseMax;
  if (noop || dims.empty()) {
    // No reduction: the pre-map alone (then the post-map below).
    reduced = !hasPreMap ? x
                         : mapElements(b, loc, x, computeType,
                                       [&](OpBuilder &nb, Location nl, Value v) {
                                         return preMap(nb, nl, v, Value());
                                       });
  } else {
    MLIRContext *context = b.getContext();
    SmallVector<Value> inputs = {x};
    SmallVector<AffineMap> maps = {AffineMap::getMultiDimIdentityMap(rank, context)};
    if (kind == ReduceKind::LogSumExp) {
      // log(Σ exp(x - m)) + m with m = max(x) (m = 0 where it is infinite).
      Value max =
          buildReduce(b, loc, x, dims, getReduceInit(b, ReduceKind::Max, elementType, false),
                      [](OpBuilder &nb, Location nl, Value e, Value acc) {
                        return arith::MaximumFOp::create(nb, nl, e, acc).getResult();
                      });
      lseMax = mapElements(b, loc, max, computeType, [&](OpBuilder &nb, Location nl, Value m) {
        if (widen)
          m = arith::ExtFOp::create(nb, nl, computeType, m);
        Value absM = math::AbsFOp::create(nb, nl, m);
        Value inf = createScalar(nb, nl, computeType, std::numeric_limits<double>::infinity());
        Value finite = arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OLT, absM, inf);
        return arith::SelectOp::create(nb, nl, finite, m,
                                       createScalar(nb, nl, computeType, 0.0))
            .getResult();
      });
      inputs.push_back(lseMax);
      maps.push_back(getKeptDimsMap(context, rank, dims));
    }
    // One reduction generic with the pre-map in its body (no x-sized temporary).
    reduced = buildReductionGeneric(
        b, loc, inputs, maps, type.getShape(), dims,
        getReduceInit(b, kind, computeType, isUnsigned),
        [&](OpBuilder &nb, Location nl, ValueRange e, Value acc) {
          Value v = preMap(nb, nl, e[0], e.size() > 1 ? e[1] : Value());
          return combine(nb, nl, kind, v, acc, isUnsigned);
        });
  }

  // Post-map.
  bool needsPost = widen || kind == ReduceKind::Mean || kind == ReduceKind::L2 ||
                   kind == ReduceKind::LogSum || kind == ReduceKind::LogSumExp;
  if (needsPost) {
    auto reducedType = cast<RankedTensorType>(reduced.getType());
    SmallVector<Value> inputs = {reduced};
    if (lseMax)
      inputs.push_back(lseMax);
    reduced = buildElementwise(
        b, loc, inputs, reducedType.getShape(), elementType,
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value v = args[0];
          if (kind == ReduceKind::Mean && reducedCount != 1) {
            Value count = createScalar(nb, nl, computeType, static_cast<double>(reducedCount));
            v = isFloat ? arith::DivFOp::create(nb, nl, v, count).getResult()
                : isUnsigned ? arith::DivUIOp::create(nb, nl, v, count).getResult()
                             : arith::DivSIOp::create(nb, nl, v, count).getResult();
          } else if (kind == ReduceKind::L2) {
            v = math::SqrtOp::create(nb, nl, v);
          } else if (kind == ReduceKind::LogSum || (kind == ReduceKind::LogSumExp && lseMax)) {
            v = math::LogOp::create(nb, nl, v);
            if (lseMax)
              v = arith::AddFOp::create(nb, nl, v, args[1]);
          }
          if (widen)
            v = arith::TruncFOp::create(nb, nl, elementType, v);
          return v;
        });
  }
  node.setResult(0, buildReshape(b, loc, reduced, resultShape), dtype);
  return success();
}

LogicalResult mlir::sqz::import::importReduceSum(NodeContext &node) {
  return importReduce(node, ReduceKind::Sum, 13);
}
LogicalResult mlir::sqz::import::importReduceMean(NodeContext &node) {
  return importReduce(node, ReduceKind::Mean, 18);
}
LogicalResult mlir::sqz::import::importReduceMax(NodeContext &node) {
  return importReduce(node, ReduceKind::Max, 18);
}
LogicalResult mlir::sqz::import::importReduceMin(NodeContext &node) {
  return importReduce(node, ReduceKind::Min, 18);
}
LogicalResult mlir::sqz::import::importReduceProd(NodeContext &node) {
  return importReduce(node, ReduceKind::Prod, 18);
}
LogicalResult mlir::sqz::import::importReduceL1(NodeContext &node) {
  return importReduce(node, ReduceKind::L1, 18);
}
LogicalResult mlir::sqz::import::importReduceL2(NodeContext &node) {
  return importReduce(node, ReduceKind::L2, 18);
}
LogicalResult mlir::sqz::import::importReduceSumSquare(NodeContext &node) {
  return importReduce(node, ReduceKind::SumSquare, 18);
}
LogicalResult mlir::sqz::import::importReduceLogSum(NodeContext &node) {
  return importReduce(node, ReduceKind::LogSum, 18);
}
LogicalResult mlir::sqz::import::importReduceLogSumExp(NodeContext &node) {
  return importReduce(node, ReduceKind::LogSumExp, 18);
}

//===----------------------------------------------------------------------===//
// ArgMax, ArgMin
//===----------------------------------------------------------------------===//

static LogicalResult importArgReduce(NodeContext &node, bool isMax) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (dtype == onnx::TensorProto::BOOL)
    return node.emitError() << "operand dtype 'bool' is not supported";
  bool isFloat = isFloatDType(dtype);
  bool isUnsigned = isUnsignedDType(dtype);
  FailureOr<int64_t> axisAttr = node.getIntAttr("axis", 0);
  FailureOr<int64_t> keepDimsAttr = node.getIntAttr("keepdims", 1);
  FailureOr<int64_t> lastAttr = node.getIntAttr("select_last_index", 0);
  if (failed(axisAttr) || failed(keepDimsAttr) || failed(lastAttr))
    return failure();
  RankedTensorType type = node.getInputType(0);
  int64_t rank = type.getRank();
  int64_t axis = *axisAttr < 0 ? *axisAttr + rank : *axisAttr;
  if (axis < 0 || axis >= rank)
    return node.emitError() << "axis " << *axisAttr << " is out of range for a rank-" << rank
                            << " input";
  bool last = *lastAttr != 0;
  SmallVector<int64_t> dims = {axis};
  SmallVector<int64_t> resultShape = getReducedShape(type.getShape(), dims, *keepDimsAttr != 0);
  SmallVector<int64_t> keptShape = getReducedShape(type.getShape(), dims, false);

  if (const HostTensor *constant = node.getConstantInput(0);
      constant && constant->getNumElements() <= kMaxFoldElements) {
    HostTensor result = HostTensor::allocate("", onnx::TensorProto::INT64, resultShape);
    SmallVector<double> best(result.getNumElements());
    SmallVector<bool> seen(result.getNumElements(), false);
    forEachReduced(constant->shape, dims, [&](int64_t i, int64_t out, ArrayRef<int64_t> index) {
      double v = constant->getDouble(i);
      bool better = !seen[out] || (isMax ? (last ? v >= best[out] : v > best[out])
                                         : (last ? v <= best[out] : v < best[out]));
      if (better) {
        best[out] = v;
        seen[out] = true;
        result.setInt(out, index[axis]);
      }
    });
    node.setConstantResult(0, std::move(result));
    return success();
  }

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  MLIRContext *context = b.getContext();
  Type elementType = type.getElementType();
  Type i64 = b.getI64Type();
  Value values = createFilled(b, loc, keptShape, elementType,
                              getReduceInit(b, isMax ? ReduceKind::Max : ReduceKind::Min,
                                            elementType, isUnsigned));
  Value indices = createFilled(b, loc, keptShape, i64, b.getI64IntegerAttr(0));
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, context);
  AffineMap kept = getKeptDimsMap(context, rank, dims);
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  iterators[axis] = utils::IteratorType::reduction;
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{values.getType(), indices.getType()}, ValueRange{node.getInput(0)},
      ValueRange{values, indices}, ArrayRef<AffineMap>{identity, kept, kept}, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value x = args[0], best = args[1], bestIndex = args[2];
        Value better;
        if (isFloat) {
          arith::CmpFPredicate p = isMax ? (last ? arith::CmpFPredicate::OGE
                                                 : arith::CmpFPredicate::OGT)
                                         : (last ? arith::CmpFPredicate::OLE
                                                 : arith::CmpFPredicate::OLT);
          better = arith::CmpFOp::create(nb, nl, p, x, best);
        } else {
          arith::CmpIPredicate p;
          if (isMax)
            p = last ? (isUnsigned ? arith::CmpIPredicate::uge : arith::CmpIPredicate::sge)
                     : (isUnsigned ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt);
          else
            p = last ? (isUnsigned ? arith::CmpIPredicate::ule : arith::CmpIPredicate::sle)
                     : (isUnsigned ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt);
          better = arith::CmpIOp::create(nb, nl, p, x, best);
        }
        Value index = arith::IndexCastOp::create(nb, nl, i64,
                                                 linalg::IndexOp::create(nb, nl, axis));
        // The first element always wins (so that NaN-free all-(-inf) rows give index 0 or the
        // last index, like numpy).
        Value first = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, index,
                                            createScalar(nb, nl, i64, 0));
        better = arith::OrIOp::create(nb, nl, better, first);
        linalg::YieldOp::create(
            nb, nl,
            ValueRange{arith::SelectOp::create(nb, nl, better, x, best).getResult(),
                       arith::SelectOp::create(nb, nl, better, index, bestIndex).getResult()});
      });
  Value result = buildReshape(b, loc, generic.getResult(1), resultShape);
  node.setResult(0, result, onnx::TensorProto::INT64);
  return success();
}

LogicalResult mlir::sqz::import::importArgMax(NodeContext &node) {
  return importArgReduce(node, /*isMax=*/true);
}
LogicalResult mlir::sqz::import::importArgMin(NodeContext &node) {
  return importArgReduce(node, /*isMax=*/false);
}
