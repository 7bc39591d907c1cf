//===- DTypeTest.cpp - Tests for element type helpers ---------------------===//

#include "Runtime/DType.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>

using namespace sqz::runtime;

namespace {

TEST(DTypeTest, NamesAndSizes) {
  const char *names[] = {"float16", "float32", "float64", "int8",
                         "int16",   "int32",   "int64",   "uint8",
                         "uint16",  "uint32",  "uint64",  "bool"};
  size_t sizes[] = {2, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8, 1};
  for (size_t i = 0; i < 12; ++i) {
    DType type = kAllDTypes[i];
    EXPECT_STREQ(dtypeName(type), names[i]);
    EXPECT_EQ(dtypeSize(type), sizes[i]) << names[i];
    EXPECT_EQ(parseDTypeName(names[i]), type);
  }
  EXPECT_FALSE(parseDTypeName("float"));
  EXPECT_FALSE(parseDTypeName("Float32"));
  EXPECT_FALSE(parseDTypeName("bfloat16"));
  EXPECT_STREQ(dtypeNpyDescr(DType::Bool), "|b1");
  EXPECT_STREQ(dtypeNpyDescr(DType::UInt64), "<u8");
  EXPECT_TRUE(isFloatDType(DType::Float16));
  EXPECT_FALSE(isFloatDType(DType::Int64));
  EXPECT_FALSE(isFloatDType(DType::Bool));
}

TEST(DTypeTest, FormatTensorType) {
  EXPECT_EQ(formatTensorType(DType::Float32, {4, 16}), "float32[4,16]");
  EXPECT_EQ(formatTensorType(DType::Bool, {}), "bool[]");
  EXPECT_EQ(formatTensorType(DType::Int64, {0}), "int64[0]");
}

TEST(DTypeTest, ComputeTensorSize) {
  size_t elements = 99, bytes = 99;
  ASSERT_TRUE(computeTensorSize(DType::Float64, {2, 3, 4}, elements, bytes));
  EXPECT_EQ(elements, 24u);
  EXPECT_EQ(bytes, 192u);
  ASSERT_TRUE(computeTensorSize(DType::Int8, {}, elements, bytes));
  EXPECT_EQ(elements, 1u);
  EXPECT_EQ(bytes, 1u);
  // A zero dimension makes the product 0 even after a would-be overflow.
  ASSERT_TRUE(computeTensorSize(DType::Float32, {INT64_MAX, INT64_MAX, 0},
                                elements, bytes));
  EXPECT_EQ(bytes, 0u);

  Status s = computeTensorSize(DType::Float32, {3, -1}, elements, bytes);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "negative dimension in shape float32[3,-1]");
  s = computeTensorSize(DType::Float32, {1ll << 31, 1ll << 31, 4}, elements,
                        bytes);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("too large"), std::string::npos);
  // The element count fits, the byte size does not.
  EXPECT_FALSE(
      computeTensorSize(DType::Float64, {1ll << 62}, elements, bytes).ok());
}

TEST(DTypeTest, HalfToFloat) {
  EXPECT_EQ(halfToFloat(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(halfToFloat(0x8000)));
  EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(halfToFloat(0x3e00), 1.5f);
  EXPECT_EQ(halfToFloat(0xc000), -2.0f);
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(halfToFloat(0x0400), std::ldexp(1.0f, -14)); // smallest normal
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24)); // smallest subnormal
  EXPECT_EQ(halfToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(halfToFloat(0x8200), -std::ldexp(512.0f, -24));
  EXPECT_EQ(halfToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(halfToFloat(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(halfToFloat(0x7e00)));
  EXPECT_TRUE(std::isnan(halfToFloat(0x7c01)));
}

} // namespace
