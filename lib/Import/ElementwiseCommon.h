//===- ElementwiseCommon.h - Generic elementwise import ---------*- C++ -*-===//
//
// One routine imports every elementwise ONNX op (Add, Sqrt, Equal, Min, Clip, ...): it checks
// the operand dtypes, broadcasts the operands numpy-style, folds the node on the host when
// every operand is an import-time constant (shape arithmetic), and otherwise builds one
// `linalg.generic` whose body the op describes. Used by ElementwiseOps.cpp and MathOps.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_IMPORT_ELEMENTWISECOMMON_H
#define SQZ_LIB_IMPORT_ELEMENTWISECOMMON_H

#include "GraphImporter.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <functional>
#include <optional>

namespace mlir::sqz::import {

/// Classes of dtypes an elementwise op accepts (a bit set).
enum DTypeClass : unsigned {
  kFloatDTypes = 1,
  kSignedDTypes = 2,
  kUnsignedDTypes = 4,
  kBoolDType = 8,
  kIntDTypes = kSignedDTypes | kUnsignedDTypes,
  kNumericDTypes = kFloatDTypes | kIntDTypes,
  kAllDTypes = kNumericDTypes | kBoolDType,
};

/// What the scalar body of an elementwise op computes on.
struct ScalarInfo {
  /// The element type the body computes in: the operand type, or f32 for f16 operands of ops
  /// that compute f16 in f32 (`ElementwiseSpec::f16InF32`) and for every bf16 operand (bf16 is
  /// converted with integer bit operations, SmallFloats.h). float8/float4 and int4/int2 operands
  /// are rejected (only Cast, Q/DQ and data movement take them).
  Type type;
  bool isFloat;
  bool isUnsigned;
};

using ScalarBuildFn = std::function<Value(OpBuilder &, Location, ValueRange, const ScalarInfo &)>;
using HostFloatFn = std::function<double(ArrayRef<double>)>;
using HostIntFn = std::function<int64_t(ArrayRef<int64_t>)>;

struct ElementwiseSpec {
  /// The number of operands; absent optional operands (empty names) are skipped, so the body
  /// and the host functions see only the present ones.
  unsigned minInputs = 1;
  unsigned maxInputs = 1;
  /// Dtypes accepted for operand 0 (and, with `sameDType`, for all operands).
  unsigned accepted = kNumericDTypes;
  /// All operands must have operand 0's dtype (false: only Pow's exponent may differ).
  bool sameDType = true;
  /// The result is bool (comparisons), else it has operand 0's dtype.
  bool boolResult = false;
  /// f16 operands are extended to f32, the body computes in f32 and the result is truncated
  /// (transcendental functions, which the CPU pipeline only lowers for f32/f64).
  bool f16InF32 = false;
  /// Only the first this-many present operands become operands of the generic (Pow with a
  /// constant exponent bakes it into the body); all still broadcast the result shape and fold.
  unsigned numIROperands = ~0u;
  /// Builds the scalar result from the (converted) operand elements.
  ScalarBuildFn build;
  /// Host evaluation for folding; a null function disables folding of that dtype class.
  /// Float dtypes use `foldFloat`, integer and bool dtypes `foldInt`.
  HostFloatFn foldFloat = nullptr;
  HostIntFn foldInt = nullptr;
};

/// Imports `node` as the elementwise op `spec` describes; sets result 0.
LogicalResult importElementwiseOp(NodeContext &node, const ElementwiseSpec &spec);

/// Host folding of an elementwise op over constants, numpy-broadcast: the result has dtype
/// `resultDType`; `eval(linearIndexPerOperand)` gives the value of one element. Returns
/// std::nullopt when the shapes do not broadcast.
std::optional<HostTensor>
foldBroadcast(ArrayRef<const HostTensor *> operands, int32_t resultDType,
              function_ref<void(HostTensor &, int64_t, ArrayRef<int64_t>)> eval);

/// The scalar GELU of float `x`: 0.5·x·(1 + erf(x/√2)), or with `useTanh`
/// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
Value buildGeluScalar(OpBuilder &b, Location loc, Value x, bool useTanh);

} // namespace mlir::sqz::import

#endif // SQZ_LIB_IMPORT_ELEMENTWISECOMMON_H
