//===- QuantizeOps.cpp - ONNX QuantizeLinear/DequantizeLinear, MatMulNBits
//-===//
//
// Static (QDQ) quantization:
//   QuantizeLinear(x, y_scale[, y_zero_point])   y = saturate(round_half_even(x
//   / scale) + zp) DequantizeLinear(x, x_scale[, x_zero_point]) y = (x - zp) ·
//   scale
// with per-tensor (scale of rank 0 or shape [1]), per-axis (opset 13: 1-D scale
// of size x.shape[axis]) and block-wise (opset 21: `block_size` > 0, scale of
// x's rank with ceil(x.shape[axis] / block_size) along `axis`) parameters.
// Codes are int8/uint8, int16/uint16, int4/uint4 and int2/uint2; int32 codes
// dequantize too. float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz) and float4e2m1
// codes have no rounding to an integer: QuantizeLinear converts x / scale (+
// zero point) to the format (SmallFloats.h; `saturate`, default 1, decides
// float8 overflow), DequantizeLinear converts the code to f32. Arithmetic is in
// f32 (float16 scales are extended and the result truncated back).
//
// A DequantizeLinear whose inputs are all import-time constants (a quantized
// weight) folds to a float constant on the host, so DQ(W) → MatMul still
// becomes a `sqz.linear`. Runtime Q/DQ become one `linalg.generic` (block-wise
// parameters are read with `tensor.extract` at the block index).
//
// com.microsoft MatMulNBits (onnxruntime's weight-only 2/4/8-bit block
// quantization):
//   A [..., K], B uint8 [N, k_blocks, blob_size] (codes packed low bits first
//   along K), scales [N·k_blocks] or [N, k_blocks], zero_points (packed uint8
//   [N·ceil(k_blocks·bits/8)], or unpacked in A's float dtype; default
//   2^(bits-1)), bias [N] Y = A · dequant(B)ᵀ + bias, dequant(B)[n, k] = (code
//   - zp[n, k/bs]) · scale[n, k/bs]
// The node becomes `sqz.quant_linear(A, codes, scales[, zeros], bias)` with the
// codes unpacked one per byte (already unsigned; group = block_size, bits 2/4/8
// -> int2/int4/int8) and zero points only when some differs from 2^(bits-1).
// Float zero points (not integers) keep the old path: B is dequantized on the
// host and the node becomes `sqz.linear(A, W, bias)`. g_idx is rejected.
//
// com.microsoft MatMulBnb4 (bitsandbytes 4-bit):
//   A [..., K], B uint8 [(N·K + 1) / 2] (the [N, K] weight flattened, two codes
//   a byte, the even flat index in the high nibble), absmax [ceil(N·K / bs)] of
//   A's dtype; Y = A · dequant(B)ᵀ, dequant(B)[n, k] = table[code] ·
//   absmax[(n·K + k) / bs] with quant_type 1 = NF4 (0 = FP4 is rejected).
// With K a multiple of block_size (a power of 2) the blocks are per-row groups
// and the node becomes `sqz.quant_linear` with format nf4 (group =
// block_size); blocks that span rows are rejected.
//
// A DequantizeLinear of constant int2/int4/int8 codes (signed or unsigned)
// that feeds a MatMul's B also becomes `sqz.quant_linear` when it is
// block-wise along axis 0 = K (opset 21, a power-of-2 block_size; group =
// block_size) or per-axis along axis 1 = N (opset 13, 1-D scales [N]; one group
// per output channel, group = -1): it folds to a float weight that remembers
// its codes (HostTensor::quantOrigin), and the MatMul builds the quantized
// linear from them (signed codes and zero points shifted by 2^(bits-1)).
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"
#include "QuantUtils.h"
#include "ShapeUtils.h"
#include "SmallFloats.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::sqz::import;

namespace {

/// The code range of an integer quantized dtype; false for other dtypes.
bool getCodeRange(int32_t dtype, int64_t &lo, int64_t &hi) {
  switch (dtype) {
  case onnx::TensorProto::INT8:
    lo = -128, hi = 127;
    return true;
  case onnx::TensorProto::UINT8:
    lo = 0, hi = 255;
    return true;
  case onnx::TensorProto::INT16:
    lo = -32768, hi = 32767;
    return true;
  case onnx::TensorProto::UINT16:
    lo = 0, hi = 65535;
    return true;
  case kOnnxInt4:
    lo = -8, hi = 7;
    return true;
  case kOnnxUInt4:
    lo = 0, hi = 15;
    return true;
  case kOnnxInt2:
    lo = -2, hi = 1;
    return true;
  case kOnnxUInt2:
    lo = 0, hi = 3;
    return true;
  default:
    return false;
  }
}

bool isUnsignedCode(int32_t dtype) { return isUnsignedDType(dtype); }

/// The float8/float4 format of a code dtype, or std::nullopt (integer codes).
std::optional<SmallFloatFormat> getFloatCodeFormat(int32_t dtype) {
  if (!isBitPatternFloatDType(dtype))
    return std::nullopt;
  return getSmallFloatFormat(dtype);
}

/// How scale/zero point elements map onto x.
struct QuantLayout {
  enum Kind { PerTensor, PerAxis, Blocked } kind = PerTensor;
  int64_t axis = 0;
  int64_t blockSize = 0;
  SmallVector<int64_t> xShape;
  SmallVector<int64_t> scaleShape;

