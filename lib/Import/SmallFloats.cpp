//===- SmallFloats.cpp - float8, float4 and bfloat16 conversions -----------===//
//
// See SmallFloats.h. Both directions work on the f32 bit pattern:
//   decode: a normal code's exponent is re-biased and its mantissa shifted into place; a
//           subnormal code is man · 2^(1 - bias - M) (exact in f32); the sign bit is copied.
//   encode: a magnitude at or above the format's smallest normal rounds to nearest even by
//           adding 2^(s-1) - 1 + (bit s of the input) to the f32 bits and shifting right by
//           s = 23 - M (a carry moves into the exponent, as it should), then the exponent is
//           re-biased; a smaller magnitude is scaled by 2^(M - 1 + bias) (exact) and rounded
//           to an integer, which is the subnormal code (2^M when it rounds up to the smallest
//           normal, which is that code). Codes above the largest finite code are overflow.
// bfloat16 has f32's exponent range, so it only needs the first branch of each.
//
//===----------------------------------------------------------------------===//

#include "SmallFloats.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include "onnx/onnx_pb.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::sqz::import;

using Specials = SmallFloatFormat::Specials;

std::optional<SmallFloatFormat> mlir::sqz::import::getSmallFloatFormat(int32_t dtype) {
  switch (dtype) {
  case 16: // BFLOAT16
    return SmallFloatFormat{dtype, 8, 7, 127, Specials::IEEE};
  case 17: // FLOAT8E4M3FN
    return SmallFloatFormat{dtype, 4, 3, 7, Specials::FN};
  case 18: // FLOAT8E4M3FNUZ
    return SmallFloatFormat{dtype, 4, 3, 8, Specials::FNUZ};
  case 19: // FLOAT8E5M2
    return SmallFloatFormat{dtype, 5, 2, 15, Specials::IEEE};
  case 20: // FLOAT8E5M2FNUZ
    return SmallFloatFormat{dtype, 5, 2, 16, Specials::FNUZ};
  case 23: // FLOAT4E2M1
    return SmallFloatFormat{dtype, 2, 1, 1, Specials::None};
  default:
    return std::nullopt;
  }
}

bool mlir::sqz::import::isBitPatternFloatDType(int32_t dtype) {
  return (dtype >= 17 && dtype <= 20) || dtype == 23;
}

uint32_t SmallFloatFormat::getMaxFiniteCode() const {
  uint32_t magMask = (1u << (exponentBits + mantissaBits)) - 1;
  switch (specials) {
  case Specials::IEEE:
    return (((1u << exponentBits) - 2) << mantissaBits) | ((1u << mantissaBits) - 1);
  case Specials::FN:
    return magMask - 1;
  case Specials::FNUZ:
  case Specials::None:
    return magMask;
  }
  llvm_unreachable("unknown specials");
}

uint32_t SmallFloatFormat::getNaNCode(bool negative) const {
  uint32_t signBit = 1u << (exponentBits + mantissaBits);
  uint32_t sign = negative ? signBit : 0;
  switch (specials) {
  case Specials::IEEE:
    if (exponentBits == 8) // bfloat16: f32's quiet NaN, truncated
      return 0x7FC0 | sign;
    return (signBit - 1) | sign;
  case Specials::FN:
    return (signBit - 1) | sign;
  case Specials::FNUZ:
    return signBit;
  case Specials::None:
    return 0x7;
  }
  llvm_unreachable("unknown specials");
}

/// The f32 bits of the smallest normal magnitude of the format.
static uint32_t getMinNormalBits(const SmallFloatFormat &format) {
  return static_cast<uint32_t>(127 + 1 - format.bias) << 23;
}

static uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

static float bitsFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

float mlir::sqz::import::decodeSmallFloat(const SmallFloatFormat &format, uint32_t code) {
  unsigned e = format.exponentBits, m = format.mantissaBits;
  uint32_t signBit = 1u << (e + m);
  code &= (signBit << 1) - 1;
  uint32_t sign = (code & signBit) << (31 - (e + m));
  uint32_t mag = code & (signBit - 1);
  uint32_t exponent = mag >> m, mantissa = mag & ((1u << m) - 1);
  if (e == 8)
    return bitsFloat(code << 16);
  switch (format.specials) {
  case Specials::IEEE:
    if (exponent == (1u << e) - 1)
      return bitsFloat(sign | (mantissa ? 0x7FC00000u : 0x7F800000u));
    break;
  case Specials::FN:
    if (mag == signBit - 1)
      return bitsFloat(sign | 0x7FC00000u);
    break;
  case Specials::FNUZ:
    if (code == signBit)
      return bitsFloat(0x7FC00000u);
    break;
  case Specials::None:
    break;
  }
  float magnitude =
      exponent == 0
          ? std::ldexp(static_cast<float>(mantissa), 1 - format.bias - static_cast<int>(m))
          : bitsFloat((mag << (23 - m)) + (static_cast<uint32_t>(127 - format.bias) << 23));
  return bitsFloat(floatBits(magnitude) | sign);
}

