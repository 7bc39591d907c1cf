//===- SoftmaxOp.h - Softmax building blocks shared by importers -*- C++ -*-===//
//
// The softmax computation of SoftmaxOp.cpp, reused by SoftmaxCrossEntropyLoss (LossOps.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_IMPORT_SOFTMAXOP_H
#define SQZ_LIB_IMPORT_SOFTMAXOP_H

#include "mlir/IR/Builders.h"
#include "mlir/Support/LLVM.h"

namespace mlir::sqz::import {

/// `value` (a float tensor) converted elementwise to the float type `to` (extf or truncf);
/// `value` itself when it already has that element type.
Value buildFloatConvert(OpBuilder &b, Location loc, Value value, Type to);

/// Numerically stable Softmax (or LogSoftmax) of the float tensor `x` over `dims` (sorted,
/// unique), computed in x's element type (callers widen f16 first).
Value buildSoftmax(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> dims, bool logSoftmax);

} // namespace mlir::sqz::import

#endif // SQZ_LIB_IMPORT_SOFTMAXOP_H
