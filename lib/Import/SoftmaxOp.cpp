//===- SoftmaxOp.cpp - ONNX Softmax, LogSoftmax and Hardmax ---------------===//
//
// Numerically stable softmax: m = max(x), e = exp(x - m), y = e / sum(e) (LogSoftmax:
// y = (x - m) - log(sum(e))), computed in f32 for f16 inputs, reducing over
// - opset >= 13: the single dim `axis` (default -1);
// - opset < 13: every dim from `axis` (default 1) on: ONNX "coerces" the input to 2-D
//   [prod(d0..axis-1), prod(axis..)] and normalizes rows, which is the same as reducing over
//   the trailing dims, so no reshape is needed.
// Hardmax reduces over the same dims. `buildSoftmax` is shared with the losses (LossOps.cpp).
//
//===----------------------------------------------------------------------===//

#include "SoftmaxOp.h"

#include "ImportBuilders.h"
#include "Ops.h"
#include "ShapeUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/STLExtras.h"

#include <limits>

using namespace mlir;
using namespace mlir::sqz::import;

Value mlir::sqz::import::buildFloatConvert(OpBuilder &b, Location loc, Value value, Type to) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getElementType() == to)
    return value;
  unsigned fromWidth = type.getElementType().getIntOrFloatBitWidth();
  return buildElementwise(b, loc, {value}, type.getShape(), to,
                          [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                            if (to.getIntOrFloatBitWidth() > fromWidth)
                              return arith::ExtFOp::create(nb, nl, to, args[0]);
                            return arith::TruncFOp::create(nb, nl, to, args[0]);
                          });
}

Value mlir::sqz::import::buildSoftmax(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> dims,
                                      bool logSoftmax) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  auto floatType = cast<FloatType>(type.getElementType());
  TypedAttr negInf = b.getFloatAttr(
      floatType, llvm::APFloat::getInf(floatType.getFloatSemantics(), /*Negative=*/true));
  Value max = buildReduce(b, loc, x, dims, negInf,
                          [](OpBuilder &nb, Location nl, Value element, Value acc) {
                            return arith::MaximumFOp::create(nb, nl, element, acc).getResult();
                          });

  // e = exp(x - max), with max broadcast back along the reduced dims.
  MLIRContext *context = b.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, context);
  AffineMap kept = getKeptDimsMap(context, rank, dims);
  SmallVector<utils::IteratorType> parallel(rank, utils::IteratorType::parallel);
  auto broadcastWithReduced = [&](Value full, Value reduced,
                                  function_ref<Value(OpBuilder &, Location, Value, Value)> fn) {
    Value init = createEmpty(b, loc, type.getShape(), floatType, ValueRange{x});
    return linalg::GenericOp::create(
               b, loc, TypeRange{type}, ValueRange{full, reduced}, ValueRange{init},
               ArrayRef<AffineMap>{identity, kept, identity}, parallel,
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 linalg::YieldOp::create(nb, nl, fn(nb, nl, args[0], args[1]));
               })
        .getResult(0);
  };
  Value exp = broadcastWithReduced(x, max, [](OpBuilder &nb, Location nl, Value v, Value m) {
    Value shifted = arith::SubFOp::create(nb, nl, v, m);
    return math::ExpOp::create(nb, nl, shifted).getResult();
  });
  Value sum = buildReduce(b, loc, exp, dims, b.getFloatAttr(floatType, 0.0),
                          [](OpBuilder &nb, Location nl, Value element, Value acc) {
                            return arith::AddFOp::create(nb, nl, element, acc).getResult();
                          });
  if (!logSoftmax)
    return broadcastWithReduced(exp, sum, [](OpBuilder &nb, Location nl, Value e, Value s) {
      return arith::DivFOp::create(nb, nl, e, s).getResult();
    });
  // (x - max) - log(sum): x - max is recomputed (cheap, and fused with the subtraction).
  Value result = broadcastWithReduced(x, max, [](OpBuilder &nb, Location nl, Value v, Value m) {
    return arith::SubFOp::create(nb, nl, v, m).getResult();
  });
  return broadcastWithReduced(result, sum, [](OpBuilder &nb, Location nl, Value v, Value s) {
    return arith::SubFOp::create(nb, nl, v, math::LogOp::create(nb, nl, s)).getResult();
  });
}

/// Checks the float input of Softmax, LogSoftmax or Hardmax and returns the dims they normalize
/// over: opset >= 13 the single dim `axis` (default -1), else every dim from `axis` (default 1).
static FailureOr<SmallVector<int64_t>> getNormalizedDims(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError() << "expected a float tensor, got '" << getDTypeName(dtype) << "'";
  bool newSemantics = node.getOpset() >= 13;
  FailureOr<int64_t> axisAttr = node.getIntAttr("axis", newSemantics ? -1 : 1);
  if (failed(axisAttr))
    return failure();
  int64_t rank = node.getInputType(0).getRank();
  int64_t axis = *axisAttr < 0 ? *axisAttr + rank : *axisAttr;
  if (rank == 0 || axis < 0 || axis >= rank)
    return node.emitError() << "axis " << *axisAttr << " is out of range for a rank-" << rank
                            << " input";
  SmallVector<int64_t> dims;
  for (int64_t d = axis; d < (newSemantics ? axis + 1 : rank); ++d)
    dims.push_back(d);
  return dims;
}