uint32_t mlir::sqz::import::encodeSmallFloat(const SmallFloatFormat &format, float value,
                                             bool saturate) {
  unsigned e = format.exponentBits, m = format.mantissaBits;
  uint32_t signBit = 1u << (e + m);
  uint32_t bits = floatBits(value);
  bool negative = bits >> 31;
  uint32_t sign = negative ? signBit : 0;
  uint32_t abs = bits & 0x7FFFFFFFu;
  if (format.specials == Specials::None)
    saturate = true;
  if (abs > 0x7F800000u)
    return format.getNaNCode(negative);
  if (abs == 0x7F800000u && format.specials == Specials::FNUZ)
    return format.getNaNCode(negative);
  uint32_t mag;
  unsigned shift = 23 - m;
  if (e == 8 || abs >= getMinNormalBits(format)) {
    uint32_t rounded = abs + ((1u << (shift - 1)) - 1) + ((abs >> shift) & 1);
    mag = (rounded >> shift) - (static_cast<uint32_t>(127 - format.bias) << m);
  } else {
    float scaled = std::ldexp(bitsFloat(abs), static_cast<int>(m) - 1 + format.bias);
    mag = static_cast<uint32_t>(std::nearbyint(scaled));
  }
  uint32_t maxFinite = format.getMaxFiniteCode();
  if (mag > maxFinite) {
    if (saturate)
      return maxFinite | sign;
    if (format.specials == Specials::IEEE)
      return (((1u << e) - 1) << m) | sign;
    return format.getNaNCode(negative);
  }
  if (format.specials == Specials::FNUZ && mag == 0)
    return 0;
  return mag | sign;
}

//===----------------------------------------------------------------------===//
// IR builders
//===----------------------------------------------------------------------===//

namespace {
/// Scalar i32 arithmetic at one location.
struct I32Builder {
  OpBuilder &b;
  Location loc;

  Value c(uint32_t value) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(static_cast<int32_t>(value)));
  }
  Value andI(Value x, uint32_t mask) { return arith::AndIOp::create(b, loc, x, c(mask)); }
  Value orI(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, uint32_t y) { return arith::SubIOp::create(b, loc, x, c(y)); }
  Value shl(Value x, unsigned n) { return arith::ShLIOp::create(b, loc, x, c(n)); }
  Value shr(Value x, unsigned n) { return arith::ShRUIOp::create(b, loc, x, c(n)); }
  Value cmp(arith::CmpIPredicate predicate, Value x, uint32_t y) {
    return arith::CmpIOp::create(b, loc, predicate, x, c(y));
  }
  Value select(Value condition, Value x, Value y) {
    return arith::SelectOp::create(b, loc, condition, x, y);
  }
  Value select(Value condition, uint32_t x, Value y) { return select(condition, c(x), y); }
  Value toF32(Value x) { return arith::BitcastOp::create(b, loc, b.getF32Type(), x); }
  Value fromF32(Value x) { return arith::BitcastOp::create(b, loc, b.getI32Type(), x); }
};
} // namespace

