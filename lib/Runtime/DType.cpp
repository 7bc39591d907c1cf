//===- DType.cpp - Element types known to the runtime ---------------------===//

#include "Runtime/DType.h"

#include <cstdint>
#include <cstring>

using namespace sqz::runtime;

namespace {
struct DTypeInfo {
  DType type;
  const char *name;
  const char *npyDescr;
  size_t size;
};
} // namespace

// Indexed by the enum value; the static_assert in dtypeInfo keeps them aligned.
static const DTypeInfo kInfos[] = {
    {DType::Float16, "float16", "<f2", 2},
    {DType::Float32, "float32", "<f4", 4},
    {DType::Float64, "float64", "<f8", 8},
    {DType::Int8, "int8", "|i1", 1},
    {DType::Int16, "int16", "<i2", 2},
    {DType::Int32, "int32", "<i4", 4},
    {DType::Int64, "int64", "<i8", 8},
    {DType::UInt8, "uint8", "|u1", 1},
    {DType::UInt16, "uint16", "<u2", 2},
    {DType::UInt32, "uint32", "<u4", 4},
    {DType::UInt64, "uint64", "<u8", 8},
    {DType::Bool, "bool", "|b1", 1},
};

const DType sqz::runtime::kAllDTypes[12] = {
    DType::Float16, DType::Float32, DType::Float64, DType::Int8,
    DType::Int16,   DType::Int32,   DType::Int64,   DType::UInt8,
    DType::UInt16,  DType::UInt32,  DType::UInt64,  DType::Bool,
};

static const DTypeInfo &dtypeInfo(DType type) {
  static_assert(sizeof(kInfos) / sizeof(kInfos[0]) == 12,
                "one entry per DType");
  return kInfos[static_cast<size_t>(type)];
}

const char *sqz::runtime::dtypeName(DType type) { return dtypeInfo(type).name; }

size_t sqz::runtime::dtypeSize(DType type) { return dtypeInfo(type).size; }

const char *sqz::runtime::dtypeNpyDescr(DType type) {
  return dtypeInfo(type).npyDescr;
}

bool sqz::runtime::isFloatDType(DType type) {
  return type == DType::Float16 || type == DType::Float32 ||
         type == DType::Float64;
}

std::optional<DType> sqz::runtime::parseDTypeName(std::string_view name) {
  for (const DTypeInfo &info : kInfos)
    if (name == info.name)
      return info.type;
  return std::nullopt;
}

std::string sqz::runtime::listDTypeNames() {
  std::string result;
  for (const DTypeInfo &info : kInfos) {
    if (!result.empty())
      result += ", ";
    result += info.name;
  }
  return result;
}

std::string sqz::runtime::formatTensorType(DType type,
                                           const std::vector<int64_t> &shape) {
  std::string result = dtypeName(type);
  result += '[';
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      result += ',';
    result += std::to_string(shape[i]);
  }
  result += ']';
  return result;
}

Status sqz::runtime::computeTensorSize(DType type,
                                       const std::vector<int64_t> &shape,
                                       size_t &numElements, size_t &numBytes) {
  // Any zero dimension makes the tensor empty, but the other dimensions must
  // still be valid, so check them all before multiplying.
  for (int64_t dim : shape)
    if (dim < 0)
      return Status::error("negative dimension in shape " +
                           formatTensorType(type, shape));
  size_t count = 1;
  bool overflow = false;
  for (int64_t dim : shape) {
    if (dim == 0) {
      count = 0;
      overflow = false;
      break;
    }
    if (static_cast<uint64_t>(dim) > SIZE_MAX / count)
      overflow = true;
    else
      count *= static_cast<size_t>(dim);
  }
  if (overflow || count > SIZE_MAX / dtypeSize(type))
    return Status::error("tensor " + formatTensorType(type, shape) +
                         " is too large");
  numElements = count;
  numBytes = count * dtypeSize(type);
  return Status::success();
}

float sqz::runtime::halfToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  uint32_t result;
  if (exponent == 0x1f) {
    // Inf or NaN: keep the payload.
    result = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    result = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    result = sign;
  } else {
    // Subnormal half: normalize it, it is a normal float.
    int shift = 0;
    while (!(mantissa & 0x400u)) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ffu;
    result = sign | (static_cast<uint32_t>(127 - 15 + 1 - shift) << 23) |
             (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &result, sizeof(f));
  return f;
}
