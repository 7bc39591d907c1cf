//===- Codegen.h - LLVM-dialect module to a shared library ------*- C++ -*-===//
//
// Translates an LLVM-dialect module to LLVM IR, optimizes it for a CPU, emits an object file
// and links it into the shared library of an artifact.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_TARGET_CPU_CODEGEN_H
#define SQZ_TARGET_CPU_CODEGEN_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <memory>
#include <string>

namespace mlir::sqz {

struct CPUCodegenOptions {
  /// `native` (the host), or an LLVM CPU name such as `x86-64-v3`.
  std::string targetCPU = "native";
  unsigned optLevel = 3;
};

/// Translates and optimizes; emits diagnostics on `module` and returns null on failure.
std::unique_ptr<llvm::Module>
translateToOptimizedLLVMIR(ModuleOp module, llvm::LLVMContext &llvmCtx,
                           const CPUCodegenOptions &opts);

/// Emits `llvmModule` as an object file at `objPath`.
LogicalResult emitObjectFile(llvm::Module &llvmModule, llvm::StringRef objPath,
                             const CPUCodegenOptions &opts, std::string &error);

/// Links `objPath` into the shared library `soPath` (clang-22 driver with lld, -lm, and
/// libomp unless `openmp` is false: CUDA host code has no OpenMP regions).
LogicalResult linkSharedLibrary(llvm::StringRef objPath, llvm::StringRef soPath,
                                std::string &error, bool openmp = true);

} // namespace mlir::sqz

#endif // SQZ_TARGET_CPU_CODEGEN_H
