//===- SmallFloatsTest.cpp - Tests of the float8/float4/bfloat16 conversions ===//
//
// The host conversions of SmallFloats.h (which import-time folding uses and which spell out the
// same algorithm the IR builders emit) against llvm::APFloat, an independent implementation of
// the formats: every code decodes to APFloat's value; every finite float in range rounds to
// APFloat's nearest-even code; and the ONNX saturate/NaN/infinity table holds.
//
//===----------------------------------------------------------------------===//

#include "SmallFloats.h"

#include "llvm/ADT/APFloat.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace mlir::sqz::import;

namespace {

struct Case {
  int32_t dtype;
  const llvm::fltSemantics &(*semantics)();
};

const Case kCases[] = {
    {16, llvm::APFloat::BFloat},
    {17, llvm::APFloat::Float8E4M3FN},
    {18, llvm::APFloat::Float8E4M3FNUZ},
    {19, llvm::APFloat::Float8E5M2},
    {20, llvm::APFloat::Float8E5M2FNUZ},
    {23, llvm::APFloat::Float4E2M1FN},
};

float fromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

/// APFloat's value of `code` in the format, as a float.
float apDecode(const Case &c, const SmallFloatFormat &format, uint32_t code) {
  llvm::APFloat value(c.semantics(), llvm::APInt(format.getWidth(), code));
  bool losesInfo = false;
  value.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven, &losesInfo);
  return value.convertToFloat();
}

TEST(SmallFloats, DecodesEveryCodeAsAPFloat) {
  for (const Case &c : kCases) {
    std::optional<SmallFloatFormat> format = getSmallFloatFormat(c.dtype);
    ASSERT_TRUE(format) << c.dtype;
    for (uint32_t code = 0; code < (1u << format->getWidth()); ++code) {
      float got = decodeSmallFloat(*format, code);
      float want = apDecode(c, *format, code);
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got)) << "dtype " << c.dtype << " code " << code;
        continue;
      }
      EXPECT_EQ(got, want) << "dtype " << c.dtype << " code " << code;
      EXPECT_EQ(std::signbit(got), std::signbit(want)) << "dtype " << c.dtype << " code " << code;
    }
  }
}

TEST(SmallFloats, RoundsToNearestEvenAsAPFloat) {
  for (const Case &c : kCases) {
    SmallFloatFormat format = *getSmallFloatFormat(c.dtype);
    float maxFinite = decodeSmallFloat(format, format.getMaxFiniteCode());
    unsigned checked = 0;
    // A stride through every finite float32 bit pattern of either sign, plus the codes' own
    // values and the midpoints between neighbouring codes (the ties).
    std::vector<float> values;
    for (uint64_t bits = 0; bits < 0x7F800000u; bits += 0x1235) {
      values.push_back(fromBits(static_cast<uint32_t>(bits)));
      values.push_back(-fromBits(static_cast<uint32_t>(bits)));
    }
    uint32_t magCodes = 1u << (format.exponentBits + format.mantissaBits);
    for (uint32_t code = 0; code + 1 < magCodes; ++code) {
      float lo = decodeSmallFloat(format, code), hi = decodeSmallFloat(format, code + 1);
      if (!std::isfinite(lo) || !std::isfinite(hi))
        continue;
      values.insert(values.end(), {lo, hi, (lo + hi) / 2, -(lo + hi) / 2,
                                   std::nextafter((lo + hi) / 2, hi),
                                   std::nextafter((lo + hi) / 2, lo)});
    }
    for (float value : values) {
      if (std::fabs(value) > maxFinite)
        continue; // overflow: see SaturationTable
      llvm::APFloat ap(value);
      bool losesInfo = false;
      ap.convert(c.semantics(), llvm::APFloat::rmNearestTiesToEven, &losesInfo);
      uint32_t want = static_cast<uint32_t>(ap.bitcastToAPInt().getZExtValue());
      for (bool saturate : {false, true}) {
        uint32_t got = encodeSmallFloat(format, value, saturate);
        ASSERT_EQ(got, want) << "dtype " << c.dtype << " value " << value << " saturate "
                             << saturate;
      }
      ++checked;
    }
    EXPECT_GT(checked, 1000u) << c.dtype;
  }
}

