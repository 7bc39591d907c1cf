//===- Serialize.cpp - gpu.module to PTX with the NVPTX backend -----------===//
//
// `sqz-cuda-serialize`: the device half of code generation. Each NVVM-dialect gpu.module is
// translated to LLVM IR, linked with the CUDA kernels' bitcode it calls, optimized and
// compiled to PTX by LLVM's NVPTX backend, and replaced by a gpu.binary holding the PTX.
// No CUDA toolkit is involved; libdevice only when one is given (for the f64 functions
// sqz-cuda-expand-math has no code for).
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CUDA/Passes.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/Linker/Linker.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/Transforms/IPO/Internalize.h"

#ifdef SQZ_HAVE_CUDA_KERNEL_BITCODE
#include "CudaKernelBitcode.h"
#endif

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZCUDASERIALIZE
#include "sqz/Target/CUDA/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

/// The embedded NVPTX bitcode of the CUDA kernels (lib/Kernels/CUDA) for `chip`, empty if
/// this build has none.
static llvm::StringRef getKernelBitcode(llvm::StringRef chip) {
#ifdef SQZ_HAVE_CUDA_KERNEL_BITCODE
  // sm_90a: the sm_90 kernels plus the wgmma ones.
  return getCUDAKernelBitcode(chip == "sm_90a"          ? "sm90a"
                              : chip.starts_with("sm_9") ? "sm90"
                                                         : "sm80");
#else
  (void)chip;
  return {};
#endif
}

/// Links into `module` the functions of `lib` it declares (and what they need), internalized
/// (as the CPU links its microkernels). Returns true on error.
static bool linkNeeded(llvm::Module &module, std::unique_ptr<llvm::Module> lib) {
  lib->setDataLayout(module.getDataLayout());
  lib->setTargetTriple(module.getTargetTriple());
  return llvm::Linker::linkModules(
      module, std::move(lib), llvm::Linker::Flags::LinkOnlyNeeded,
      [](llvm::Module &m, const llvm::StringSet<> &linked) {
        llvm::internalizeModule(m, [&](const llvm::GlobalValue &gv) {
          return !gv.hasName() || !linked.count(gv.getName());
        });
      });
}

namespace {

struct SqzCUDASerializePass
    : public mlir::sqz::impl::SqzCUDASerializeBase<SqzCUDASerializePass> {
  using Base::Base;

  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    registerBuiltinDialectTranslation(registry);
    registerLLVMDialectTranslation(registry);
    registerNVVMDialectTranslation(registry);
    registerGPUDialectTranslation(registry);
  }

  /// Links the kernels `module` declares (sqz_cuk_*), only those, internalized.
  LogicalResult linkKernels(llvm::Module &module, Operation *where) {
    bool needed = llvm::any_of(module, [](llvm::Function &fn) {
      return fn.isDeclaration() && fn.getName().starts_with("sqz_cuk_");
    });
    if (!needed)
      return success();
    llvm::StringRef bitcode = getKernelBitcode(chip);
    if (bitcode.empty())
      return where->emitError() << "the device code calls the CUDA kernels, but this build "
                                   "of the compiler has no kernel bitcode (lib/Kernels/CUDA)";
    llvm::Expected<std::unique_ptr<llvm::Module>> kernels = llvm::parseBitcodeFile(
        llvm::MemoryBufferRef(bitcode, "sqz_cuda_kernels"), module.getContext());
    if (!kernels)
      return where->emitError() << "cannot read the embedded CUDA kernel bitcode: "
                                << llvm::toString(kernels.takeError());
    if (linkNeeded(module, std::move(*kernels)))
      return where->emitError() << "linking the CUDA kernel bitcode failed";
    return success();
  }

