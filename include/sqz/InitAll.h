//===- InitAll.h - Register every sqz dialect and pass ----------*- C++ -*-===//
//
// One place that knows every dialect, pass and pipeline of Squeeze, for the tools.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_INITALL_H
#define SQZ_INITALL_H

#include "sqz/Conversion/Passes.h"
#include "sqz/Dialect/Sqz/IR/SqzDialect.h"
#include "sqz/Dialect/Sqz/Transforms/Passes.h"
#include "sqz/Target/CPU/Passes.h"

#include "mlir/IR/DialectRegistry.h"

namespace mlir::sqz {

inline void registerSqzDialects(DialectRegistry &registry) {
  registry.insert<SqzDialect>();
}

/// Registers every sqz pass and the named pipelines (sqz-import-cleanup, sqz-lower-to-cpu).
inline void registerAllSqzPasses() {
  registerSqzTransformsPasses();
  registerSqzConversionPasses();
  registerSqzTransformPipelines();
  registerCPUPipelines();
}

} // namespace mlir::sqz

#endif // SQZ_INITALL_H
