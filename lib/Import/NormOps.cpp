//===- NormOps.cpp - Layer normalizations ---------------------------------===//
//
// LayerNormalization (opset 17, and the identical ONNX-domain contrib op of onnxruntime that
// older exports use), RMSNormalization (opset 23), and onnxruntime's
// SimplifiedLayerNormalization (ONNX domain), com.microsoft SkipLayerNormalization and
// SkipSimplifiedLayerNormalization. All normalize over the trailing dims [axis, rank):
//
//   mean = Σx / N            (not for the RMS forms)
//   c    = x - mean          (x for the RMS forms)
//   inv  = 1 / sqrt(Σc² / N + epsilon)
//   y    = c · inv · scale (+ bias)
//
// The statistics are computed in f32 (f64 for f64 inputs) whatever the input type, with a
// two-pass variance (no E[x²] - E[x]² cancellation): two reduction `linalg.generic`s that read
// x directly (the f32 extension and the centering x - mean fused into the second one, so no
// x-sized temporary is materialized), then one elementwise generic for y. Mean / InvStdDev
// outputs have the input shape with the normalized dims set to 1, in the stash type (f32).
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::sqz::import;

namespace {
struct NormOutputs {
  Value y;
  /// In the compute type, keepdims shape (null for the RMS forms).
  Value mean;
  Value invStdDev;
};
} // namespace

/// Converts a float scalar to float type `to` (no-op when equal).
static Value castFloat(OpBuilder &b, Location loc, Value value, Type to) {
  Type from = value.getType();
  if (from == to)
    return value;
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, to, value);
  return arith::TruncFOp::create(b, loc, to, value);
}

/// Converts every element of a float tensor to `to`.
static Value castTensor(OpBuilder &b, Location loc, Value value, Type to) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getElementType() == to)
    return value;
  return buildElementwise(b, loc, {value}, type.getShape(), to,
                          [&](OpBuilder &nb, Location nl, ValueRange args) {
                            return castFloat(nb, nl, args[0], to);
                          });
}

static NormOutputs buildNormalization(OpBuilder &b, Location loc, Value x, int64_t axis,
                                      double epsilon, bool rms, Value scale, Value bias) {
  MLIRContext *context = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  Type elementType = type.getElementType();
  Type computeType = elementType.isF64() ? Type(b.getF64Type()) : Type(b.getF32Type());
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rank = type.getRank();
  SmallVector<int64_t> dims, reducedShape, keptShape;
  int64_t count = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (d >= axis) {
      dims.push_back(d);
      count *= shape[d];
      keptShape.push_back(1);
    } else {
      reducedShape.push_back(shape[d]);
      keptShape.push_back(shape[d]);
    }
  }
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, context);
  AffineMap kept = getKeptDimsMap(context, rank, dims);
  TypedAttr zero = b.getFloatAttr(computeType, 0.0);
  auto divideByCount = [&](OpBuilder &nb, Location nl, Value v) {
    return arith::DivFOp::create(nb, nl, v,
                                 createScalar(nb, nl, computeType, static_cast<double>(count)))
        .getResult();
  };

  // mean = Σx / N (not for the RMS forms).
  Value mean;
  if (!rms) {
    Value sum = buildReductionGeneric(
        b, loc, {x}, {identity}, shape, dims, zero,
        [&](OpBuilder &nb, Location nl, ValueRange e, Value acc) -> Value {
          return arith::AddFOp::create(nb, nl, acc, castFloat(nb, nl, e[0], computeType));
        });
    mean = buildElementwise(b, loc, {sum}, reducedShape, computeType,
                            [&](OpBuilder &nb, Location nl, ValueRange args) {
                              return divideByCount(nb, nl, args[0]);
                            });
  }
  // inv = 1 / sqrt(Σ(x - mean)² / N + epsilon), the centering fused into the reduction.
  SmallVector<Value> sqInputs = {x};
  SmallVector<AffineMap> sqMaps = {identity};
  if (mean) {
    sqInputs.push_back(mean);
    sqMaps.push_back(kept);
  }
  Value sumSquares = buildReductionGeneric(
      b, loc, sqInputs, sqMaps, shape, dims, zero,
      [&](OpBuilder &nb, Location nl, ValueRange e, Value acc) -> Value {
        Value c = castFloat(nb, nl, e[0], computeType);
        if (e.size() > 1)
          c = arith::SubFOp::create(nb, nl, c, e[1]);
        return arith::AddFOp::create(nb, nl, acc, arith::MulFOp::create(nb, nl, c, c));
      });
  Value inv = buildElementwise(
      b, loc, {sumSquares}, reducedShape, computeType,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value variance = divideByCount(nb, nl, args[0]);
        Value shifted =
            arith::AddFOp::create(nb, nl, variance, createScalar(nb, nl, computeType, epsilon));
        Value root = math::SqrtOp::create(nb, nl, shifted);
        return arith::DivFOp::create(nb, nl, createScalar(nb, nl, computeType, 1.0), root)
            .getResult();
      });

  // y = (x - mean) · inv · scale (+ bias), in one generic. mean and inv enter in the keepdims
  // shape: the reshape keeps the per-row math (divide, sqrt) from being fused into (and
  // recomputed for) every element.
  NormOutputs out;
  if (mean)
    out.mean = buildReshape(b, loc, mean, keptShape);
  out.invStdDev = buildReshape(b, loc, inv, keptShape);
  SmallVector<Value> inputs = {x};
  SmallVector<AffineMap> maps = {identity};
  if (mean) {
    inputs.push_back(out.mean);
    maps.push_back(getBroadcastMap(context, keptShape, shape));
  }
  inputs.push_back(out.invStdDev);
  maps.push_back(getBroadcastMap(context, keptShape, shape));
  for (Value operand : {scale, bias}) {
    if (!operand)
      continue;
    inputs.push_back(operand);
    maps.push_back(
        getBroadcastMap(context, cast<RankedTensorType>(operand.getType()).getShape(), shape));
  }
  maps.push_back(identity);
  Value init = createEmpty(b, loc, shape, elementType);
  SmallVector<utils::IteratorType> parallel(rank, utils::IteratorType::parallel);
  out.y = linalg::GenericOp::create(
              b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps, parallel,
              [&](OpBuilder &nb, Location nl, ValueRange args) {
                unsigned next = 0;
                Value c = castFloat(nb, nl, args[next++], computeType);
                if (mean)
                  c = arith::SubFOp::create(nb, nl, c, args[next++]);
                Value y = arith::MulFOp::create(nb, nl, c, args[next++]);
                if (scale)
                  y = arith::MulFOp::create(nb, nl, y,
                                            castFloat(nb, nl, args[next++], computeType));
                if (bias)
                  y = arith::AddFOp::create(nb, nl, y,
                                            castFloat(nb, nl, args[next++], computeType));
                linalg::YieldOp::create(nb, nl, castFloat(nb, nl, y, elementType));
              })
              .getResult(0);
  return out;
}