  /// Flat scale index of flat x element `i`.
  int64_t scaleIndex(int64_t i) const {
    if (kind == PerTensor)
      return 0;
    int64_t inner = 1;
    for (size_t d = axis + 1; d < xShape.size(); ++d)
      inner *= xShape[d];
    int64_t dim = xShape[axis];
    int64_t a = (i / inner) % dim;
    if (kind == PerAxis)
      return a;
    int64_t outer = i / (inner * dim);
    int64_t blocks = scaleShape[axis];
    return (outer * blocks + a / blockSize) * inner + i % inner;
  }
};

/// Reads axis/block_size and checks the scale (input 1) and zero point (input
/// 2) shapes.
FailureOr<QuantLayout> getQuantLayout(NodeContext &node) {
  RankedTensorType xType = node.getInputType(0);
  RankedTensorType scaleType = node.getInputType(1);
  int64_t rank = xType.getRank();
  FailureOr<int64_t> axisAttr = node.getIntAttr("axis", 1);
  FailureOr<int64_t> blockAttr = node.getIntAttr("block_size", 0);
  if (failed(axisAttr) || failed(blockAttr))
    return failure();
  QuantLayout layout;
  layout.xShape.assign(xType.getShape().begin(), xType.getShape().end());
  layout.scaleShape.assign(scaleType.getShape().begin(),
                           scaleType.getShape().end());
  layout.blockSize = *blockAttr;
  if (*blockAttr < 0)
    return node.emitError()
           << "block_size must not be negative, got " << *blockAttr;
  if (*blockAttr > 0 && node.getOpset() < 21)
    return node.emitError() << "block_size needs opset 21 or newer";
  bool scalar = scaleType.getRank() == 0 ||
                (scaleType.getRank() == 1 && scaleType.getDimSize(0) == 1 &&
                 *blockAttr == 0);
  if (scalar) {
    if (*blockAttr > 0)
      return node.emitError()
             << "block_size " << *blockAttr
             << " needs a scale of the input's rank, got " << scaleType;
    layout.kind = QuantLayout::PerTensor;
  } else {
    int64_t axis = *axisAttr;
    if (axis < -rank || axis >= rank)
      return node.emitError()
             << "axis " << axis << " is out of range for input " << xType;
    axis = axis < 0 ? axis + rank : axis;
    layout.axis = axis;
    if (*blockAttr == 0) {
      if (scaleType.getRank() != 1 ||
          scaleType.getDimSize(0) != xType.getDimSize(axis))
        return node.emitError()
               << "scale " << scaleType << " does not match input " << xType
               << " along axis " << axis
               << " (per-axis scales are 1-D of the axis' size)";
      layout.kind = QuantLayout::PerAxis;
    } else {
      int64_t blocks = (xType.getDimSize(axis) + *blockAttr - 1) / *blockAttr;
      bool ok = scaleType.getRank() == rank;
      for (int64_t d = 0; ok && d < rank; ++d)
        ok = scaleType.getDimSize(d) ==
             (d == axis ? blocks : xType.getDimSize(d));
      if (!ok)
        return node.emitError()
               << "scale " << scaleType << " does not match input " << xType
               << " with block_size " << *blockAttr << " along axis " << axis
               << " (expected " << blocks << " blocks on that axis)";
      layout.kind = QuantLayout::Blocked;
    }
  }
  // (per-tensor parameters may mix shapes [] and [1])
  if (node.hasInput(2) &&
      node.getInputType(2).getShape() != scaleType.getShape() &&
      !(layout.kind == QuantLayout::PerTensor &&
        node.getInputType(2).getNumElements() == 1))
    return node.emitError()
           << "zero point " << node.getInputType(2)
           << " must have the shape of the scale " << scaleType;
  return layout;
}

/// `value` (a scale or zero point) as a computed tensor that broadcasts
/// numpy-style against x.
Value getBroadcastParam(NodeContext &node, unsigned index,
                        const QuantLayout &layout) {
  Value value = node.getInput(index);
  if (layout.kind == QuantLayout::PerTensor && layout.xShape.empty() &&
      cast<RankedTensorType>(value.getType()).getRank() == 1)
    return buildReshape(node.getBuilder(), node.getLoc(), value, {});
  if (layout.kind != QuantLayout::PerAxis)
    return value;
  SmallVector<int64_t> shape(layout.xShape.size(), 1);
  shape[layout.axis] = layout.xShape[layout.axis];
  return buildReshape(node.getBuilder(), node.getLoc(), value, shape);
}

/// One elementwise generic over x computing body(x, scale, zp) (zp may be
/// null).
Value buildQuantGeneric(
    NodeContext &node, const QuantLayout &layout, Type resultType,
    function_ref<Value(OpBuilder &, Location, Value, Value, Value)> body) {
  OpBuilder &builder = node.getBuilder();
  Location loc = node.getLoc();
  bool hasZp = node.hasInput(2);
  if (layout.kind != QuantLayout::Blocked) {
    SmallVector<Value> inputs = {node.getInput(0),
                                 getBroadcastParam(node, 1, layout)};
    if (hasZp)
      inputs.push_back(getBroadcastParam(node, 2, layout));
    return buildElementwise(builder, loc, inputs, layout.xShape, resultType,
                            [&](OpBuilder &b, Location l, ValueRange args) {
                              return body(b, l, args[0], args[1],
                                          hasZp ? args[2] : Value());
                            });
  }
  Value scale = node.getInput(1);
  Value zp = hasZp ? node.getInput(2) : Value();
  int64_t rank = layout.xShape.size();
  AffineMap identity =
      AffineMap::getMultiDimIdentityMap(rank, node.getContext());
  return buildIndexedGeneric(
      builder, loc, {node.getInput(0)}, {identity}, layout.xShape, resultType,
      [&](OpBuilder &b, Location l, ValueRange indices, ValueRange args) {
        SmallVector<Value> coords(indices.begin(), indices.end());
        Value bs = arith::ConstantIndexOp::create(b, l, layout.blockSize);
        coords[layout.axis] =
            arith::DivUIOp::create(b, l, coords[layout.axis], bs);
        Value s = tensor::ExtractOp::create(b, l, scale, coords);
        Value z = zp ? tensor::ExtractOp::create(b, l, zp, coords).getResult()
                     : Value();
        return body(b, l, args[0], s, z);
      });
}

/// An integer or float scalar converted to f32 (`isUnsigned` for integer
/// codes).
Value toF32(OpBuilder &b, Location loc, Value v, bool isUnsigned) {
  Type f32 = b.getF32Type();
  Type type = v.getType();
  if (type == f32)
    return v;
  if (isa<FloatType>(type))
    return arith::ExtFOp::create(b, loc, f32, v);
  if (isUnsigned)
    return arith::UIToFPOp::create(b, loc, f32, v);
  return arith::SIToFPOp::create(b, loc, f32, v);
}

/// Bits of an integer code dtype that `sqz.quant_linear` takes (2, 4, 8), else
/// 0.
int64_t getQuantLinearBits(int32_t dtype) {
  switch (dtype) {
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
    return 8;
  case kOnnxInt4:
  case kOnnxUInt4:
    return 4;
  case kOnnxInt2:
  case kOnnxUInt2:
    return 2;
  default:
    return 0;
  }
}

bool isPowerOf2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

/// The quantized form a folded DequantizeLinear weight `y` keeps, when it fits
/// sqz.quant_linear as the B operand [K, N] of a MatMul (see QuantUtils.h).
std::shared_ptr<const DequantizedWeightOrigin>
getDequantizedWeightOrigin(const QuantLayout &layout, const HostTensor &x,
                           const HostTensor &scale, const HostTensor *zp,
                           const HostTensor &y) {
  if (x.shape.size() != 2 || !getQuantLinearBits(x.dtype))
    return nullptr;
  // Blocks along K (axis 0 of B [K, N]) are the linear's groups; per-axis
  // scales along N (axis 1) are one group per output channel. Per-tensor
  // weights, blocks along N and per-axis scales along K keep the float path.
  bool blocked = layout.kind == QuantLayout::Blocked && layout.axis == 0 &&
                 isPowerOf2(layout.blockSize);
  bool perChannel = layout.kind == QuantLayout::PerAxis && layout.axis == 1;
  if (!blocked && !perChannel)
    return nullptr;
  auto origin = std::make_shared<DequantizedWeightOrigin>();
  origin->group = blocked ? layout.blockSize : -1;
  origin->codes = x;
  origin->scale = scale;
  if (zp)
    origin->zeroPoint = *zp;
  origin->weightData = y.data.data();
  return origin;
}

/// `sqz.quant_linear(input, codes, scales[, zeros], bias)` from unpacked host
/// tensors: codes [N, K] and zeros [N, groups] (unsigned, in uint8 tensors),
/// scales [N, groups] f32. The zero points are dropped (symmetric scheme) when
/// all equal 2^(bits-1). `nf4` selects the NF4 format (4-bit table codes, no
/// zero points) instead of int`bits`.
Value buildQuantLinear(NodeContext &node, Value input, HostTensor codes,
                       HostTensor scales, std::optional<HostTensor> zeros,
                       Value bias, int64_t bits, int64_t group,
                       bool nf4 = false) {
  MLIRContext *ctx = node.getContext();
  if (zeros) {
    bool allDefault = true;
    for (int64_t i = 0, e = zeros->getNumElements(); i < e && allDefault; ++i)
      allDefault = zeros->getInt(i) == (int64_t(1) << (bits - 1));
    if (allDefault)
      zeros.reset();
  }
  sqz::QuantFormat format = nf4         ? sqz::QuantFormat::NF4
                            : bits == 8 ? sqz::QuantFormat::Int8
                            : bits == 4 ? sqz::QuantFormat::Int4
                                        : sqz::QuantFormat::Int2;
  auto quant = sqz::QuantAttr::get(ctx, format, group, /*symmetric=*/!zeros);
  int64_t n = codes.shape[0];
  Value codesValue = node.createConstant(std::move(codes));
  Value scalesValue = node.createConstant(std::move(scales));
  Value zerosValue = zeros ? node.createConstant(std::move(*zeros)) : Value();
  auto inputType = cast<RankedTensorType>(input.getType());
  SmallVector<int64_t> shape(inputType.getShape().drop_back());
  shape.push_back(n);
  auto resultType = RankedTensorType::get(shape, inputType.getElementType());
  return sqz::QuantLinearOp::create(node.getBuilder(), node.getLoc(),
                                    resultType, input, codesValue, scalesValue,
                                    zerosValue, bias, quant)
      .getResult();
}

} // namespace

