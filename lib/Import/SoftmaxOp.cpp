//===- SoftmaxOp.cpp - ONNX Softmax and LogSoftmax ------------------------===//
//
// Numerically stable softmax: m = max(x), e = exp(x - m), y = e / sum(e) (LogSoftmax:
// y = (x - m) - log(sum(e))), computed in f32 for f16 inputs, reducing over
// - opset >= 13: the single dim `axis` (default -1);
// - opset < 13: every dim from `axis` (default 1) on: ONNX "coerces" the input to 2-D
//   [prod(d0..axis-1), prod(axis..)] and normalizes rows, which is the same as reducing over
//   the trailing dims, so no reshape is needed.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/APFloat.h"

using namespace mlir;
using namespace mlir::sqz::import;

/// Softmax, or LogSoftmax: (x - max) - log(sum(exp(x - max))).
static LogicalResult importSoftmaxLike(NodeContext &node, bool logSoftmax) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError() << "expected a float tensor, got '" << getDTypeName(dtype) << "'";
  bool newSemantics = node.getOpset() >= 13;
  FailureOr<int64_t> axisAttr = node.getIntAttr("axis", newSemantics ? -1 : 1);
  if (failed(axisAttr))
    return failure();
  RankedTensorType type = node.getInputType(0);
  int64_t rank = type.getRank();
  int64_t axis = *axisAttr < 0 ? *axisAttr + rank : *axisAttr;
  if (rank == 0 || axis < 0 || axis >= rank)
    return node.emitError() << "axis " << *axisAttr << " is out of range for a rank-" << rank
                            << " input";
  SmallVector<int64_t> dims;
  for (int64_t d = axis; d < (newSemantics ? axis + 1 : rank); ++d)
    dims.push_back(d);

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  // f16 is computed in f32 (a long row's sum of exponentials would lose digits in f16).
  Type elementType = type.getElementType();
  bool widen = elementType.isF16();
  auto floatType = widen ? b.getF32Type() : cast<FloatType>(elementType);
  Value x = node.getInput(0);
  auto convert = [&](Value value, Type to) {
    return buildElementwise(b, loc, {value}, type.getShape(), to,
                            [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                              if (to.getIntOrFloatBitWidth() > 16)
                                return arith::ExtFOp::create(nb, nl, to, args[0]);
                              return arith::TruncFOp::create(nb, nl, to, args[0]);
                            });
  };
  if (widen) {
    x = convert(x, floatType);
    type = RankedTensorType::get(type.getShape(), floatType);
  }

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
    Value init = createEmpty(b, loc, type.getShape(), floatType);
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
  Value result;
  if (logSoftmax) {
    // (x - max) - log(sum): x - max is recomputed (cheap, and fused with the subtraction).
    result = broadcastWithReduced(x, max, [](OpBuilder &nb, Location nl, Value v, Value m) {
      return arith::SubFOp::create(nb, nl, v, m).getResult();
    });
    result = broadcastWithReduced(result, sum, [](OpBuilder &nb, Location nl, Value v, Value s) {
      return arith::SubFOp::create(nb, nl, v, math::LogOp::create(nb, nl, s)).getResult();
    });
  } else {
    result = broadcastWithReduced(exp, sum, [](OpBuilder &nb, Location nl, Value e, Value s) {
      return arith::DivFOp::create(nb, nl, e, s).getResult();
    });
  }
  if (widen)
    result = convert(result, elementType);
  node.setResult(0, result, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importSoftmax(NodeContext &node) {
  return importSoftmaxLike(node, /*logSoftmax=*/false);
}

LogicalResult mlir::sqz::import::importLogSoftmax(NodeContext &node) {
  return importSoftmaxLike(node, /*logSoftmax=*/true);
}