TEST(SmallFloats, SaturationTable) {
  // ONNX Cast: with saturate, beyond the largest finite value (and ±inf for E4M3FN/E5M2) clamps;
  // without, E5M2 overflows to ±inf, the FN/FNUZ formats to NaN. FNUZ has a single NaN (0x80)
  // and no negative zero; float4 always saturates and maps NaN to 0x7; bfloat16 is IEEE.
  float inf = std::numeric_limits<float>::infinity();
  float nan = std::numeric_limits<float>::quiet_NaN();
  auto encode = [](int32_t dtype, float value, bool saturate) {
    return encodeSmallFloat(*getSmallFloatFormat(dtype), value, saturate);
  };
  // E4M3FN: max 448 (0x7E), NaN 0x7F/0xFF.
  EXPECT_EQ(encode(17, 1e6f, true), 0x7Eu);
  EXPECT_EQ(encode(17, -1e6f, true), 0xFEu);
  EXPECT_EQ(encode(17, inf, true), 0x7Eu);
  EXPECT_EQ(encode(17, -inf, true), 0xFEu);
  EXPECT_EQ(encode(17, 1e6f, false), 0x7Fu);
  EXPECT_EQ(encode(17, -inf, false), 0xFFu);
  EXPECT_EQ(encode(17, 464.0f, false), 0x7Eu); // the tie between 448 and 480 rounds to even
  EXPECT_EQ(encode(17, 465.0f, false), 0x7Fu);
  EXPECT_EQ(encode(17, nan, true), 0x7Fu);
  EXPECT_EQ(encode(17, -0.0f, true), 0x80u);
  // E5M2: max 57344 (0x7B), inf 0x7C.
  EXPECT_EQ(encode(19, 1e6f, true), 0x7Bu);
  EXPECT_EQ(encode(19, inf, true), 0x7Bu);
  EXPECT_EQ(encode(19, 1e6f, false), 0x7Cu);
  EXPECT_EQ(encode(19, -inf, false), 0xFCu);
  EXPECT_EQ(encode(19, nan, false), 0x7Fu);
  // FNUZ: infinities are NaN even when saturating; no negative zero.
  for (int32_t dtype : {18, 20}) {
    EXPECT_EQ(encode(dtype, inf, true), 0x80u);
    EXPECT_EQ(encode(dtype, -inf, false), 0x80u);
    EXPECT_EQ(encode(dtype, 1e6f, true), 0x7Fu);
    EXPECT_EQ(encode(dtype, -1e6f, true), 0xFFu);
    EXPECT_EQ(encode(dtype, 1e6f, false), 0x80u);
    EXPECT_EQ(encode(dtype, nan, true), 0x80u);
    EXPECT_EQ(encode(dtype, -0.0f, true), 0x00u);
    EXPECT_EQ(encode(dtype, -1e-30f, true), 0x00u); // rounds to zero: no -0
  }
  // float4e2m1: max 6 (0x7), always saturating, NaN -> 0x7.
  EXPECT_EQ(encode(23, 100.0f, false), 0x7u);
  EXPECT_EQ(encode(23, -inf, false), 0xFu);
  EXPECT_EQ(encode(23, nan, false), 0x7u);
  EXPECT_EQ(encode(23, 0.25f, true), 0x0u); // ties to even
  EXPECT_EQ(encode(23, 0.75f, true), 0x2u);
  EXPECT_EQ(encode(23, 2.5f, true), 0x4u);
  // bfloat16: round to nearest even, overflow to inf, NaN stays quiet.
  EXPECT_EQ(encode(16, fromBits(0x3F808000u), false), 0x3F80u); // tie, even
  EXPECT_EQ(encode(16, fromBits(0x3F818000u), false), 0x3F82u); // tie, up to even
  EXPECT_EQ(encode(16, fromBits(0x7F7FFFFFu), false), 0x7F80u);
  EXPECT_EQ(encode(16, -inf, false), 0xFF80u);
  EXPECT_EQ(encode(16, nan, false), 0x7FC0u);
  EXPECT_EQ(encode(16, fromBits(0x00018000u), false), 0x0002u); // subnormal tie
}

} // namespace