Value mlir::sqz::import::buildDequantizedMatMul(NodeContext &node,
                                                const HostTensor &weight) {
  const DequantizedWeightOrigin *origin = weight.quantOrigin.get();
  if (!origin || origin->weightData != weight.data.data() ||
      ArrayRef<int64_t>(weight.shape) != ArrayRef<int64_t>(origin->codes.shape))
    return Value();
  const HostTensor &x = origin->codes;
  int64_t k = x.shape[0], n = x.shape[1];
  int64_t bits = getQuantLinearBits(x.dtype);
  int64_t shift = isUnsignedDType(x.dtype) ? 0 : int64_t(1) << (bits - 1);
  int64_t groups =
      origin->group < 0 ? 1 : (k + origin->group - 1) / origin->group;
  std::string base = origin->codes.name;
  HostTensor codes =
      HostTensor::allocate(base + ".codes", onnx::TensorProto::UINT8, {n, k});
  HostTensor scales = HostTensor::allocate(
      base + ".scales", onnx::TensorProto::FLOAT, {n, groups});
  HostTensor zeros = HostTensor::allocate(
      base + ".zeros", onnx::TensorProto::UINT8, {n, groups});
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col)
      codes.setInt(col * k + row, x.getInt(row * n + col) + shift);
  for (int64_t col = 0; col < n; ++col) {
    for (int64_t g = 0; g < groups; ++g) {
      // Scale and zero point are [groups, N] (block-wise) or [N] (per-axis).
      int64_t at = g * n + col;
      scales.setDouble(col * groups + g,
                       static_cast<float>(origin->scale.getDouble(at)));
      int64_t zp = origin->zeroPoint ? origin->zeroPoint->getInt(at) : 0;
      zeros.setInt(col * groups + g, zp + shift);
    }
  }
  return buildQuantLinear(node, node.getInput(0), std::move(codes),
                          std::move(scales), std::move(zeros), Value(), bits,
                          origin->group);
}

