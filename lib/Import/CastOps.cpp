//===- CastOps.cpp - ONNX Cast and CastLike ---------------------------------===//
//
// Cast and CastLike between every dtype the importer carries: floats (float16/32/64), bfloat16
// (MLIR bf16), the float8/float4 bit patterns (i8), signed and unsigned integers (uint* are
// signless, see isUnsignedDType), int4/uint4/int2/uint2 (one i8 per element) and bool. The
// conversion folds on the host for an import-time constant, otherwise it is one elementwise
// `linalg.generic`. Semantics:
//   - float to integer truncates toward zero; integer to float rounds; anything non-zero
//     (NaN too) is true; bool and unsigned integers widen unsigned;
//   - to int4/uint4/int2/uint2 the integer value wraps to the low 4 (2) bits, as ONNX's
//     reference does (float sources are truncated toward zero first);
//   - bfloat16, float8 and float4 convert through f32 with SmallFloats.h (round to nearest even;
//     the `saturate` attribute, default 1, decides float8 overflow; float4 always saturates).
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"
#include "SmallFloats.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <cmath>

using namespace mlir;
using namespace mlir::sqz::import;

/// The bit width of the values of an integer dtype (4 for int4 carried in i8), else 0.
static unsigned getSubByteBits(int32_t dtype) {
  if (dtype == kOnnxInt4 || dtype == kOnnxUInt4)
    return 4;
  if (dtype == kOnnxInt2 || dtype == kOnnxUInt2)
    return 2;
  return 0;
}

/// Whether a dtype's elements are read as floats (f16/f32/f64, bf16, float8/float4 codes).
static bool isFloatLike(int32_t dtype) {
  return isFloatDType(dtype) || getSmallFloatFormat(dtype).has_value();
}

/// An integer `x` of `type` reduced to its low `bits` bits, sign-extended (signed) or
/// zero-extended again.
static Value wrapToBits(OpBuilder &b, Location loc, Value x, unsigned bits, bool isSigned) {
  Type type = x.getType();
  unsigned width = type.getIntOrFloatBitWidth();
  Value shift = arith::ConstantOp::create(b, loc, b.getIntegerAttr(type, width - bits));
  Value high = arith::ShLIOp::create(b, loc, x, shift);
  if (isSigned)
    return arith::ShRSIOp::create(b, loc, high, shift);
  return arith::ShRUIOp::create(b, loc, high, shift);
}

/// The scalar conversion of ONNX Cast from dtype `from` to dtype `to` (see the file comment).
static Value buildCastScalar(OpBuilder &b, Location loc, Value x, int32_t from, int32_t to,
                             Type toType, bool saturate) {
  Type f32 = b.getF32Type();
  // Small float sources are read as f32.
  if (std::optional<SmallFloatFormat> format = getSmallFloatFormat(from)) {
    x = buildSmallFloatToF32(b, loc, *format, x);
    from = onnx::TensorProto::FLOAT;
  }
  Type fromType = x.getType();
  bool toBool = to == onnx::TensorProto::BOOL;
  bool fromUnsigned = isUnsignedDType(from) || from == onnx::TensorProto::BOOL;

  // Small float targets are written from f32.
  if (std::optional<SmallFloatFormat> format = getSmallFloatFormat(to)) {
    Value value = x;
    if (auto fromFloat = dyn_cast<FloatType>(fromType)) {
      if (fromFloat.getWidth() < 32)
        value = arith::ExtFOp::create(b, loc, f32, x);
      else if (fromFloat.getWidth() > 32)
        value = arith::TruncFOp::create(b, loc, f32, x);
    } else {
      value = fromUnsigned ? arith::UIToFPOp::create(b, loc, f32, x).getResult()
                           : arith::SIToFPOp::create(b, loc, f32, x).getResult();
    }
    return buildF32ToSmallFloat(b, loc, *format, value, saturate);
  }

  if (auto fromFloat = dyn_cast<FloatType>(fromType)) {
    if (toBool) {
      Value zero = createScalar(b, loc, fromType, 0.0);
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, x, zero);
    }
    if (auto toFloat = dyn_cast<FloatType>(toType)) {
      if (toFloat.getWidth() > fromFloat.getWidth())
        return arith::ExtFOp::create(b, loc, toType, x);
      if (toFloat.getWidth() < fromFloat.getWidth())
        return arith::TruncFOp::create(b, loc, toType, x);
      return x;
    }
    if (unsigned bits = getSubByteBits(to)) {
      // Truncate toward zero in i32, then wrap to the code width.
      Value wide = arith::FPToSIOp::create(b, loc, b.getI32Type(), x);
      Value wrapped = wrapToBits(b, loc, wide, bits, !isUnsignedDType(to));
      return arith::TruncIOp::create(b, loc, toType, wrapped);
    }
    if (isUnsignedDType(to))
      return arith::FPToUIOp::create(b, loc, toType, x);
    return arith::FPToSIOp::create(b, loc, toType, x);
  }
  if (toBool) {
    Value zero = createScalar(b, loc, fromType, 0.0);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x, zero);
  }
  if (isa<FloatType>(toType))
    return fromUnsigned ? arith::UIToFPOp::create(b, loc, toType, x).getResult()
                        : arith::SIToFPOp::create(b, loc, toType, x).getResult();
  unsigned fromWidth = fromType.getIntOrFloatBitWidth(), toWidth = toType.getIntOrFloatBitWidth();
  Value result = x;
  if (toWidth > fromWidth)
    result = fromUnsigned ? arith::ExtUIOp::create(b, loc, toType, x).getResult()
                          : arith::ExtSIOp::create(b, loc, toType, x).getResult();
  else if (toWidth < fromWidth)
    result = arith::TruncIOp::create(b, loc, toType, x);
  if (unsigned bits = getSubByteBits(to))
    result = wrapToBits(b, loc, result, bits, !isUnsignedDType(to));
  return result;
}

