//===- NormOps.cpp - Layer, instance, group and local normalizations ------===//
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
// The same builder normalizes any set of dims, which gives InstanceNormalization (the spatial
// dims, per-channel scale/B), GroupNormalization (x viewed as [N, G, C/G, D...]) and
// MeanVarianceNormalization (`axes`, no affine part, ε added after the square root). LRN sums
// x² over a window of channels instead.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"
#include "ShapeUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

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

namespace {
/// How `buildNormalization` normalizes.
struct NormOptions {
  /// No mean: x / sqrt(mean(x²) + ε) (the RMS forms).
  bool rms = false;
  /// inv = 1 / (sqrt(var) + ε) instead of 1 / sqrt(var + ε) (MeanVarianceNormalization).
  bool epsilonAfterSqrt = false;
  /// The type of the statistics; null: f32 (f64 for f64 inputs).
  Type computeType;
};
} // namespace

/// Normalizes `x` over `dims` (sorted, unique), then scales and shifts by `scale` / `bias`
/// (optional, broadcast numpy-style to x).
static NormOutputs buildNormalization(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> dims,
                                      double epsilon, const NormOptions &options, Value scale,
                                      Value bias) {
  MLIRContext *context = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  Type elementType = type.getElementType();
  Type computeType = options.computeType;
  if (!computeType)
    computeType = elementType.isF64() ? Type(b.getF64Type()) : Type(b.getF32Type());
  bool rms = options.rms;
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rank = type.getRank();
  SmallVector<int64_t> reducedShape, keptShape;
  int64_t count = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (llvm::is_contained(dims, d)) {
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
  // inv = 1 / sqrt(Σ(x - mean)² / N + epsilon) (or 1 / (sqrt(...) + epsilon)), the centering
  // fused into the reduction.
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
        Value eps = createScalar(nb, nl, computeType, epsilon);
        Value root;
        if (options.epsilonAfterSqrt)
          root = arith::AddFOp::create(nb, nl, math::SqrtOp::create(nb, nl, variance), eps);
        else
          root = math::SqrtOp::create(nb, nl, arith::AddFOp::create(nb, nl, variance, eps));
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
  Value init = createEmpty(b, loc, shape, elementType, ValueRange{x});
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

/// The dims [axis, rank).
static SmallVector<int64_t> getTrailingDims(int64_t axis, int64_t rank) {
  return llvm::to_vector(llvm::seq<int64_t>(axis, rank));
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
  NormOptions options;
  options.rms = rms;
  NormOutputs out = buildNormalization(b, loc, node.getInput(0), getTrailingDims(axis, rank),
                                       *epsilonAttr, options, node.getInput(1),
                                       withBias ? node.getInput(2) : Value());
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
  NormOptions options;
  options.rms = rms;
  NormOutputs out =
      buildNormalization(b, loc, sum, {type.getRank() - 1}, *epsilonAttr, options,
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

//===----------------------------------------------------------------------===//
// Channel normalizations of [N, C, D...] tensors
//===----------------------------------------------------------------------===//

/// Checks that input 0 is a float tensor of rank >= `minRank`.
static LogicalResult checkFloatInput(NodeContext &node, int64_t minRank) {
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError() << "expected a float tensor, got '" << getDTypeName(dtype) << "'";
  if (node.getInputType(0).getRank() < minRank)
    return node.emitError() << "expected an input of rank >= " << minRank << ", got "
                            << node.getInputType(0);
  return success();
}

/// Checks that input `index` is a tensor of `x`'s dtype and exactly `shape`.
static LogicalResult checkChannelOperand(NodeContext &node, unsigned index, StringRef what,
                                         ArrayRef<int64_t> shape) {
  RankedTensorType type = node.getInputType(index);
  if (node.getInputDType(index) != node.getInputDType(0) || type.getShape() != shape)
    return node.emitError() << "expected " << what << " of type "
                            << RankedTensorType::get(shape, node.getInputType(0).getElementType())
                            << ", got " << type;
  return success();
}

/// `value` reshaped to `leading` followed by ones up to `rank` dims (to broadcast a per-channel
/// operand against the channel dims of a [N, C, D...] tensor).
static Value padWithUnitDims(OpBuilder &b, Location loc, Value value, ArrayRef<int64_t> leading,
                             int64_t rank) {
  SmallVector<int64_t> shape(leading);
  shape.resize(rank, 1);
  return buildReshape(b, loc, value, shape);
}

/// InstanceNormalization: per (n, c), normalized over the spatial dims, then scale[c]·y + B[c].
LogicalResult mlir::sqz::import::importInstanceNormalization(NodeContext &node) {
  if (failed(node.checkNumInputs(3, 3)) || failed(checkFloatInput(node, 3)))
    return failure();
  FailureOr<float> epsilonAttr = node.getFloatAttr("epsilon", 1e-5f);
  if (failed(epsilonAttr))
    return failure();
  RankedTensorType type = node.getInputType(0);
  int64_t rank = type.getRank();
  int64_t channels = type.getDimSize(1);
  if (failed(checkChannelOperand(node, 1, "scale", {channels})) ||
      failed(checkChannelOperand(node, 2, "B", {channels})))
    return failure();
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  // scale/B [C] -> [C, 1, ...] broadcasts over [N, C, D...].
  Value scale = padWithUnitDims(b, loc, node.getInput(1), {channels}, rank - 1);
  Value bias = padWithUnitDims(b, loc, node.getInput(2), {channels}, rank - 1);
  NormOutputs out = buildNormalization(b, loc, node.getInput(0), getTrailingDims(2, rank),
                                       *epsilonAttr, NormOptions(), scale, bias);
  node.setResult(0, out.y, node.getInputDType(0));
  return success();
}

/// GroupNormalization: x [N, C, D...] viewed as [N, G, C/G, D...] and normalized over
/// [C/G, D...]; scale/bias are per group [G] (opset 18) or per channel [C] (opset 21).
LogicalResult mlir::sqz::import::importGroupNormalization(NodeContext &node) {
  if (failed(node.checkNumInputs(3, 3)) || failed(checkFloatInput(node, 2)))
    return failure();
  FailureOr<float> epsilonAttr = node.getFloatAttr("epsilon", 1e-5f);
  FailureOr<int64_t> groupsAttr = node.getIntAttr("num_groups", 0);
  if (failed(epsilonAttr) || failed(groupsAttr))
    return failure();
  NormOptions options;
  bool perChannel = node.getOpset() >= 21;
  if (perChannel && node.getAttr("stash_type")) {
    FailureOr<std::pair<int32_t, Type>> stash = getStashType(node);
    if (failed(stash))
      return failure();
    options.computeType = stash->second;
  }
  if (!node.getAttr("num_groups"))
    return node.emitError() << "missing required attribute 'num_groups'";
  RankedTensorType type = node.getInputType(0);
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rank = type.getRank();
  int64_t channels = shape[1], groups = *groupsAttr;
  if (groups <= 0 || channels % groups != 0)
    return node.emitError() << "num_groups " << groups << " does not divide the " << channels
                            << " channels";
  int64_t perGroup = channels / groups;
  int64_t affineSize = perChannel ? channels : groups;
  StringRef kind = perChannel ? " (per channel from opset 21)" : " (per group before opset 21)";
  if (failed(checkChannelOperand(node, 1, ("scale" + kind).str(), {affineSize})) ||
      failed(checkChannelOperand(node, 2, ("bias" + kind).str(), {affineSize})))
    return failure();

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  SmallVector<int64_t> groupedShape = {shape[0], groups, perGroup};
  groupedShape.append(shape.begin() + 2, shape.end());
  int64_t groupedRank = rank + 1;
  Value x = buildReshape(b, loc, node.getInput(0), groupedShape);
  // The affine operands broadcast against [G, C/G, D...]: [G, 1, 1...] or [G, C/G, 1...].
  SmallVector<int64_t> affineLeading = {groups};
  if (perChannel)
    affineLeading.push_back(perGroup);
  Value scale = padWithUnitDims(b, loc, node.getInput(1), affineLeading, groupedRank - 1);
  Value bias = padWithUnitDims(b, loc, node.getInput(2), affineLeading, groupedRank - 1);
  NormOutputs out = buildNormalization(b, loc, x, getTrailingDims(2, groupedRank), *epsilonAttr,
                                       options, scale, bias);
  node.setResult(0, buildReshape(b, loc, out.y, shape), node.getInputDType(0));
  return success();
}

/// MeanVarianceNormalization: (x - mean) / (sqrt(var) + 1e-9) over `axes` (default [0, 2, 3]).
LogicalResult mlir::sqz::import::importMeanVarianceNormalization(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 1)) || failed(checkFloatInput(node, 1)))
    return failure();
  FailureOr<std::optional<SmallVector<int64_t>>> axesAttr = node.getIntsAttr("axes");
  if (failed(axesAttr))
    return failure();
  int64_t rank = node.getInputType(0).getRank();
  SmallVector<int64_t> axes = axesAttr->value_or(SmallVector<int64_t>{0, 2, 3});
  SmallVector<int64_t> dims;
  for (int64_t axis : axes) {
    FailureOr<int64_t> dim = normalizeAxis(node, axis, rank, "axis");
    if (failed(dim))
      return failure();
    if (llvm::is_contained(dims, *dim))
      return node.emitError() << "axis " << axis << " is repeated";
    dims.push_back(*dim);
  }
  llvm::sort(dims);
  NormOptions options;
  options.epsilonAfterSqrt = true;
  NormOutputs out = buildNormalization(node.getBuilder(), node.getLoc(), node.getInput(0), dims,
                                       1e-9, options, Value(), Value());
  node.setResult(0, out.y, node.getInputDType(0));
  return success();
}

/// LRN across channels: y = x / (bias + alpha/size · Σ x²)^beta, the sum over the channels
/// [c - ⌊(size-1)/2⌋, c + ⌈(size-1)/2⌉] (clipped to the tensor). x² is written into a tensor
/// zero-padded along C, so the window sum is an affine `linalg.generic` reading (n, c + k, ...).
LogicalResult mlir::sqz::import::importLRN(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 1)) || failed(checkFloatInput(node, 3)))
    return failure();
  FailureOr<int64_t> sizeAttr = node.getIntAttr("size", 0);
  FailureOr<float> alphaAttr = node.getFloatAttr("alpha", 1e-4f);
  FailureOr<float> betaAttr = node.getFloatAttr("beta", 0.75f);
  FailureOr<float> biasAttr = node.getFloatAttr("bias", 1.0f);
  if (failed(sizeAttr) || failed(alphaAttr) || failed(betaAttr) || failed(biasAttr))
    return failure();
  if (!node.getAttr("size"))
    return node.emitError() << "missing required attribute 'size'";
  int64_t size = *sizeAttr;
  if (size <= 0)
    return node.emitError() << "size must be positive, got " << size;

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  MLIRContext *context = b.getContext();
  Value x = node.getInput(0);
  RankedTensorType type = node.getInputType(0);
  Type elementType = type.getElementType();
  Type computeType = elementType.isF64() ? Type(b.getF64Type()) : Type(b.getF32Type());
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rank = type.getRank();
  int64_t channels = shape[1];
  int64_t before = (size - 1) / 2;

  // padded[n, p, ...] = x[n, p - before, ...]² inside the channels, else 0.
  SmallVector<int64_t> paddedShape(shape);
  paddedShape[1] = channels + size - 1;
  Value squares = buildIndexedGeneric(
      b, loc, {}, {}, paddedShape, computeType,
      [&](OpBuilder &nb, Location nl, ValueRange indices, ValueRange) -> Value {
        Value shifted = arith::SubIOp::create(nb, nl, indices[1],
                                              arith::ConstantIndexOp::create(nb, nl, before));
        Value zero = arith::ConstantIndexOp::create(nb, nl, 0);
        Value last = arith::ConstantIndexOp::create(nb, nl, channels - 1);
        Value inside = arith::AndIOp::create(
            nb, nl, arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sge, shifted, zero),
            arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sle, shifted, last));
        Value clamped = arith::MinSIOp::create(nb, nl, arith::MaxSIOp::create(nb, nl, shifted, zero),
                                               last);
        SmallVector<Value> xIndices(indices);
        xIndices[1] = clamped;
        Value v = castFloat(nb, nl, tensor::ExtractOp::create(nb, nl, x, xIndices), computeType);
        Value square = arith::MulFOp::create(nb, nl, v, v);
        return arith::SelectOp::create(nb, nl, inside, square,
                                       createScalar(nb, nl, computeType, 0.0));
      });

  // sum[n, c, ...] = Σ_k padded[n, c + k, ...] over the iteration space shape + [size].
  SmallVector<int64_t> windowShape(shape);
  windowShape.push_back(size);
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d < rank; ++d)
    exprs.push_back(getAffineDimExpr(d, context));
  exprs[1] = exprs[1] + getAffineDimExpr(rank, context);
  AffineMap windowMap = AffineMap::get(rank + 1, 0, exprs, context);
  // A shape-only [size] operand gives the window loop its range.
  Value window = createEmpty(b, loc, {size}, computeType);
  AffineMap windowOnly = AffineMap::get(rank + 1, 0, {getAffineDimExpr(rank, context)}, context);
  Value sum = buildReductionGeneric(
      b, loc, {squares, window}, {windowMap, windowOnly}, windowShape, {rank},
      b.getFloatAttr(computeType, 0.0),
      [](OpBuilder &nb, Location nl, ValueRange e, Value acc) -> Value {
        return arith::AddFOp::create(nb, nl, acc, e[0]);
      });

  double alphaOverSize = static_cast<double>(*alphaAttr) / static_cast<double>(size);
  double bias = *biasAttr, beta = *betaAttr;
  Value y = buildElementwise(
      b, loc, {x, sum}, shape, elementType, [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value base = arith::AddFOp::create(
            nb, nl, createScalar(nb, nl, computeType, bias),
            arith::MulFOp::create(nb, nl, createScalar(nb, nl, computeType, alphaOverSize),
                                  args[1]));
        Value denom = math::PowFOp::create(nb, nl, base, createScalar(nb, nl, computeType, beta));
        Value v = arith::DivFOp::create(nb, nl, castFloat(nb, nl, args[0], computeType), denom);
        return castFloat(nb, nl, v, elementType);
      });
  node.setResult(0, y, node.getInputDType(0));
  return success();
}
