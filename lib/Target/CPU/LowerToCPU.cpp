//===- LowerToCPU.cpp - The sqz-lower-to-cpu pipeline ---------------------===//
//
// Takes the sqz graph IR (tensors; sqz, linalg, tensor, arith, math, func) to the LLVM dialect:
// sqz → linalg, elementwise fusion, One-Shot Bufferize with results turned into out-params,
// ownership-based deallocation, loops, and the upstream conversions to LLVM. The entry
// function gets the bare-pointer calling convention and the artifact C ABI.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

void mlir::sqz::buildLowerToCPUPipeline(OpPassManager &pm,
                                        const LowerToCPUOptions &opts) {
  std::string entry = opts.entry;
  // Upstream passes are named textually: their textual names are the stable interface
  // across MLIR releases (the C++ factory names are not).
  std::string pipeline = llvm::formatv(
      "sqz-strip-observe,sqz-lower-moe,convert-sqz-to-linalg{{transpose-weights},canonicalize,cse,"
      "func.func(convert-elementwise-to-linalg,sqz-cpu-fuse-elementwise,"
      "sqz-cpu-tile-contractions,canonicalize),"
      "sqz-cpu-prepare-entry{{entry={0}},"
      "one-shot-bufferize{{bufferize-function-boundaries "
      "function-boundary-type-conversion=identity-layout-map},"
      "buffer-results-to-out-params{{hoist-static-allocs modify-public-functions},"
      "buffer-deallocation-pipeline,"
      "func.func(convert-linalg-to-loops),"
      "convert-scf-to-cf,expand-strided-metadata,lower-affine,"
      "finalize-memref-to-llvm,"
      "convert-math-to-llvm,convert-math-to-libm,"
      "convert-arith-to-llvm,convert-index-to-llvm,"
      "convert-func-to-llvm{{use-bare-ptr-memref-call-conv},"
      "convert-cf-to-llvm,reconcile-unrealized-casts",
      entry);
  if (opts.emitCABI)
    pipeline += llvm::formatv(",sqz-cpu-emit-c-abi{{entry={0}}", entry).str();
  if (failed(parsePassPipeline(pipeline, pm, llvm::errs())))
    llvm::report_fatal_error("sqz-lower-to-cpu: malformed internal pipeline");
}

void mlir::sqz::registerCPUPipelines() {
  registerSqzCPUPasses();
  PassPipelineRegistration<LowerToCPUOptions>(
      "sqz-lower-to-cpu",
      "Lower the sqz graph IR to the LLVM dialect for the CPU (with the "
      "artifact C ABI)",
      buildLowerToCPUPipeline);
}
