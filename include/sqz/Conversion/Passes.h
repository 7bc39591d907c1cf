//===- Passes.h - Conversions out of the sqz dialect ------------*- C++ -*-===//
//
// Declarations and registration of Squeeze's conversion passes.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_CONVERSION_PASSES_H
#define SQZ_CONVERSION_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
class TypeConverter;
} // namespace mlir

namespace mlir::sqz {

#define GEN_PASS_DECL
#include "sqz/Conversion/Passes.h.inc"

/// Patterns lowering dense sqz ops to linalg/tensor/arith (owned by ConvertSqzToLinalg.cpp).
/// With `transposeWeights`, constant weights are transposed to [in, out] at compile time.
void populateSqzToLinalgPatterns(RewritePatternSet &patterns,
                                 bool transposeWeights = false);

#define GEN_PASS_REGISTRATION
#include "sqz/Conversion/Passes.h.inc"

} // namespace mlir::sqz

#endif // SQZ_CONVERSION_PASSES_H
