//===- DType.h - Element types known to the runtime -------------*- C++ -*-===//
//
// The element types an artifact's inputs and outputs may have. The manifest and
// sqz-run name them with NumPy's names ("float32"), .npy files with NumPy's
// type strings ("<f4"); this file owns both spellings so they cannot drift.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_RUNTIME_DTYPE_H
#define SQZ_RUNTIME_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "Runtime/Status.h"

namespace sqz {
namespace runtime {

enum class DType : uint8_t {
  Float16,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  UInt8,
  UInt16,
  UInt32,
  UInt64,
  Bool,
};

/// Every DType, in declaration order (for tests and for listing valid names).
extern const DType kAllDTypes[12];

/// NumPy's name for the type, e.g. "float32". Also the manifest spelling.
const char *dtypeName(DType type);

/// Size of one element in bytes.
size_t dtypeSize(DType type);

/// The .npy type string NumPy writes for the type on a little-endian host,
/// e.g. "<f4"; single-byte types use '|' ("|i1", "|b1") as NumPy does.
const char *dtypeNpyDescr(DType type);

bool isFloatDType(DType type);

/// Parses a NumPy name ("float32"); std::nullopt if unknown.
std::optional<DType> parseDTypeName(std::string_view name);

/// "float16, float32, ..., bool", for error messages.
std::string listDTypeNames();

/// "float32[2,3]" ("float32[]" for a scalar): how tensor types are shown to
/// users by sqz-run and in error messages.
std::string formatTensorType(DType type, const std::vector<int64_t> &shape);

/// Computes the element count and byte size of a dense tensor, rejecting
/// negative dimensions and sizes that overflow size_t.
Status computeTensorSize(DType type, const std::vector<int64_t> &shape,
                         size_t &numElements, size_t &numBytes);

/// Converts an IEEE binary16 value to float, exactly (every half is a float).
float halfToFloat(uint16_t bits);

} // namespace runtime
} // namespace sqz

#endif // SQZ_RUNTIME_DTYPE_H