  /// Links the libdevice functions `module` calls (__nv_*), only those, internalized.
  LogicalResult linkLibdevice(llvm::Module &module, Operation *where) {
    bool needed = llvm::any_of(module, [](llvm::Function &fn) {
      return fn.isDeclaration() && fn.getName().starts_with("__nv_");
    });
    if (!needed || libdevice.empty())
      return success();
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> file =
        llvm::MemoryBuffer::getFile(libdevice);
    if (!file)
      return where->emitError() << "cannot read libdevice '" << libdevice
                                << "': " << file.getError().message();
    llvm::Expected<std::unique_ptr<llvm::Module>> lib =
        llvm::parseBitcodeFile((*file)->getMemBufferRef(), module.getContext());
    if (!lib)
      return where->emitError() << "'" << libdevice << "' is not LLVM bitcode: "
                                << llvm::toString(lib.takeError());
    if (linkNeeded(module, std::move(*lib)))
      return where->emitError() << "linking libdevice '" << libdevice << "' failed";
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::string featureString = features.empty() ? getCUDAPTXFeatures(chip) : features;
    if (featureString.empty()) {
      module.emitError() << "unknown GPU architecture '" << chip << "' (expected one of "
                         << kCUDAChips << ")";
      return signalPassFailure();
    }
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
    llvm::Triple triple("nvptx64-nvidia-cuda");
    std::string error;
    const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
    if (!target) {
      module.emitError() << "this LLVM has no NVPTX backend: " << error;
      return signalPassFailure();
    }
    for (gpu::GPUModuleOp gpuModule :
         llvm::make_early_inc_range(module.getOps<gpu::GPUModuleOp>())) {
      // The kernels' bitcode is built for PTX 8.0 (lib/Kernels/CUDA; sm_90a's wgmma kernels
      // for 8.2, which is sm_90a's feature string anyway): a module that calls them is
      // emitted as PTX 8.0 too.
      bool callsKernels = llvm::any_of(gpuModule.getOps<LLVM::LLVMFuncOp>(), [](auto fn) {
        return fn.isExternal() && fn.getName().starts_with("sqz_cuk_");
      });
      std::string moduleFeatures =
          callsKernels && featureString == "+ptx78" ? "+ptx80" : featureString;
      std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
          triple, chip, moduleFeatures, llvm::TargetOptions(), std::nullopt, std::nullopt,
          optLevel >= 3 ? llvm::CodeGenOptLevel::Aggressive : llvm::CodeGenOptLevel::Default));
      if (!tm) {
        gpuModule.emitError() << "cannot create an NVPTX target machine for " << chip;
        return signalPassFailure();
      }
      llvm::LLVMContext llvmCtx;
      std::unique_ptr<llvm::Module> llvmModule =
          translateModuleToLLVMIR(gpuModule, llvmCtx, gpuModule.getName());
      if (!llvmModule) {
        gpuModule.emitError() << "translating the device module to LLVM IR failed";
        return signalPassFailure();
      }
      llvmModule->setDataLayout(tm->createDataLayout());
      llvmModule->setTargetTriple(triple);
      if (failed(linkKernels(*llvmModule, gpuModule)) ||
          failed(linkLibdevice(*llvmModule, gpuModule)))
        return signalPassFailure();
      for (llvm::Function &fn : *llvmModule)
        // (libdevice's __nvvm_reflect queries: NVVMReflect answers them while optimizing.)
        if (fn.isDeclaration() && !fn.isIntrinsic() && !fn.use_empty() &&
            fn.getName() != "__nvvm_reflect") {
          gpuModule.emitError()
              << "the device code calls '" << fn.getName()
              << "', which it does not define"
              << (fn.getName().starts_with("__nv_")
                      ? (libdevice.empty()
                             ? " (a libdevice function: give sqz-cuda-serialize a libdevice, "
                               "or expand the math function, see sqz-cuda-expand-math)"
                             : " (not in libdevice '" + libdevice + "')")
                      : std::string());
          return signalPassFailure();
        }
      auto optimize = makeOptimizingTransformer(optLevel, /*sizeLevel=*/0, tm.get());
      if (llvm::Error err = optimize(llvmModule.get())) {
        gpuModule.emitError() << "optimizing the device code failed: "
                              << llvm::toString(std::move(err));
        return signalPassFailure();
      }
      std::string ptx;
      {
        llvm::raw_string_ostream os(ptx);
        llvm::buffer_ostream bos(os);
        llvm::legacy::PassManager pm;
        if (tm->addPassesToEmitFile(pm, bos, nullptr, llvm::CodeGenFileType::AssemblyFile)) {
          gpuModule.emitError() << "the NVPTX backend cannot emit assembly";
          return signalPassFailure();
        }
        pm.run(*llvmModule);
      }
      auto object = gpu::ObjectAttr::get(&getContext(),
                                         NVVM::NVVMTargetAttr::get(&getContext(), optLevel,
                                                                   triple.str(), chip,
                                                                   moduleFeatures),
                                         gpu::CompilationTarget::Assembly,
                                         StringAttr::get(&getContext(), ptx),
                                         /*properties=*/nullptr, /*kernels=*/nullptr);
      OpBuilder b(gpuModule);
      gpu::BinaryOp::create(b, gpuModule.getLoc(), gpuModule.getName(),
                            gpuModule.getOffloadingHandlerAttr(),
                            b.getArrayAttr({object}));
      gpuModule.erase();
    }
  }
};

} // namespace
