//===- LossOps.cpp - ONNX NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss -===//
//
// Both losses pick, for every target position (n, d1, ..., dk), the (log-)probability of the
// class the target names: input[n, target[n, d...], d...]. The class comes at run time, so one
// `linalg.generic` over the target's shape reads it with a data-dependent `tensor.extract`
// (the class index clamped to [0, C), never read out of bounds) and yields
// loss = -input[...] * weight[class] and the applied weight (1 without weights), both 0 where
// the target equals `ignore_index` (which may lie outside [0, C)). Reduction "none" returns the
// loss; "sum" its `linalg.reduce` sum; "mean" that sum divided by the sum of applied weights.
// SoftmaxCrossEntropyLoss is the same on LogSoftmax(scores) over the class dim (the builder of
// SoftmaxOp.cpp), optionally returning that log-probability. f16 is computed in f32.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"
#include "ShapeUtils.h"
#include "SoftmaxOp.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <optional>

using namespace mlir;
using namespace mlir::sqz::import;

namespace {
enum class LossReduction { None, Sum, Mean };

/// The checked attributes and operands of a loss node.
struct LossOperands {
  LossReduction reduction = LossReduction::Mean;
  std::optional<int64_t> ignoreIndex;
  bool hasWeight = false;
};
} // namespace

/// Checks the attributes and operands shared by both losses: input 0 (`inputName`) a float
/// [N, C, d1, ..., dk], input 1 an int32/int64 target [N, d1, ..., dk], optional input 2 a
/// weight [C] of the input's dtype.
static FailureOr<LossOperands> checkLossOperands(NodeContext &node, StringRef inputName,
                                                 StringRef targetName) {
  if (failed(node.checkNumInputs(2, 3)))
    return failure();
  LossOperands operands;
  FailureOr<std::string> reduction = node.getStringAttr("reduction", "mean");
  if (failed(reduction))
    return failure();
  if (*reduction == "none")
    operands.reduction = LossReduction::None;
  else if (*reduction == "sum")
    operands.reduction = LossReduction::Sum;
  else if (*reduction != "mean")
    return node.emitError() << "reduction '" << *reduction
                            << "' is not supported (expected 'none', 'sum' or 'mean')";
  if (node.getAttr("ignore_index")) {
    FailureOr<int64_t> ignoreIndex = node.getIntAttr("ignore_index", 0);
    if (failed(ignoreIndex))
      return failure();
    operands.ignoreIndex = *ignoreIndex;
  }

  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError() << inputName << " must be a float tensor, got '"
                            << getDTypeName(dtype) << "'";
  RankedTensorType inputType = node.getInputType(0);
  RankedTensorType targetType = node.getInputType(1);
  int32_t targetDType = node.getInputDType(1);
  if (targetDType != onnx::TensorProto::INT64 && targetDType != onnx::TensorProto::INT32)
    return node.emitError() << targetName << " must be int32 or int64, got '"
                            << getDTypeName(targetDType) << "'";
  ArrayRef<int64_t> inputShape = inputType.getShape();
  if (inputShape.size() < 2)
    return node.emitError() << inputName << " must have rank >= 2 ([N, C, d1, ..., dk]), got "
                            << inputType;
  if (inputShape[1] == 0)
    return node.emitError() << inputName << " " << inputType << " has no classes";
  SmallVector<int64_t> expected = {inputShape[0]};
  llvm::append_range(expected, inputShape.drop_front(2));
  if (targetType.getShape() != ArrayRef<int64_t>(expected))
    return node.emitError() << targetName << " " << targetType << " does not match "
                            << inputName << " " << inputType
                            << " (expected [N, d1, ..., dk] without the class dim)";
  if (node.hasInput(2)) {
    RankedTensorType weightType = node.getInputType(2);
    if (node.getInputDType(2) != dtype || weightType.getRank() != 1 ||
        weightType.getDimSize(0) != inputShape[1])
      return node.emitError() << "weight " << weightType << " must be a 1-D tensor of the "
                              << inputShape[1] << " classes with the dtype of " << inputName;
    operands.hasWeight = true;
  }
  return operands;
}

