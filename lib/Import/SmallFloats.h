//===- SmallFloats.h - float8, float4 and bfloat16 conversions --*- C++ -*-===//
//
// ONNX's small float dtypes: FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ,
// FLOAT4E2M1 and BFLOAT16. The importer carries float8/float4 tensors as their bit patterns in
// i8 (LLVM cannot convert f8 types and would access f4 memory as i4) and bfloat16 as MLIR bf16.
// Every conversion to or from f32 is built here from integer bit manipulation (no LLVM float
// conversion of these types is ever needed), with a host version of each for import-time
// folding. Semantics follow the ONNX Cast specification: round to nearest even; with `saturate`,
// values beyond the largest finite value (and infinities, for formats without them) clamp to it;
// without it they become infinity (E5M2) or NaN (the FN/FNUZ formats); FLOAT4E2M1 always
// saturates, has no NaN and maps NaN to 0x7; bfloat16 follows IEEE (overflow to infinity).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_IMPORT_SMALLFLOATS_H
#define SQZ_LIB_IMPORT_SMALLFLOATS_H

#include "mlir/IR/Builders.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>
#include <optional>

namespace mlir::sqz::import {

/// A small binary float format: sign, `exponentBits`, `mantissaBits`, exponent `bias`.
struct SmallFloatFormat {
  /// How the format spends its top codes.
  enum class Specials {
    IEEE,   ///< all-ones exponent: infinity (mantissa 0) or NaN (E5M2, bfloat16)
    FN,     ///< no infinity; S.1111.111 is NaN (E4M3FN)
    FNUZ,   ///< no infinity, no negative zero; 0x80 is the only NaN (E4M3FNUZ, E5M2FNUZ)
    None,   ///< no infinity, no NaN (E2M1)
  };
  int32_t dtype;
  unsigned exponentBits;
  unsigned mantissaBits;
  int bias;
  Specials specials;

  unsigned getWidth() const { return 1 + exponentBits + mantissaBits; }
  /// The code of the largest finite magnitude (sign bit clear).
  uint32_t getMaxFiniteCode() const;
  /// The code a NaN becomes (for None: 0x7, as ONNX's reference does).
  uint32_t getNaNCode(bool negative) const;
};

/// The format of an ONNX small float dtype (16 bfloat16, 17-20 float8, 23 float4e2m1), or
/// std::nullopt.
std::optional<SmallFloatFormat> getSmallFloatFormat(int32_t dtype);
/// The float8/float4 dtypes, carried as bit patterns in i8 (not bfloat16, carried as bf16).
bool isBitPatternFloatDType(int32_t dtype);

//--- Host conversions (import-time folding; the reference for the IR builders).

/// The value of `code` (the low `getWidth()` bits are used).
float decodeSmallFloat(const SmallFloatFormat &format, uint32_t code);
/// `value` rounded to the format (ONNX Cast semantics, see the file comment).
uint32_t encodeSmallFloat(const SmallFloatFormat &format, float value, bool saturate);

//--- IR builders (scalar arith on integers; used inside linalg.generic bodies).

/// The f32 value of `code`: an i8 bit pattern (float8/float4) or a bf16 value.
Value buildSmallFloatToF32(OpBuilder &b, Location loc, const SmallFloatFormat &format,
                           Value code);
/// `value` (f32) in the format: an i8 bit pattern (float8/float4) or a bf16 value.
Value buildF32ToSmallFloat(OpBuilder &b, Location loc, const SmallFloatFormat &format,
                           Value value, bool saturate);

} // namespace mlir::sqz::import

#endif // SQZ_LIB_IMPORT_SMALLFLOATS_H
