//===- Codegen.cpp - LLVM-dialect module to a shared library --------------===//
//
// MLIR LLVM dialect → LLVM IR (+ the bitcode of the CPU microkernels the model calls) → O3 for
// the chosen CPU → object (LLVM's x86 backend) → shared library (the clang-22 driver linking
// with lld and libomp).
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Codegen.h"

#include "BufferCacheSource.h"
#include "UKernelBitcode.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/Linker/Linker.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"
#include "llvm/Transforms/IPO/Internalize.h"

using namespace mlir;
using namespace mlir::sqz;

#ifndef SQZ_CLANG_PATH
#define SQZ_CLANG_PATH "clang-22"
#endif
#ifndef SQZ_LIBOMP_DIR
#define SQZ_LIBOMP_DIR "/usr/lib/llvm-22/lib"
#endif

static std::unique_ptr<llvm::TargetMachine>
createHostTargetMachine(const CPUCodegenOptions &opts, std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getProcessTriple());
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  std::string cpu = opts.targetCPU;
  std::string features;
  if (cpu == "native") {
    cpu = llvm::sys::getHostCPUName().str();
    llvm::SubtargetFeatures f;
    for (auto &feature : llvm::sys::getHostCPUFeatures())
      f.AddFeature(feature.first(), feature.second);
    features = f.getString();
  }
  llvm::TargetOptions topts;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, cpu, features, topts, llvm::Reloc::PIC_, std::nullopt,
      opts.optLevel >= 2 ? llvm::CodeGenOptLevel::Aggressive
                         : llvm::CodeGenOptLevel::Default));
  if (!tm)
    error = "cannot create a target machine for CPU '" + cpu + "'";
  return tm;
}

/// Links the CPU microkernels that `module` calls (declarations `sqz_uk_<format>_<isa>`,
/// emitted by sqz-cpu-lower-ukernels) from the embedded bitcode of their ISA level, before
/// optimization so that LLVM can inline them. Only the kernels the module needs are linked
/// (LinkOnlyNeeded), and they become internal: the model library exports none of them.
static LogicalResult linkMicrokernels(llvm::Module &module, std::string &error) {
  std::string isa;
  for (llvm::Function &fn : module) {
    llvm::StringRef name = fn.getName();
    if (!fn.isDeclaration() || !name.starts_with("sqz_uk_"))
      continue;
    llvm::StringRef level = name.substr(name.rfind('_') + 1);
    if (!isa.empty() && isa != level) {
      error = "the model calls microkernels of two ISA levels ('" + isa + "' and '" +
              level.str() + "')";
      return failure();
    }
    isa = level.str();
  }
  if (isa.empty())
    return success();
  llvm::StringRef bitcode = getUKernelBitcode(isa.c_str());
  if (bitcode.empty()) {
    error = "no microkernel bitcode for ISA level '" + isa + "'";
    return failure();
  }
  llvm::Expected<std::unique_ptr<llvm::Module>> kernels = llvm::parseBitcodeFile(
      llvm::MemoryBufferRef(bitcode, "sqz_ukernels_" + isa), module.getContext());
  if (!kernels) {
    error = "cannot read the embedded microkernel bitcode: " +
            llvm::toString(kernels.takeError());
    return failure();
  }
  // Same target as the model (clang's x86-64 triple and layout are the model's; this keeps
  // the linker from warning about spellings).
  (*kernels)->setDataLayout(module.getDataLayout());
  (*kernels)->setTargetTriple(module.getTargetTriple());
  bool failed = llvm::Linker::linkModules(
      module, std::move(*kernels), llvm::Linker::Flags::LinkOnlyNeeded,
      [](llvm::Module &m, const llvm::StringSet<> &linked) {
        llvm::internalizeModule(m, [&](const llvm::GlobalValue &gv) {
          return !gv.hasName() || !linked.count(gv.getName());
        });
      });
  if (failed) {
    error = "linking the microkernel bitcode (" + isa + ") failed";
    return failure();
  }
  for (llvm::Function &fn : module)
    if (fn.isDeclaration() && fn.getName().starts_with("sqz_uk_")) {
      error = "the microkernel bitcode (" + isa + ") has no '" + fn.getName().str() + "'";
      return failure();
    }
  return success();
}