/// The negative log-likelihood loss of `logProb` [N, C, d...] (float) at the classes `target`
/// [N, d...] names, weighted by `weight` [C] (null: 1), in logProb's element type.
static Value buildNllLoss(OpBuilder &b, Location loc, Value logProb, Value target, Value weight,
                          const LossOperands &operands) {
  MLIRContext *context = b.getContext();
  auto inputType = cast<RankedTensorType>(logProb.getType());
  auto targetType = cast<RankedTensorType>(target.getType());
  Type floatType = inputType.getElementType();
  int64_t numClasses = inputType.getDimSize(1);
  ArrayRef<int64_t> shape = targetType.getShape();
  int64_t rank = shape.size();

  // One generic yields the loss and the applied weight of every target position.
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, context);
  SmallVector<utils::IteratorType> parallel(rank, utils::IteratorType::parallel);
  Value lossInit = createEmpty(b, loc, shape, floatType);
  auto resultType = RankedTensorType::get(shape, floatType);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{resultType, resultType}, ValueRange{target},
      ValueRange{lossInit, lossInit}, ArrayRef<AffineMap>{identity, identity, identity}, parallel,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value label = args[0];
        Value zero = createScalar(nb, nl, floatType, 0.0);
        Value valid;
        if (operands.ignoreIndex) {
          Value ignored = createScalar(nb, nl, label.getType(), double(*operands.ignoreIndex));
          valid = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ne, label, ignored);
        }
        // The class, clamped to [0, C) so that no target value reads out of bounds.
        Value cls = castToIndex(nb, nl, label);
        cls = arith::MaxSIOp::create(nb, nl, cls, arith::ConstantIndexOp::create(nb, nl, 0));
        cls = arith::MinSIOp::create(nb, nl, cls,
                                     arith::ConstantIndexOp::create(nb, nl, numClasses - 1));
        SmallVector<Value> coords;
        for (int64_t d = 0; d < rank; ++d) {
          coords.push_back(linalg::IndexOp::create(nb, nl, d));
          if (d == 0)
            coords.push_back(cls);
        }
        Value x = tensor::ExtractOp::create(nb, nl, logProb, coords);
        Value loss = arith::NegFOp::create(nb, nl, x);
        Value applied = createScalar(nb, nl, floatType, 1.0);
        if (weight) {
          applied = tensor::ExtractOp::create(nb, nl, weight, ValueRange{cls});
          loss = arith::MulFOp::create(nb, nl, loss, applied);
        }
        if (valid) {
          loss = arith::SelectOp::create(nb, nl, valid, loss, zero);
          applied = arith::SelectOp::create(nb, nl, valid, applied, zero);
        }
        linalg::YieldOp::create(nb, nl, ValueRange{loss, applied});
      });
  Value loss = generic.getResult(0);
  if (operands.reduction == LossReduction::None)
    return loss;

  SmallVector<int64_t> allDims = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  auto add = [](OpBuilder &nb, Location nl, Value element, Value acc) {
    return arith::AddFOp::create(nb, nl, element, acc).getResult();
  };
  TypedAttr zero = b.getFloatAttr(floatType, 0.0);
  Value sum = buildReduce(b, loc, loss, allDims, zero, add);
  if (operands.reduction == LossReduction::Sum)
    return sum;
  Value weightSum = buildReduce(b, loc, generic.getResult(1), allDims, zero, add);
  return buildElementwise(b, loc, {sum, weightSum}, {}, floatType,
                          [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                            return arith::DivFOp::create(nb, nl, args[0], args[1]);
                          });
}

/// Output `index` of the node is requested.
static bool hasOutput(NodeContext &node, int index) {
  return node.getNode().output_size() > index && !node.getNode().output(index).empty();
}

LogicalResult mlir::sqz::import::importNegativeLogLikelihoodLoss(NodeContext &node) {
  FailureOr<LossOperands> operands = checkLossOperands(node, "input", "target");
  if (failed(operands))
    return failure();
  if (node.getNode().output_size() > 1)
    return node.emitError() << "expected 1 output, got " << node.getNode().output_size();
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Type elementType = node.getInputType(0).getElementType();
  Type computeType = elementType.isF16() ? b.getF32Type() : elementType;
  Value input = buildFloatConvert(b, loc, node.getInput(0), computeType);
  Value weight =
      operands->hasWeight ? buildFloatConvert(b, loc, node.getInput(2), computeType) : Value();
  Value loss = buildNllLoss(b, loc, input, node.getInput(1), weight, *operands);
  node.setResult(0, buildFloatConvert(b, loc, loss, elementType), node.getInputDType(0));
  return success();
}

LogicalResult mlir::sqz::import::importSoftmaxCrossEntropyLoss(NodeContext &node) {
  FailureOr<LossOperands> operands = checkLossOperands(node, "scores", "labels");
  if (failed(operands))
    return failure();
  if (node.getNode().output_size() > 2)
    return node.emitError() << "expected 1 or 2 outputs, got " << node.getNode().output_size();
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Type elementType = node.getInputType(0).getElementType();
  Type computeType = elementType.isF16() ? b.getF32Type() : elementType;
  Value scores = buildFloatConvert(b, loc, node.getInput(0), computeType);
  Value weight =
      operands->hasWeight ? buildFloatConvert(b, loc, node.getInput(2), computeType) : Value();
  Value logProb = buildSoftmax(b, loc, scores, {1}, /*logSoftmax=*/true);
  Value loss = buildNllLoss(b, loc, logProb, node.getInput(1), weight, *operands);
  int32_t dtype = node.getInputDType(0);
  node.setResult(0, buildFloatConvert(b, loc, loss, elementType), dtype);
  if (hasOutput(node, 1))
    node.setResult(1, buildFloatConvert(b, loc, logProb, elementType), dtype);
  return success();
}
