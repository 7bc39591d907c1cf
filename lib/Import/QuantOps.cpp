//===- QuantOps.cpp - ONNX integer (dynamic) quantization ops ------------===//
//
// The ops of onnxruntime's dynamic int8 quantization (`quantize_dynamic`):
//   DynamicQuantizeLinear(x) -> (y uint8, y_scale f32 [], y_zero_point uint8 [])
//   MatMulInteger(A, B, a_zero_point, b_zero_point) -> int32
// Both are computed with onnxruntime's CPU semantics so that results match it bit for bit:
// the range always includes 0, scale = (max - min) / 255 (1 when max == min), zero point
// round-half-even(clamp(-min / scale, 0, 255)), y = clamp(round-half-even(x / scale) + zp, 0, 255).
// MatMulInteger extends both operands to i32, subtracts the zero points (scalar, per-row [M]
// for A, per-column [N] for B, or any tensor that broadcasts) and multiplies in i32.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::sqz::import;

static bool isInt8DType(int32_t dtype) {
  return dtype == onnx::TensorProto::UINT8 || dtype == onnx::TensorProto::INT8;
}

/// Input `index` (int8/uint8) extended to i32, minus zero point input `zpIndex` when present.
/// `rowZeroPoint`: a 1-D zero point of size M (!= 1) applies per row (dim -2) of the operand.
static FailureOr<Value> buildCentered(NodeContext &node, unsigned index, unsigned zpIndex,
                                      bool rowZeroPoint) {
  OpBuilder &builder = node.getBuilder();
  Location loc = node.getLoc();
  Type i32 = builder.getI32Type();
  int32_t dtype = node.getInputDType(index);
  bool isUnsigned = isUnsignedDType(dtype);
  RankedTensorType type = node.getInputType(index);
  SmallVector<Value> operands = {node.getInput(index)};
  if (node.hasInput(zpIndex)) {
    if (node.getInputDType(zpIndex) != dtype)
      return node.emitError() << "zero point " << zpIndex << " must have the dtype of input "
                              << index;
    RankedTensorType zpType = node.getInputType(zpIndex);
    Value zp = node.getInput(zpIndex);
    if (rowZeroPoint && zpType.getRank() == 1 && zpType.getDimSize(0) != 1) {
      if (type.getRank() < 2 || type.getDimSize(type.getRank() - 2) != zpType.getDimSize(0))
        return node.emitError() << "per-row zero point " << zpType << " does not match A "
                                << type;
      zp = buildReshape(builder, loc, zp, {zpType.getDimSize(0), 1});
      zpType = cast<RankedTensorType>(zp.getType());
    }
    std::optional<SmallVector<int64_t>> shape =
        broadcastShapes({type.getShape(), zpType.getShape()});
    if (!shape || ArrayRef<int64_t>(*shape) != type.getShape())
      return node.emitError() << "zero point " << zpType << " does not broadcast to " << type;
    operands.push_back(zp);
  }
  Value result = buildElementwise(
      builder, loc, operands, type.getShape(), i32,
      [&](OpBuilder &b, Location l, ValueRange args) {
        auto extend = [&](Value v) -> Value {
          if (isUnsigned)
            return arith::ExtUIOp::create(b, l, i32, v);
          return arith::ExtSIOp::create(b, l, i32, v);
        };
        Value v = extend(args[0]);
        if (args.size() > 1)
          v = arith::SubIOp::create(b, l, v, extend(args[1]));
        return v;
      });
  return result;
}

LogicalResult mlir::sqz::import::importMatMulInteger(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 4)))
    return failure();
  for (unsigned i = 0; i < 2; ++i)
    if (!isInt8DType(node.getInputDType(i)))
      return node.emitError() << "input " << i << " must be uint8 or int8, got '"
                              << getDTypeName(node.getInputDType(i)) << "'";
  RankedTensorType aType = node.getInputType(0);
  RankedTensorType bType = node.getInputType(1);
  FailureOr<Value> a = buildCentered(node, 0, 2, /*rowZeroPoint=*/true);
  if (failed(a))
    return failure();
  FailureOr<Value> b = buildCentered(node, 1, 3, /*rowZeroPoint=*/false);
  if (failed(b))
    return failure();
  Value result = buildOnnxMatmul(node.getBuilder(), node.getLoc(), *a, *b);
  if (!result)
    return node.emitError() << "cannot multiply " << aType << " by " << bType;
  node.setResult(0, result, onnx::TensorProto::INT32);
  return success();
}

/// onnxruntime's quantization parameters of the range [min, max] (already including 0).
static void hostQuantParams(float minValue, float maxValue, float &scale, uint8_t &zeroPoint) {
  scale = maxValue == minValue ? 1.0f : (maxValue - minValue) / 255.0f;
  float initial = 0.0f - minValue / scale;
  initial = std::max(0.0f, std::min(255.0f, initial));
  zeroPoint = static_cast<uint8_t>(std::nearbyint(initial));
}