/// Checks that operand `index` (scale/bias) is a float tensor that broadcasts to `xShape`
/// without growing it.
static LogicalResult checkAffineOperand(NodeContext &node, unsigned index, StringRef what,
                                        ArrayRef<int64_t> xShape) {
  if (!isFloatDType(node.getInputDType(index)))
    return node.emitError() << what << " must be a float tensor, got '"
                            << getDTypeName(node.getInputDType(index)) << "'";
  RankedTensorType type = node.getInputType(index);
  std::optional<SmallVector<int64_t>> shape = broadcastShapes({xShape, type.getShape()});
  if (!shape || ArrayRef<int64_t>(*shape) != xShape)
    return node.emitError() << what << " of type " << type << " does not broadcast to the input "
                            << RankedTensorType::get(xShape, node.getInputType(0).getElementType());
  return success();
}

/// The stash type of the statistics outputs (ONNX `stash_type`, default 1 = float).
static FailureOr<std::pair<int32_t, Type>> getStashType(NodeContext &node) {
  FailureOr<int64_t> stash = node.getIntAttr("stash_type", onnx::TensorProto::FLOAT);
  if (failed(stash))
    return failure();
  int32_t dtype = static_cast<int32_t>(*stash);
  if (!isFloatDType(dtype))
    return node.emitError() << "stash_type " << *stash << " is not a supported float type";
  return std::make_pair(dtype, getElementType(node.getContext(), dtype));
}

static bool hasOutput(NodeContext &node, int index) {
  return node.getNode().output_size() > index && !node.getNode().output(index).empty();
}