std::unique_ptr<llvm::Module>
mlir::sqz::translateToOptimizedLLVMIR(ModuleOp module, llvm::LLVMContext &llvmCtx,
                                      const CPUCodegenOptions &opts) {
  registerBuiltinDialectTranslation(*module->getContext());
  registerLLVMDialectTranslation(*module->getContext());
  registerOpenMPDialectTranslation(*module->getContext());
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmCtx, "sqz_model");
  if (!llvmModule) {
    module.emitError() << "translation to LLVM IR failed";
    return nullptr;
  }
  std::string error;
  std::unique_ptr<llvm::TargetMachine> tm = createHostTargetMachine(opts, error);
  if (!tm) {
    module.emitError() << error;
    return nullptr;
  }
  llvmModule->setDataLayout(tm->createDataLayout());
  llvmModule->setTargetTriple(tm->getTargetTriple());
  if (failed(linkMicrokernels(*llvmModule, error))) {
    module.emitError() << error;
    return nullptr;
  }
  auto optimize = makeOptimizingTransformer(opts.optLevel, /*sizeLevel=*/0,
                                            tm.get());
  if (llvm::Error err = optimize(llvmModule.get())) {
    module.emitError() << "LLVM optimization failed: "
                       << llvm::toString(std::move(err));
    return nullptr;
  }
  return llvmModule;
}

LogicalResult mlir::sqz::emitObjectFile(llvm::Module &llvmModule,
                                        llvm::StringRef objPath,
                                        const CPUCodegenOptions &opts,
                                        std::string &error) {
  std::unique_ptr<llvm::TargetMachine> tm = createHostTargetMachine(opts, error);
  if (!tm)
    return failure();
  std::error_code ec;
  llvm::ToolOutputFile out(objPath, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = "cannot open '" + objPath.str() + "': " + ec.message();
    return failure();
  }
  llvm::legacy::PassManager pm;
  if (tm->addPassesToEmitFile(pm, out.os(), nullptr,
                              llvm::CodeGenFileType::ObjectFile)) {
    error = "the target cannot emit object files";
    return failure();
  }
  pm.run(llvmModule);
  out.keep();
  return success();
}

LogicalResult mlir::sqz::linkSharedLibrary(llvm::StringRef objPath,
                                           llvm::StringRef soPath,
                                           std::string &error, bool openmp) {
  // Prefer the clang the project was configured with; fall back to PATH.
  std::string clang = SQZ_CLANG_PATH;
  if (!llvm::sys::fs::can_execute(clang)) {
    auto found = llvm::sys::findProgramByName("clang-22");
    if (!found)
      found = llvm::sys::findProgramByName("clang");
    if (!found) {
      error = "cannot find clang-22 to link the shared library (install "
              "clang-22 and lld-22; see scripts/setup.sh)";
      return failure();
    }
    clang = *found;
  }
  // The buffer cache the generated code allocates through (ModelSupport/BufferCache.c),
  // compiled from its embedded source next to the object file.
  llvm::SmallString<256> supportPath(llvm::sys::path::parent_path(objPath));
  llvm::sys::path::append(supportPath, "sqz_buffer_cache.c");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(supportPath, ec);
    if (ec) {
      error = "cannot write '" + supportPath.str().str() + "': " + ec.message();
      return failure();
    }
    os << kBufferCacheSource;
  }
  auto removeSupport = llvm::make_scope_exit([&] { llvm::sys::fs::remove(supportPath); });
  llvm::SmallVector<llvm::StringRef> args = {
      clang, "-shared", "-fuse-ld=lld", "-Wl,--no-undefined", "-o", soPath,
      objPath, "-O2", "-fPIC", supportPath, "-lm"};
  // The OpenMP runtime of the parallel loops (and sqz_model_set_num_threads).
  if (openmp)
    args.append({"-L" SQZ_LIBOMP_DIR, "-Wl,-rpath," SQZ_LIBOMP_DIR, "-lomp"});
  std::string execError;
  int rc = llvm::sys::ExecuteAndWait(clang, args, std::nullopt, {}, 0, 0,
                                     &execError);
  if (rc != 0) {
    error = "linking '" + soPath.str() + "' failed (" + clang + " exited with " +
            std::to_string(rc) + (execError.empty() ? "" : ": " + execError) +
            ")";
    return failure();
  }
  return success();
}