/// Softmax, or LogSoftmax: (x - max) - log(sum(exp(x - max))).
static LogicalResult importSoftmaxLike(NodeContext &node, bool logSoftmax) {
  FailureOr<SmallVector<int64_t>> dims = getNormalizedDims(node);
  if (failed(dims))
    return failure();
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  // f16 is computed in f32 (a long row's sum of exponentials would lose digits in f16).
  Type elementType = node.getInputType(0).getElementType();
  Value x = node.getInput(0);
  if (elementType.isF16())
    x = buildFloatConvert(b, loc, x, b.getF32Type());
  Value result = buildFloatConvert(b, loc, buildSoftmax(b, loc, x, *dims, logSoftmax), elementType);
  node.setResult(0, result, node.getInputDType(0));
  return success();
}

LogicalResult mlir::sqz::import::importSoftmax(NodeContext &node) {
  return importSoftmaxLike(node, /*logSoftmax=*/false);
}

LogicalResult mlir::sqz::import::importLogSoftmax(NodeContext &node) {
  return importSoftmaxLike(node, /*logSoftmax=*/true);
}

/// Hardmax: 1 at the first maximum of each row (the dims from getNormalizedDims, in row-major
/// order), 0 elsewhere. The max is one reduction; a second reduction finds the smallest
/// row-major offset within the row whose element equals it; a last generic compares each
/// element's offset with it. A row holding NaN has no element equal to its max (NaN) and is
/// all zeros.
LogicalResult mlir::sqz::import::importHardmax(NodeContext &node) {
  FailureOr<SmallVector<int64_t>> dims = getNormalizedDims(node);
  if (failed(dims))
    return failure();
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  MLIRContext *context = b.getContext();
  RankedTensorType type = node.getInputType(0);
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rank = type.getRank();
  auto floatType = cast<FloatType>(type.getElementType());
  Value x = node.getInput(0);
  TypedAttr negInf = b.getFloatAttr(
      floatType, llvm::APFloat::getInf(floatType.getFloatSemantics(), /*Negative=*/true));
  Value max = buildReduce(b, loc, x, *dims, negInf,
                          [](OpBuilder &nb, Location nl, Value element, Value acc) {
                            return arith::MaximumFOp::create(nb, nl, element, acc).getResult();
                          });

  // The row-major offset (i64) of an element within its row, from the loop indices.
  Type i64 = b.getI64Type();
  auto rowOffset = [&](OpBuilder &nb, Location nl, ArrayRef<Value> indices) -> Value {
    Value offset = arith::ConstantIndexOp::create(nb, nl, 0);
    for (int64_t d : *dims) {
      Value size = arith::ConstantIndexOp::create(nb, nl, shape[d]);
      offset = arith::MulIOp::create(nb, nl, offset, size);
      offset = arith::AddIOp::create(nb, nl, offset, indices[d]);
    }
    return arith::IndexCastOp::create(nb, nl, i64, offset);
  };
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, context);
  AffineMap kept = getKeptDimsMap(context, rank, *dims);
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  for (int64_t d : *dims)
    iterators[d] = utils::IteratorType::reduction;
  SmallVector<int64_t> keptShape;
  for (int64_t d = 0; d < rank; ++d)
    if (!llvm::is_contained(*dims, d))
      keptShape.push_back(shape[d]);
  Value firstInit = createFilled(b, loc, keptShape, i64,
                                 b.getI64IntegerAttr(std::numeric_limits<int64_t>::max()));
  Value first =
      linalg::GenericOp::create(
          b, loc, TypeRange{firstInit.getType()}, ValueRange{x, max}, ValueRange{firstInit},
          ArrayRef<AffineMap>{identity, kept, kept}, iterators,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            SmallVector<Value> indices;
            for (int64_t d = 0; d < rank; ++d)
              indices.push_back(linalg::IndexOp::create(nb, nl, d));
            Value offset = rowOffset(nb, nl, indices);
            Value isMax =
                arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OEQ, args[0], args[1]);
            Value smaller = arith::MinSIOp::create(nb, nl, args[2], offset);
            linalg::YieldOp::create(
                nb, nl, arith::SelectOp::create(nb, nl, isMax, smaller, args[2]).getResult());
          })
          .getResult(0);
  Value result = buildIndexedGeneric(
      b, loc, {first}, {kept}, shape, floatType,
      [&](OpBuilder &nb, Location nl, ValueRange indices, ValueRange args) {
        SmallVector<Value> loopIndices(indices);
        Value isFirst = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq,
                                              rowOffset(nb, nl, loopIndices), args[0]);
        return arith::SelectOp::create(nb, nl, isFirst, createScalar(nb, nl, floatType, 1.0),
                                       createScalar(nb, nl, floatType, 0.0))
            .getResult();
      });
  node.setResult(0, result, node.getInputDType(0));
  return success();
}