LogicalResult mlir::sqz::import::importDynamicQuantizeLinear(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  if (node.getInputDType(0) != onnx::TensorProto::FLOAT)
    return node.emitError() << "input must be float, got '" << getDTypeName(node.getInputDType(0))
                            << "'";
  RankedTensorType type = node.getInputType(0);
  ArrayRef<int64_t> shape = type.getShape();
  Type f32 = node.getBuilder().getF32Type();
  Type i8 = node.getBuilder().getIntegerType(8);

  // All constant: fold on the host.
  if (const HostTensor *x = node.getConstantInput(0)) {
    float minValue = 0.0f, maxValue = 0.0f;
    for (int64_t i = 0, e = x->getNumElements(); i < e; ++i) {
      float v = static_cast<float>(x->getDouble(i));
      minValue = std::min(minValue, v);
      maxValue = std::max(maxValue, v);
    }
    float scale;
    uint8_t zp;
    hostQuantParams(minValue, maxValue, scale, zp);
    HostTensor y = HostTensor::allocate(node.getNode().output(0), onnx::TensorProto::UINT8, shape);
    for (int64_t i = 0, e = x->getNumElements(); i < e; ++i) {
      float q = std::nearbyint(static_cast<float>(x->getDouble(i)) / scale) + float(zp);
      y.setInt(i, static_cast<int64_t>(std::max(0.0f, std::min(255.0f, q))));
    }
    HostTensor scaleTensor = HostTensor::allocate("", onnx::TensorProto::FLOAT, {});
    scaleTensor.setDouble(0, scale);
    HostTensor zpTensor = HostTensor::allocate("", onnx::TensorProto::UINT8, {});
    zpTensor.setInt(0, zp);
    node.setConstantResult(0, std::move(y));
    node.setConstantResult(1, std::move(scaleTensor));
    if (node.getNode().output_size() > 2)
      node.setConstantResult(2, std::move(zpTensor));
    return success();
  }

  OpBuilder &builder = node.getBuilder();
  Location loc = node.getLoc();
  Value x = node.getInput(0);
  SmallVector<int64_t> allDims;
  for (int64_t d = 0, e = shape.size(); d < e; ++d)
    allDims.push_back(d);
  // Reductions start from 0, which puts 0 in the range. minimumf/maximumf propagate NaN.
  Value minValue = buildReduce(builder, loc, x, allDims, builder.getF32FloatAttr(0.0f),
                               [](OpBuilder &b, Location l, Value v, Value acc) {
                                 return arith::MinimumFOp::create(b, l, v, acc).getResult();
                               });
  Value maxValue = buildReduce(builder, loc, x, allDims, builder.getF32FloatAttr(0.0f),
                               [](OpBuilder &b, Location l, Value v, Value acc) {
                                 return arith::MaximumFOp::create(b, l, v, acc).getResult();
                               });
  auto computeScale = [&](OpBuilder &b, Location l, Value mn, Value mx) -> Value {
    Value range = arith::SubFOp::create(b, l, mx, mn);
    Value scale = arith::DivFOp::create(b, l, range, createScalar(b, l, f32, 255.0));
    Value same = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, mx, mn);
    return arith::SelectOp::create(b, l, same, createScalar(b, l, f32, 1.0), scale);
  };
  // Zero point as a float in [0, 255] holding an integer.
  auto computeZeroPoint = [&](OpBuilder &b, Location l, Value mn, Value scale) -> Value {
    Value initial = arith::SubFOp::create(b, l, createScalar(b, l, f32, 0.0),
                                          arith::DivFOp::create(b, l, mn, scale));
    initial = arith::MaximumFOp::create(b, l, initial, createScalar(b, l, f32, 0.0));
    initial = arith::MinimumFOp::create(b, l, initial, createScalar(b, l, f32, 255.0));
    return math::RoundEvenOp::create(b, l, initial);
  };
  Value scale = buildElementwise(builder, loc, {minValue, maxValue}, {}, f32,
                                 [&](OpBuilder &b, Location l, ValueRange args) {
                                   return computeScale(b, l, args[0], args[1]);
                                 });
  Value zeroPoint = buildElementwise(
      builder, loc, {minValue, maxValue}, {}, i8, [&](OpBuilder &b, Location l, ValueRange args) {
        Value s = computeScale(b, l, args[0], args[1]);
        return arith::FPToUIOp::create(b, l, i8, computeZeroPoint(b, l, args[0], s)).getResult();
      });
  Value y = buildElementwise(
      builder, loc, {x, scale, zeroPoint}, shape, i8,
      [&](OpBuilder &b, Location l, ValueRange args) {
        Value zp = arith::UIToFPOp::create(b, l, f32, args[2]);
        Value q = math::RoundEvenOp::create(b, l, arith::DivFOp::create(b, l, args[0], args[1]));
        q = arith::AddFOp::create(b, l, q, zp);
        q = arith::MaximumFOp::create(b, l, q, createScalar(b, l, f32, 0.0));
        q = arith::MinimumFOp::create(b, l, q, createScalar(b, l, f32, 255.0));
        return arith::FPToUIOp::create(b, l, i8, q).getResult();
      });
  node.setResult(0, y, onnx::TensorProto::UINT8);
  node.setResult(1, scale, onnx::TensorProto::FLOAT);
  if (node.getNode().output_size() > 2)
    node.setResult(2, zeroPoint, onnx::TensorProto::UINT8);
  return success();
}
