//===- Pipelines.cpp - Target-independent pass pipelines -----------------===//
//
// Registers the sqz passes and the `sqz-import-cleanup` pipeline.
//
//===----------------------------------------------------------------------===//

#include "sqz/Dialect/Sqz/Transforms/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::sqz::buildImportCleanupPipeline(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createSymbolDCEPass());
}

void mlir::sqz::registerSqzTransformPipelines() {
  PassPipelineRegistration<>(
      "sqz-import-cleanup",
      "Canonicalize, CSE and drop dead symbols after ONNX import",
      buildImportCleanupPipeline);
}