LogicalResult mlir::sqz::import::importDequantizeLinear(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 3)))
    return failure();
  int32_t xDType = node.getInputDType(0);
  int32_t scaleDType = node.getInputDType(1);
  int64_t lo, hi;
  bool isInt32 = xDType == onnx::TensorProto::INT32;
  std::optional<SmallFloatFormat> floatCode = getFloatCodeFormat(xDType);
  if (!getCodeRange(xDType, lo, hi) && !isInt32 && !floatCode)
    return node.emitError()
           << "unsupported quantized dtype '" << getDTypeName(xDType) << "'";
  if (!isFloatDType(scaleDType))
    return node.emitError() << "scale must be a float tensor, got '"
                            << getDTypeName(scaleDType) << "'";
  if (node.hasInput(2) && node.getInputDType(2) != xDType)
    return node.emitError()
           << "zero point dtype '" << getDTypeName(node.getInputDType(2))
           << "' differs from the input's '" << getDTypeName(xDType) << "'";
  FailureOr<QuantLayout> layout = getQuantLayout(node);
  if (failed(layout))
    return failure();

  // A quantized weight: dequantize on the host.
  const HostTensor *x = node.getConstantInput(0);
  const HostTensor *scale = node.getConstantInput(1);
  const HostTensor *zp = node.hasInput(2) ? node.getConstantInput(2) : nullptr;
  if (x && scale && (zp || !node.hasInput(2))) {
    HostTensor y = HostTensor::allocate(node.getNode().output(0), scaleDType,
                                        layout->xShape);
    for (int64_t i = 0, e = y.getNumElements(); i < e; ++i) {
      int64_t s = layout->scaleIndex(i);
      float code =
          floatCode ? static_cast<float>(x->getDouble(i)) - (zp ? static_cast<float>(zp->getDouble(s)) : 0.0f)
                    : static_cast<float>(x->getInt(i) - (zp ? zp->getInt(s) : 0));
      y.setDouble(i, code * static_cast<float>(scale->getDouble(s)));
    }
    y.quantOrigin = getDequantizedWeightOrigin(*layout, *x, *scale, zp, y);
    node.setConstantResult(0, std::move(y));
    return success();
  }

  bool isUnsigned = isUnsignedCode(xDType);
  Type resultType = getElementType(node.getContext(), scaleDType);
  Value y = buildQuantGeneric(
      node, *layout, resultType,
      [&](OpBuilder &b, Location l, Value xv, Value s, Value z) {
        auto codeToF32 = [&](Value code) {
          return floatCode ? buildSmallFloatToF32(b, l, *floatCode, code)
                           : toF32(b, l, code, isUnsigned);
        };
        Value v = codeToF32(xv);
        if (z)
          v = arith::SubFOp::create(b, l, v, codeToF32(z));
        v = arith::MulFOp::create(b, l, v, toF32(b, l, s, false));
        if (resultType != b.getF32Type())
          v = arith::TruncFOp::create(b, l, resultType, v);
        return v;
      });
  node.setResult(0, y, scaleDType);
  return success();
}