/// Shared by the ONNX-domain normalizations: X, Scale[, B] with `axis`/`epsilon`/`stash_type`.
/// Outputs: Y, then (LayerNormalization) Mean, InvStdDev or (Simplified) InvStdDev.
static LogicalResult importAxisNorm(NodeContext &node, bool rms, bool hasBias,
                                    double defaultEpsilon) {
  if (failed(node.checkNumInputs(2, hasBias ? 3 : 2)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError() << "expected a float tensor, got '" << getDTypeName(dtype) << "'";
  FailureOr<int64_t> axisAttr = node.getIntAttr("axis", -1);
  FailureOr<float> epsilonAttr = node.getFloatAttr("epsilon", static_cast<float>(defaultEpsilon));
  FailureOr<std::pair<int32_t, Type>> stash = getStashType(node);
  if (failed(axisAttr) || failed(epsilonAttr) || failed(stash))
    return failure();
  RankedTensorType type = node.getInputType(0);
  int64_t rank = type.getRank();
  int64_t axis = *axisAttr < 0 ? *axisAttr + rank : *axisAttr;
  if (axis < 0 || axis >= rank)
    return node.emitError() << "axis " << *axisAttr << " is out of range for a rank-" << rank
                            << " input";
  if (failed(checkAffineOperand(node, 1, "scale", type.getShape())))
    return failure();
  bool withBias = hasBias && node.hasInput(2);
  if (withBias && failed(checkAffineOperand(node, 2, "bias", type.getShape())))
    return failure();

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  NormOutputs out = buildNormalization(b, loc, node.getInput(0), axis, *epsilonAttr, rms,
                                       node.getInput(1), withBias ? node.getInput(2) : Value());
  node.setResult(0, out.y, dtype);
  auto [stashDType, stashType] = *stash;
  int invIndex = rms ? 1 : 2;
  if (!rms && hasOutput(node, 1))
    node.setResult(1, castTensor(b, loc, out.mean, stashType), stashDType);
  if (hasOutput(node, invIndex))
    node.setResult(invIndex, castTensor(b, loc, out.invStdDev, stashType), stashDType);
  return success();
}

LogicalResult mlir::sqz::import::importLayerNormalization(NodeContext &node) {
  return importAxisNorm(node, /*rms=*/false, /*hasBias=*/true, 1e-5);
}

LogicalResult mlir::sqz::import::importRMSNormalization(NodeContext &node) {
  if (node.getNode().output_size() > 1)
    return node.emitError() << "expected 1 output, got " << node.getNode().output_size();
  return importAxisNorm(node, /*rms=*/true, /*hasBias=*/false, 1e-5);
}

LogicalResult mlir::sqz::import::importSimplifiedLayerNormalization(NodeContext &node) {
  return importAxisNorm(node, /*rms=*/true, /*hasBias=*/false, 1e-5);
}

/// com.microsoft Skip[Simplified]LayerNormalization: s = input + skip (+ bias), normalized over
/// the last dim. Inputs: input, skip, gamma, [beta (not Simplified)], [bias]. Outputs: output,
/// mean, inv_std_var, input_skip_bias_sum (the Simplified form leaves mean undefined).
static LogicalResult importSkipNorm(NodeContext &node, bool rms) {
  unsigned biasIndex = rms ? 3 : 4;
  if (failed(node.checkNumInputs(3, biasIndex + 1)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError() << "expected a float tensor, got '" << getDTypeName(dtype) << "'";
  FailureOr<float> epsilonAttr = node.getFloatAttr("epsilon", 1e-12f);
  if (failed(epsilonAttr))
    return failure();
  RankedTensorType type = node.getInputType(0);
  if (type.getRank() < 1)
    return node.emitError() << "expected an input of rank >= 1";
  ArrayRef<int64_t> shape = type.getShape();
  for (unsigned i = 1; i <= biasIndex; ++i) {
    if (!node.hasInput(i))
      continue;
    if (node.getInputDType(i) != dtype)
      return node.emitError() << "operands have different dtypes ('" << getDTypeName(dtype)
                              << "' and '" << getDTypeName(node.getInputDType(i)) << "')";
    StringRef what = i == 1 ? "skip" : i == 2 ? "gamma" : i == biasIndex ? "bias" : "beta";
    if (failed(checkAffineOperand(node, i, what, shape)))
      return failure();
  }
  bool hasBeta = !rms && node.hasInput(3);
  bool hasBias = node.hasInput(biasIndex);

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  SmallVector<Value> sumInputs = {node.getInput(0), node.getInput(1)};
  if (hasBias)
    sumInputs.push_back(node.getInput(biasIndex));
  Type elementType = type.getElementType();
  Value sum = buildElementwise(b, loc, sumInputs, shape, elementType,
                               [](OpBuilder &nb, Location nl, ValueRange args) {
                                 Value s = args[0];
                                 for (Value v : args.drop_front())
                                   s = arith::AddFOp::create(nb, nl, s, v);
                                 return s;
                               });
  NormOutputs out = buildNormalization(b, loc, sum, type.getRank() - 1, *epsilonAttr, rms,
                                       node.getInput(2), hasBeta ? node.getInput(3) : Value());
  node.setResult(0, out.y, dtype);
  Type f32 = b.getF32Type();
  if (hasOutput(node, 1)) {
    if (rms)
      return node.emitError() << "output 1 (mean) is not produced by the simplified form";
    node.setResult(1, castTensor(b, loc, out.mean, f32), onnx::TensorProto::FLOAT);
  }
  if (hasOutput(node, 2))
    node.setResult(2, castTensor(b, loc, out.invStdDev, f32), onnx::TensorProto::FLOAT);
  if (hasOutput(node, 3))
    node.setResult(3, sum, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importSkipLayerNormalization(NodeContext &node) {
  return importSkipNorm(node, /*rms=*/false);
}

LogicalResult mlir::sqz::import::importSkipSimplifiedLayerNormalization(NodeContext &node) {
  return importSkipNorm(node, /*rms=*/true);
}