/// Host version of `buildCastScalar` for element `i` of `data` into `result`.
static void castHostElement(const HostTensor &data, int64_t i, HostTensor &result, bool saturate) {
  int32_t from = data.dtype, to = result.dtype;
  if (isFloatLike(from)) {
    double value = data.getDouble(i);
    if (to == onnx::TensorProto::BOOL) {
      result.setInt(i, value != 0.0 ? 1 : 0); // NaN is true
    } else if (std::optional<SmallFloatFormat> format = getSmallFloatFormat(to)) {
      uint32_t code = encodeSmallFloat(*format, static_cast<float>(value), saturate);
      if (to == onnx::TensorProto::BFLOAT16)
        result.setDouble(i, decodeSmallFloat(*format, code));
      else
        result.getMutableData()[i] = static_cast<char>(code);
    } else if (isFloatDType(to)) {
      result.setDouble(i, value);
    } else if (std::isfinite(value)) {
      int64_t truncated = static_cast<int64_t>(std::trunc(value));
      if (unsigned bits = getSubByteBits(to)) {
        int64_t low = truncated & ((int64_t(1) << bits) - 1);
        if (!isUnsignedDType(to) && low >= (int64_t(1) << (bits - 1)))
          low -= int64_t(1) << bits;
        truncated = low;
      }
      result.setInt(i, truncated);
    } else {
      result.setInt(i, 0);
    }
    return;
  }
  int64_t value = data.getInt(i);
  if (isFloatLike(to)) {
    double converted = data.dtype == onnx::TensorProto::UINT64
                           ? static_cast<double>(static_cast<uint64_t>(value))
                           : static_cast<double>(value);
    if (std::optional<SmallFloatFormat> format = getSmallFloatFormat(to);
        format && to != onnx::TensorProto::BFLOAT16)
      result.getMutableData()[i] = static_cast<char>(
          encodeSmallFloat(*format, static_cast<float>(converted), saturate));
    else
      result.setDouble(i, converted);
    return;
  }
  if (unsigned bits = getSubByteBits(to)) {
    int64_t low = value & ((int64_t(1) << bits) - 1);
    if (!isUnsignedDType(to) && low >= (int64_t(1) << (bits - 1)))
      low -= int64_t(1) << bits;
    value = low;
  }
  result.setInt(i, value); // setInt wraps to the target width
}

/// Result 0 is input 0 converted to dtype `to` (Cast, CastLike).
static LogicalResult castInput(NodeContext &node, int32_t to) {
  Type toType = getElementType(node.getContext(), to);
  if (!toType)
    return node.emitError() << "unsupported target dtype '" << getDTypeName(to) << "'";
  FailureOr<int64_t> saturateAttr = node.getIntAttr("saturate", 1);
  if (failed(saturateAttr))
    return failure();
  bool saturate = *saturateAttr != 0;
  int32_t from = node.getInputDType(0);
  RankedTensorType inputType = node.getInputType(0);

  if (const HostTensor *data = node.getConstantInput(0)) {
    HostTensor result = HostTensor::allocate("", to, data->shape);
    for (int64_t i = 0, e = data->getNumElements(); i < e; ++i)
      castHostElement(*data, i, result, saturate);
    node.setConstantResult(0, std::move(result));
    return success();
  }
  if (from == to) {
    node.forwardInput(0, 0);
    return success();
  }
  Value input = node.getInput(0);
  // int8 <-> uint8, int4 -> int8 and the like: same bits (not for bool, small floats, or
  // codes narrower than their carrier, which wrap).
  bool sameBits = inputType.getElementType() == toType && from != onnx::TensorProto::BOOL &&
                  to != onnx::TensorProto::BOOL && !getSmallFloatFormat(from) &&
                  !getSmallFloatFormat(to) && getSubByteBits(to) == 0;
  if (sameBits) {
    node.setResult(0, input, to);
    return success();
  }
  Value result = buildElementwise(node.getBuilder(), node.getLoc(), {input}, inputType.getShape(),
                                  toType, [&](OpBuilder &b, Location loc, ValueRange args) {
                                    return buildCastScalar(b, loc, args[0], from, to, toType,
                                                           saturate);
                                  });
  node.setResult(0, result, to);
  return success();
}

LogicalResult mlir::sqz::import::importCast(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  if (!node.getAttr("to"))
    return node.emitError() << "attribute 'to' is required";
  FailureOr<int64_t> to = node.getIntAttr("to", 0);
  if (failed(to))
    return failure();
  return castInput(node, static_cast<int32_t>(*to));
}

LogicalResult mlir::sqz::import::importCastLike(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  return castInput(node, node.getInputDType(1));
}