LogicalResult mlir::sqz::import::importQuantizeLinear(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 3)))
    return failure();
  int32_t xDType = node.getInputDType(0);
  int32_t scaleDType = node.getInputDType(1);
  if (!isFloatDType(xDType) && xDType != onnx::TensorProto::INT32)
    return node.emitError() << "input must be float or int32, got '"
                            << getDTypeName(xDType) << "'";
  if (!isFloatDType(scaleDType))
    return node.emitError() << "scale must be a float tensor, got '"
                            << getDTypeName(scaleDType) << "'";
  FailureOr<int64_t> outputDType = node.getIntAttr("output_dtype", 0);
  if (failed(outputDType))
    return failure();
  int32_t yDType = onnx::TensorProto::UINT8;
  if (node.hasInput(2)) {
    yDType = node.getInputDType(2);
    if (*outputDType != 0 && *outputDType != yDType)
      return node.emitError()
             << "output_dtype " << *outputDType << " ('"
             << getDTypeName(static_cast<int32_t>(*outputDType))
             << "') differs from the zero point's dtype '"
             << getDTypeName(yDType) << "'";
  } else if (*outputDType != 0) {
    yDType = static_cast<int32_t>(*outputDType);
  }
  int64_t lo = 0, hi = 0;
  std::optional<SmallFloatFormat> floatCode = getFloatCodeFormat(yDType);
  FailureOr<int64_t> saturateAttr = node.getIntAttr("saturate", 1);
  if (failed(saturateAttr))
    return failure();
  bool saturate = *saturateAttr != 0;
  if ((!getCodeRange(yDType, lo, hi) && !floatCode) ||
      !getElementType(node.getContext(), yDType))
    return node.emitError()
           << "unsupported quantized dtype '" << getDTypeName(yDType) << "'";
  FailureOr<QuantLayout> layout = getQuantLayout(node);
  if (failed(layout))
    return failure();

  // All constant: quantize on the host (round half to even, saturate).
  const HostTensor *x = node.getConstantInput(0);
  const HostTensor *scale = node.getConstantInput(1);
  const HostTensor *zp = node.hasInput(2) ? node.getConstantInput(2) : nullptr;
  if (x && scale && (zp || !node.hasInput(2))) {
    HostTensor y =
        HostTensor::allocate(node.getNode().output(0), yDType, layout->xShape);
    for (int64_t i = 0, e = y.getNumElements(); i < e; ++i) {
      int64_t s = layout->scaleIndex(i);
      if (floatCode) {
        float q = static_cast<float>(x->getDouble(i)) / static_cast<float>(scale->getDouble(s));
        if (zp)
          q += static_cast<float>(zp->getDouble(s));
        y.getMutableData()[i] = static_cast<char>(encodeSmallFloat(*floatCode, q, saturate));
        continue;
      }
      float q = std::nearbyint(static_cast<float>(x->getDouble(i)) /
                               static_cast<float>(scale->getDouble(s)));
      q += static_cast<float>(zp ? zp->getInt(s) : 0);
      q = std::max(static_cast<float>(lo), std::min(static_cast<float>(hi), q));
      y.setInt(i, static_cast<int64_t>(q));
    }
    node.setConstantResult(0, std::move(y));
    return success();
  }

  bool isUnsigned = isUnsignedCode(yDType);
  Type codeType = getElementType(node.getContext(), yDType);
  Value y = buildQuantGeneric(
      node, *layout, codeType,
      [&](OpBuilder &b, Location l, Value xv, Value s, Value z) {
        Type f32 = b.getF32Type();
        Value v = arith::DivFOp::create(b, l, toF32(b, l, xv, false),
                                        toF32(b, l, s, false));
        if (floatCode) {
          // float8/float4: x / scale (+ zero point) rounded to the format.
          if (z)
            v = arith::AddFOp::create(b, l, v,
                                      buildSmallFloatToF32(b, l, *floatCode, z));
          return buildF32ToSmallFloat(b, l, *floatCode, v, saturate);
        }
        v = math::RoundEvenOp::create(b, l, v);
        if (z)
          v = arith::AddFOp::create(b, l, v, toF32(b, l, z, isUnsigned));
        // Saturate (a NaN input is unspecified by ONNX for integer codes).
        v = arith::MaximumFOp::create(
            b, l, v, createScalar(b, l, f32, static_cast<double>(lo)));
        v = arith::MinimumFOp::create(
            b, l, v, createScalar(b, l, f32, static_cast<double>(hi)));
        if (isUnsigned)
          return arith::FPToUIOp::create(b, l, codeType, v).getResult();
        return arith::FPToSIOp::create(b, l, codeType, v).getResult();
      });
  node.setResult(0, y, yDType);
  return success();
}

