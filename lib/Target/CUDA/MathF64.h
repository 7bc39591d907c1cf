//===- MathF64.h - f64 math functions without libdevice ---------*- C++ -*-===//
//
// The CUDA target's own f64 code for math functions (sqz-cuda-expand-math): arithmetic,
// fma, sqrt, floor and bit operations only, so that device code needs no libdevice for
// them. docs/CUDA.md, "Math functions", lists the methods and their accuracy.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_TARGET_CUDA_MATHF64_H
#define SQZ_LIB_TARGET_CUDA_MATHF64_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Operation.h"

namespace mlir::sqz::cuda {

/// Whether our f64 code replaces `op` (a math op with a scalar f64 result): exp, log and
/// log2 always; tanh, sin, cos, erf, erfc, atan, atan2, asin, acos, expm1, log1p and cbrt
/// unless `libdevice` (then libdevice, or emulated the host's libm, computes them).
bool expandsMathF64(Operation *op, bool libdevice);

/// The value of `op` (expandsMathF64) computed by the f64 code, built before `op`.
Value expandMathF64(OpBuilder &b, Operation *op);

} // namespace mlir::sqz::cuda

#endif // SQZ_LIB_TARGET_CUDA_MATHF64_H
