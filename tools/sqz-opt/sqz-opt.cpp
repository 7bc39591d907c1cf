//===- sqz-opt.cpp - The Squeeze optimizer driver -------------------------===//
//
// mlir-opt with every upstream dialect, extension and pass plus the sqz dialect, passes and
// pipelines: the tool compiler engineers write and debug passes with.
//
//===----------------------------------------------------------------------===//

#include "sqz/InitAll.h"
#include "sqz/Target/CUDA/Codegen.h"
#include "sqz/Target/CUDA/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::sqz::registerAllSqzPasses();
  mlir::sqz::registerCUDAPipelines();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::sqz::registerSqzDialects(registry);
  // gpu.module / gpu.binary translation for sqz-cuda-serialize and the CUDA host code.
  mlir::sqz::registerCUDATranslations(registry);

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "Squeeze (sqz) optimizer driver\n", registry));
}