//===----------------------------------------------------------------------===//
// Packed N-bit codes (QuantUtils.h)
//===----------------------------------------------------------------------===//

int64_t mlir::sqz::import::getPackedCode(const HostTensor &bytes, int64_t index,
                                         int64_t bits) {
  int64_t perByte = 8 / bits;
  int64_t byte = bytes.getInt(index / perByte);
  return (byte >> ((index % perByte) * bits)) & ((int64_t(1) << bits) - 1);
}

void mlir::sqz::import::dequantizePackedRows(
    const HostTensor &codes, int64_t rowStride, int64_t rows, int64_t cols,
    int64_t bits, int64_t blockSize,
    llvm::function_ref<float(int64_t, int64_t)> scale,
    llvm::function_ref<float(int64_t, int64_t)> zero, HostTensor &out) {
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t start = 0, blk = 0; start < cols; start += blockSize, ++blk) {
      float s = scale(row, blk);
      float z = zero(row, blk);
      int64_t end = std::min(start + blockSize, cols);
      for (int64_t col = start; col < end; ++col) {
        int64_t code = getPackedCode(codes, row * rowStride + col, bits);
        out.setDouble(row * cols + col, (static_cast<float>(code) - z) * s);
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// com.microsoft MatMulNBits
//===----------------------------------------------------------------------===//

LogicalResult mlir::sqz::import::importMatMulNBits(NodeContext &node) {
  if (failed(node.checkNumInputs(3, 6)))
    return failure();
  FailureOr<int64_t> kAttr = node.getIntAttr("K", -1);
  FailureOr<int64_t> nAttr = node.getIntAttr("N", -1);
  FailureOr<int64_t> bitsAttr = node.getIntAttr("bits", 4);
  FailureOr<int64_t> blockAttr = node.getIntAttr("block_size", -1);
  if (failed(kAttr) || failed(nAttr) || failed(bitsAttr) || failed(blockAttr))
    return failure();
  int64_t k = *kAttr, n = *nAttr, bits = *bitsAttr, blockSize = *blockAttr;
  if (k <= 0 || n <= 0)
    return node.emitError()
           << "attributes K and N must be positive, got K=" << k << " N=" << n;
  if (bits != 2 && bits != 4 && bits != 8)
    return node.emitError() << "bits must be 2, 4 or 8, got " << bits;
  if (blockSize < 16 || (blockSize & (blockSize - 1)) != 0)
    return node.emitError()
           << "block_size must be a power of 2 and at least 16, got "
           << blockSize;
  if (node.hasInput(4))
    return node.emitError() << "g_idx (input 4) is not supported";
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError()
           << "A must be a float tensor, got '" << getDTypeName(dtype) << "'";
  RankedTensorType aType = node.getInputType(0);
  if (aType.getRank() < 1 || aType.getShape().back() != k)
    return node.emitError()
           << "the last dim of A " << aType << " must be K=" << k;

  int64_t blocks = (k + blockSize - 1) / blockSize;
  int64_t blobSize = blockSize * bits / 8;
  const HostTensor *b = node.getConstantInput(1);
  const HostTensor *scales = node.getConstantInput(2);
  if (!b || !scales)
    return node.emitError() << "B and scales must be import-time constants";
  if (b->dtype != onnx::TensorProto::UINT8 ||
      ArrayRef<int64_t>(b->shape) != ArrayRef<int64_t>({n, blocks, blobSize}))
    return node.emitError()
           << "B must be uint8 [N, k_blocks, blob_size] = [" << n << ", "
           << blocks << ", " << blobSize << "], got " << node.getInputType(1);
  if (scales->dtype != dtype || scales->getNumElements() != n * blocks ||
      (scales->shape.size() != 1 && scales->shape.size() != 2))
    return node.emitError()
           << "scales must have A's dtype and shape [N * k_blocks] or [N, "
           << "k_blocks] = [" << n << ", " << blocks << "], got "
           << node.getInputType(2);

  // Zero points: default 2^(bits-1); packed uint8 rows of ceil(blocks·bits/8)
  // bytes, or floats.
  const HostTensor *zp = nullptr;
  bool floatZp = false;
  int64_t zpRowBytes = (blocks * bits + 7) / 8;
  if (node.hasInput(3)) {
    zp = node.getConstantInput(3);
    if (!zp)
      return node.emitError() << "zero_points must be an import-time constant";
    if (zp->dtype == onnx::TensorProto::UINT8) {
      if (zp->getNumElements() != n * zpRowBytes)
        return node.emitError()
               << "packed uint8 zero_points must have N * ceil(k_blocks * bits "
               << "/ 8) = " << n * zpRowBytes << " elements, got "
               << node.getInputType(3);
    } else if (zp->dtype == dtype) {
      if (zp->getNumElements() != n * blocks)
        return node.emitError()
               << "float zero_points must have N * k_blocks = " << n * blocks
               << " elements, got " << node.getInputType(3);
      floatZp = true;
    } else {
      return node.emitError() << "zero_points must be uint8 or A's dtype, got '"
                              << getDTypeName(zp->dtype) << "'";
    }
  }
  const HostTensor *bias = nullptr;
  if (node.hasInput(5)) {
    bias = node.getConstantInput(5);
    RankedTensorType biasType = node.getInputType(5);
    if (node.getInputDType(5) != dtype || biasType.getRank() != 1 ||
        biasType.getDimSize(0) != n)
      return node.emitError() << "bias must be [N] = [" << n
                              << "] of A's dtype, got " << biasType;
  }

  int64_t perByte = 8 / bits;
  Value biasValue = bias || node.hasInput(5) ? node.getInput(5) : Value();
  if (!floatZp) {
    // sqz.quant_linear: unpack the codes and zero points, one per byte.
    HostTensor codes = HostTensor::allocate(node.getNode().input(1) + ".codes",
                                            onnx::TensorProto::UINT8, {n, k});
    HostTensor scalesF32 =
        HostTensor::allocate(node.getNode().input(2) + ".scales",
                             onnx::TensorProto::FLOAT, {n, blocks});
    std::optional<HostTensor> zeros;
    if (zp)
      zeros = HostTensor::allocate(node.getNode().input(3) + ".zeros",
                                   onnx::TensorProto::UINT8, {n, blocks});
    for (int64_t row = 0; row < n; ++row) {
      for (int64_t col = 0; col < k; ++col)
        codes.setInt(row * k + col,
                     getPackedCode(*b, row * blocks * blockSize + col, bits));
      for (int64_t blk = 0; blk < blocks; ++blk) {
        scalesF32.setDouble(
            row * blocks + blk,
            static_cast<float>(scales->getDouble(row * blocks + blk)));
        if (zeros)
          zeros->setInt(
              row * blocks + blk,
              getPackedCode(*zp, row * zpRowBytes * perByte + blk, bits));
      }
    }
    Value y = buildQuantLinear(node, node.getInput(0), std::move(codes),
                               std::move(scalesF32), std::move(zeros),
                               biasValue, bits, blockSize);
    node.setResult(0, y, dtype);
    return success();
  }

  // Float zero points: dequantize B into W [N, K] (sqz.linear's weight layout).
  HostTensor w = HostTensor::allocate(node.getNode().input(1), dtype, {n, k});
  dequantizePackedRows(
      *b, blocks * blockSize, n, k, bits, blockSize,
      [&](int64_t row, int64_t blk) {
        return static_cast<float>(scales->getDouble(row * blocks + blk));
      },
      [&](int64_t row, int64_t blk) {
        if (zp && floatZp)
          return static_cast<float>(zp->getDouble(row * blocks + blk));
        if (zp)
          return static_cast<float>(
              getPackedCode(*zp, row * zpRowBytes * perByte + blk, bits));
        return static_cast<float>(int64_t(1) << (bits - 1));
      },
      w);
  Value weight = node.createConstant(std::move(w));
  SmallVector<int64_t> shape(aType.getShape().drop_back());
  shape.push_back(n);
  auto resultType = RankedTensorType::get(shape, aType.getElementType());
  Value y = sqz::LinearOp::create(node.getBuilder(), node.getLoc(), resultType,
                                  node.getInput(0), weight, biasValue,
                                  /*sparsity=*/sqz::SparsityAttr())
                .getResult();
  node.setResult(0, y, dtype);
  return success();
}

//===----------------------------------------------------------------------===//
// com.microsoft MatMulBnb4
//===----------------------------------------------------------------------===//

LogicalResult mlir::sqz::import::importMatMulBnb4(NodeContext &node) {
  if (failed(node.checkNumInputs(3, 3)))
    return failure();
  FailureOr<int64_t> kAttr = node.getIntAttr("K", -1);
  FailureOr<int64_t> nAttr = node.getIntAttr("N", -1);
  FailureOr<int64_t> blockAttr = node.getIntAttr("block_size", -1);
  FailureOr<int64_t> typeAttr = node.getIntAttr("quant_type", -1);
  FailureOr<int64_t> transBAttr = node.getIntAttr("transB", 1);
  FailureOr<int64_t> trainingAttr = node.getIntAttr("training_mode", 0);
  if (failed(kAttr) || failed(nAttr) || failed(blockAttr) || failed(typeAttr) ||
      failed(transBAttr) || failed(trainingAttr))
    return failure();
  int64_t k = *kAttr, n = *nAttr, blockSize = *blockAttr;
  if (k <= 0 || n <= 0)
    return node.emitError()
           << "attributes K and N must be positive, got K=" << k << " N=" << n;
  if (*typeAttr == 0)
    return node.emitError() << "quant_type 0 (FP4) is not supported; only 1 "
                               "(NF4) imports";
  if (*typeAttr != 1)
    return node.emitError()
           << "quant_type must be 0 (FP4) or 1 (NF4), got " << *typeAttr;
  if (*transBAttr != 1)
    return node.emitError() << "transB must be 1 (B holds the [N, K] weight), "
                               "got "
                            << *transBAttr;
  if (*trainingAttr != 0)
    return node.emitError() << "training_mode must be 0, got " << *trainingAttr;
  if (!isPowerOf2(blockSize))
    return node.emitError()
           << "block_size must be a positive power of 2, got " << blockSize;
  // The absmax blocks run over the flattened [N, K] weight; sqz.quant_linear
  // groups are per row, so every block must lie inside one row.
  if (k % blockSize != 0)
    return node.emitError()
           << "block_size " << blockSize << " does not divide K=" << k
           << ": its absmax blocks span weight rows, which sqz.quant_linear's "
              "per-row groups cannot express";
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError()
           << "A must be a float tensor, got '" << getDTypeName(dtype) << "'";
  RankedTensorType aType = node.getInputType(0);
  if (aType.getRank() < 1 || aType.getShape().back() != k)
    return node.emitError()
           << "the last dim of A " << aType << " must be K=" << k;

  int64_t blocksPerRow = k / blockSize;
  const HostTensor *b = node.getConstantInput(1);
  const HostTensor *absmax = node.getConstantInput(2);
  if (!b || !absmax)
    return node.emitError() << "B and absmax must be import-time constants";
  if (b->dtype != onnx::TensorProto::UINT8 || b->shape.size() != 1 ||
      b->shape[0] != (n * k + 1) / 2)
    return node.emitError()
           << "B must be uint8 [(N * K + 1) / 2] = [" << (n * k + 1) / 2
           << "], got " << node.getInputType(1);
  if (absmax->dtype != dtype || absmax->shape.size() != 1 ||
      absmax->shape[0] != n * blocksPerRow)
    return node.emitError()
           << "absmax must have A's dtype and shape [N * K / block_size] = ["
           << n * blocksPerRow << "], got " << node.getInputType(2);

  // Codes: flat index i = row·K + col, byte i / 2, even i in the high nibble.
  HostTensor codes = HostTensor::allocate(node.getNode().input(1) + ".codes",
                                          onnx::TensorProto::UINT8, {n, k});
  for (int64_t i = 0, e = n * k; i < e; ++i) {
    int64_t byte = b->getInt(i / 2);
    codes.setInt(i, (i % 2 == 0 ? byte >> 4 : byte) & 0xF);
  }
  HostTensor scales =
      HostTensor::allocate(node.getNode().input(2) + ".scales",
                           onnx::TensorProto::FLOAT, {n, blocksPerRow});
  for (int64_t i = 0, e = n * blocksPerRow; i < e; ++i)
    scales.setDouble(i, static_cast<float>(absmax->getDouble(i)));
  Value y = buildQuantLinear(node, node.getInput(0), std::move(codes),
                             std::move(scales), std::nullopt, Value(),
                             /*bits=*/4, blockSize, /*nf4=*/true);
  node.setResult(0, y, dtype);
  return success();
}
