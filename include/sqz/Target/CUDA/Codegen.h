//===- Codegen.h - CUDA host module to a shared library ---------*- C++ -*-===//
//
// After `sqz-lower-to-cuda`: reads the device PTX out of the module's gpu.binary, translates
// the host code to LLVM IR, routes its mgpu* calls through the runtime's sqz_gpu_api table
// (sqz::cuda::bindGpuRuntime) and links it into the artifact's shared library.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_TARGET_CUDA_CODEGEN_H
#define SQZ_TARGET_CUDA_CODEGEN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <memory>
#include <string>

namespace mlir::sqz {

/// Registers the translations a lowered CUDA module needs (GPU, NVVM, the gpu.binary
/// embedding) on top of the LLVM dialect's.
void registerCUDATranslations(DialectRegistry &registry);

/// The PTX of the module's device code: the assembly of each gpu.binary's NVVM object,
/// concatenated (the CUDA pipeline makes one). Fails with `error` when there is none or an
/// object is not PTX.
LogicalResult getModulePTX(ModuleOp module, std::string &ptx, std::string &error);

/// Translates the host code to LLVM IR for x86-64 (a portable CPU: the GPU machine's CPU is
/// unknown), binds the mgpu* calls to the runtime table and optimizes. Emits diagnostics on
/// `module` and returns null on failure.
std::unique_ptr<llvm::Module> translateCUDAHostToLLVMIR(ModuleOp module,
                                                        llvm::LLVMContext &llvmCtx,
                                                        std::string &error);

/// Writes the artifact's code files into `dir`: model.so (host code, device image
/// embedded) and model.ptx.
LogicalResult emitCUDALibrary(ModuleOp module, llvm::StringRef dir, std::string &error);

} // namespace mlir::sqz

#endif // SQZ_TARGET_CUDA_CODEGEN_H