Value mlir::sqz::import::buildSmallFloatToF32(OpBuilder &b, Location loc,
                                              const SmallFloatFormat &format, Value code) {
  I32Builder i{b, loc};
  unsigned e = format.exponentBits, m = format.mantissaBits;
  if (e == 8) { // bfloat16: the upper half of an f32
    Value bits16 = arith::BitcastOp::create(b, loc, b.getI16Type(), code);
    Value bits = arith::ExtUIOp::create(b, loc, b.getI32Type(), bits16);
    return i.toF32(i.shl(bits, 16));
  }
  uint32_t signBit = 1u << (e + m);
  Value bits = i.andI(arith::ExtUIOp::create(b, loc, b.getI32Type(), code), (signBit << 1) - 1);
  Value sign = i.shl(i.andI(bits, signBit), 31 - (e + m));
  Value mag = i.andI(bits, signBit - 1);
  Value mantissa = i.andI(mag, (1u << m) - 1);
  Value normal = i.add(i.shl(mag, 23 - m), i.c(static_cast<uint32_t>(127 - format.bias) << 23));
  Value subnormal = arith::MulFOp::create(
      b, loc, arith::UIToFPOp::create(b, loc, b.getF32Type(), mantissa),
      arith::ConstantOp::create(
          b, loc,
          b.getF32FloatAttr(std::ldexp(1.0f, 1 - format.bias - static_cast<int>(m)))));
  Value isSubnormal = i.cmp(arith::CmpIPredicate::ult, mag, 1u << m);
  Value result = i.orI(i.select(isSubnormal, i.fromF32(subnormal), normal), sign);
  switch (format.specials) {
  case Specials::IEEE: {
    Value special = i.cmp(arith::CmpIPredicate::uge, mag, ((1u << e) - 1) << m);
    Value isNaN = i.cmp(arith::CmpIPredicate::ne, mantissa, 0);
    Value value = i.orI(i.select(isNaN, 0x7FC00000u, i.c(0x7F800000u)), sign);
    result = i.select(special, value, result);
    break;
  }
  case Specials::FN:
    result = i.select(i.cmp(arith::CmpIPredicate::eq, mag, signBit - 1),
                      i.orI(i.c(0x7FC00000u), sign), result);
    break;
  case Specials::FNUZ:
    result = i.select(i.cmp(arith::CmpIPredicate::eq, bits, signBit), 0x7FC00000u, result);
    break;
  case Specials::None:
    break;
  }
  return i.toF32(result);
}

Value mlir::sqz::import::buildF32ToSmallFloat(OpBuilder &b, Location loc,
                                              const SmallFloatFormat &format, Value value,
                                              bool saturate) {
  I32Builder i{b, loc};
  unsigned e = format.exponentBits, m = format.mantissaBits;
  uint32_t signBit = 1u << (e + m);
  if (format.specials == Specials::None)
    saturate = true;
  Value bits = i.fromF32(value);
  Value abs = i.andI(bits, 0x7FFFFFFFu);
  Value isNegative = i.cmp(arith::CmpIPredicate::slt, bits, 0);
  Value sign = i.shr(i.andI(bits, 0x80000000u), 31 - (e + m));

  // Round to nearest even (see the file comment).
  unsigned shift = 23 - m;
  Value rounded = i.add(i.add(abs, i.c((1u << (shift - 1)) - 1)), i.andI(i.shr(abs, shift), 1));
  Value mag = i.sub(i.shr(rounded, shift), static_cast<uint32_t>(127 - format.bias) << m);
  if (e != 8) {
    Value scaled = arith::MulFOp::create(
        b, loc, i.toF32(abs),
        arith::ConstantOp::create(
            b, loc, b.getF32FloatAttr(std::ldexp(1.0f, static_cast<int>(m) - 1 + format.bias))));
    Value subnormal = arith::FPToUIOp::create(b, loc, b.getI32Type(),
                                              math::RoundEvenOp::create(b, loc, scaled));
    Value isSubnormal = i.cmp(arith::CmpIPredicate::ult, abs, getMinNormalBits(format));
    mag = i.select(isSubnormal, subnormal, mag);
  }

  uint32_t maxFinite = format.getMaxFiniteCode();
  Value result = i.orI(mag, sign);
  if (format.specials == Specials::FNUZ) // no negative zero
    result = i.select(i.cmp(arith::CmpIPredicate::eq, mag, 0), 0u, result);
  Value overflowCode;
  if (saturate)
    overflowCode = i.orI(i.c(maxFinite), sign);
  else if (format.specials == Specials::IEEE)
    overflowCode = i.orI(i.c(((1u << e) - 1) << m), sign);
  else
    overflowCode = i.select(isNegative, format.getNaNCode(true), i.c(format.getNaNCode(false)));
  result = i.select(i.cmp(arith::CmpIPredicate::ugt, mag, maxFinite), overflowCode, result);
  if (format.specials == Specials::FNUZ)
    result = i.select(i.cmp(arith::CmpIPredicate::eq, abs, 0x7F800000u), format.getNaNCode(false),
                      result);
  Value nanCode =
      i.select(isNegative, format.getNaNCode(true), i.c(format.getNaNCode(false)));
  result = i.select(i.cmp(arith::CmpIPredicate::ugt, abs, 0x7F800000u), nanCode, result);

  if (e == 8) {
    Value bits16 = arith::TruncIOp::create(b, loc, b.getI16Type(), result);
    return arith::BitcastOp::create(b, loc, b.getBF16Type(), bits16);
  }
  return arith::TruncIOp::create(b, loc, b.getI8Type(), result);
}
