//===- Passes.h - sqz dialect transformation passes -------------*- C++ -*-===//
//
// Declarations and registration of the target-independent sqz passes and pipelines.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_DIALECT_SQZ_TRANSFORMS_PASSES_H
#define SQZ_DIALECT_SQZ_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::sqz {

#define GEN_PASS_DECL
#include "sqz/Dialect/Sqz/Transforms/Passes.h.inc"

/// `sqz-import-cleanup`: canonicalize, CSE and drop dead symbols after import.
void buildImportCleanupPipeline(OpPassManager &pm);

/// Registers the `sqz-import-cleanup` pipeline (passes: registerSqzTransformsPasses()).
void registerSqzTransformPipelines();

#define GEN_PASS_REGISTRATION
#include "sqz/Dialect/Sqz/Transforms/Passes.h.inc"

} // namespace mlir::sqz

#endif // SQZ_DIALECT_SQZ_TRANSFORMS_PASSES_H
