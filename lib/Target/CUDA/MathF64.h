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

/// Whether expandMathF64 has code for `op` (a math op whose result is f64).
bool hasMathF64Expansion(Operation *op);

/// The value of `op` (hasMathF64Expansion) computed by the f64 code, built before `op`.
Value expandMathF64(OpBuilder &b, Operation *op);

} // namespace mlir::sqz::cuda

#endif // SQZ_LIB_TARGET_CUDA_MATHF64_H
