//===- Codegen.cpp - CUDA host module to a shared library -----------------===//
//
// After sqz-lower-to-cuda the module is host code in the LLVM dialect plus a gpu.binary with
// the device PTX. The host half goes the CPU way (lib/Target/CPU/Codegen.cpp: LLVM IR, O3,
// object, clang-22 link), for a portable x86-64, with its mgpu* calls routed through the
// runtime's sqz_gpu_api table (sqz::cuda::bindGpuRuntime) in between.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CUDA/Codegen.h"

#include "sqz/Target/CPU/Codegen.h"
#include "sqz/Target/CUDA/BindRuntime.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::sqz;

/// The host CPU of a CUDA artifact: any x86-64 (the GPU machine's CPU is not this one).
static constexpr llvm::StringLiteral kHostCPU = "x86-64";

void mlir::sqz::registerCUDATranslations(DialectRegistry &registry) {
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
}

LogicalResult mlir::sqz::getModulePTX(ModuleOp module, std::string &ptx,
                                      std::string &error) {
  ptx.clear();
  for (auto binary : module.getOps<gpu::BinaryOp>()) {
    for (Attribute attr : binary.getObjects()) {
      auto object = dyn_cast<gpu::ObjectAttr>(attr);
      if (!object || object.getFormat() != gpu::CompilationTarget::Assembly) {
        error = "the device binary '" + binary.getName().str() + "' is not PTX";
        return failure();
      }
      ptx += object.getObject().getValue();
    }
  }
  if (ptx.empty()) {
    error = "the lowered module has no device code (no gpu.binary)";
    return failure();
  }
  return success();
}

std::unique_ptr<llvm::Module> mlir::sqz::translateCUDAHostToLLVMIR(ModuleOp module,
                                                                   llvm::LLVMContext &llvmCtx,
                                                                   std::string &error) {
  DialectRegistry registry;
  registerCUDATranslations(registry);
  module->getContext()->appendDialectRegistry(registry);
  CPUCodegenOptions opts;
  opts.targetCPU = kHostCPU.str();
  std::unique_ptr<llvm::Module> llvmModule =
      translateToOptimizedLLVMIR(module, llvmCtx, opts);
  if (!llvmModule) {
    error = "translating the host code to LLVM IR failed";
    return nullptr;
  }
  // No OpenMP in a CUDA artifact (a GPU machine need not have libomp): the host code has no
  // parallel regions, and the C ABI's thread count (omp_set_num_threads) means nothing here.
  if (llvm::Function *ompSet = llvmModule->getFunction("omp_set_num_threads")) {
    for (llvm::User *user : llvm::make_early_inc_range(ompSet->users()))
      if (auto *call = llvm::dyn_cast<llvm::CallInst>(user))
        call->eraseFromParent();
    if (ompSet->use_empty())
      ompSet->eraseFromParent();
  }
  for (llvm::Function &fn : *llvmModule)
    if (fn.isDeclaration() && (fn.getName().starts_with("__kmpc_") ||
                               fn.getName().starts_with("omp_"))) {
      error = "the CUDA host code calls the OpenMP runtime ('" + fn.getName().str() +
              "'), which a CUDA artifact does not link";
      return nullptr;
    }
  if (llvm::Error err = ::sqz::cuda::bindGpuRuntime(*llvmModule)) {
    error = "binding the host code to the GPU runtime: " + llvm::toString(std::move(err));
    return nullptr;
  }
  return llvmModule;
}

LogicalResult mlir::sqz::emitCUDALibrary(ModuleOp module, llvm::StringRef dir,
                                         std::string &error) {
  std::string ptx;
  if (failed(getModulePTX(module, ptx, error)))
    return failure();
  llvm::SmallString<256> objPath(dir), soPath(dir), ptxPath(dir);
  llvm::sys::path::append(objPath, "model.o");
  llvm::sys::path::append(soPath, "model.so");
  llvm::sys::path::append(ptxPath, "model.ptx");
  llvm::LLVMContext llvmCtx;
  std::unique_ptr<llvm::Module> llvmModule = translateCUDAHostToLLVMIR(module, llvmCtx, error);
  if (!llvmModule)
    return failure();
  CPUCodegenOptions opts;
  opts.targetCPU = kHostCPU.str();
  if (failed(emitObjectFile(*llvmModule, objPath, opts, error)) ||
      failed(linkSharedLibrary(objPath, soPath, error, /*openmp=*/false)))
    return failure();
  llvm::sys::fs::remove(objPath);
  std::error_code ec;
  llvm::raw_fd_ostream os(ptxPath, ec);
  if (ec) {
    error = "cannot write '" + ptxPath.str().str() + "': " + ec.message();
    return failure();
  }
  os << ptx;
  os.close();
  if (os.has_error()) {
    error = "write error on '" + ptxPath.str().str() + "'";
    return failure();
  }
  return success();
}
