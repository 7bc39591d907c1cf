//===- LowerToCUDA.cpp - The sqz-lower-to-cuda pipeline -------------------===//
//
// Takes the sqz graph IR to an LLVM-dialect host module that embeds the device code as PTX:
// the CPU pipeline's front half (sqz → linalg, elementwise fusion, the entry's C ABI,
// One-Shot Bufferize with out-params, deallocation, weight externalization), then every
// linalg op onto a gpu.launch (sqz-cuda-map-to-gpu), device allocations, outlining into one
// gpu.module, NVVM, PTX (sqz-cuda-serialize) and the host's mgpu* calls (gpu-to-llvm).
// docs/CUDA.md describes it.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CUDA/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstdlib>

using namespace mlir;

std::string mlir::sqz::getCUDAPTXFeatures(llvm::StringRef chip) {
  // PTX 7.8 (CUDA 11.8) is the first with sm_90; sm_90a needs PTX 8.0, and its 2:4 wgmma
  // kernels (wgmma.mma_async.sp with fp16) 8.2 (CUDA 12.2).
  if (chip == "sm_80" || chip == "sm_90")
    return "+ptx78";
  if (chip == "sm_90a")
    return "+ptx82";
  return "";
}

std::string mlir::sqz::parseCUDATarget(llvm::StringRef target, std::string &error) {
  llvm::StringRef chip = target;
  if (!chip.consume_front("cuda:") || getCUDAPTXFeatures(chip).empty()) {
    error = ("unknown target '" + target + "' (expected cpu or cuda:<arch> with <arch> one of " +
             kCUDAChips + ", e.g. cuda:sm_80)")
                .str();
    return "";
  }
  return chip.str();
}

std::string mlir::sqz::findLibdevice(llvm::StringRef option) {
  if (option == "none")
    return "";
  if (!option.empty())
    return option.str();
  if (const char *env = std::getenv("SQZ_LIBDEVICE"))
    return llvm::StringRef(env) == "none" ? "" : env;
  llvm::SmallVector<std::string> candidates;
  if (const char *home = std::getenv("CUDA_HOME"))
    candidates.push_back((llvm::Twine(home) + "/nvvm/libdevice/libdevice.10.bc").str());
  candidates.push_back("/usr/local/cuda/nvvm/libdevice/libdevice.10.bc");
  for (const std::string &path : candidates)
    if (llvm::sys::fs::exists(path))
      return path;
  return "";
}

/// A pass option value in a textual pipeline: quoted, so paths with spaces or commas survive
/// (not braces or backslashes: the pipeline parser does not unquote those; sqz-compile
/// rejects such a libdevice path).
static std::string quoteOption(llvm::StringRef value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

void mlir::sqz::buildLowerToCUDAPipeline(OpPassManager &pm, const LowerToCUDAOptions &opts) {
  std::string entry = opts.entry;
  // The CUDA kernels: linears packed for the chip and launched (before everything else
  // lowers the remaining sqz ops to linalg).
  // (An unknown chip is left to sqz-cuda-serialize's error.) The kernels read their packed
  // weights from the weights buffer in device memory: without a weights file (weights kept
  // in the module) the linears stay on the generated code.
  std::string kernels;
  if (opts.kernels && !opts.emulate && !opts.weightsFile.empty() &&
      !getCUDAPTXFeatures(opts.chip).empty())
    kernels = llvm::formatv("sqz-materialize{{target=cuda arch={0}},sqz-cuda-lower-kernels,",
                            opts.chip.getValue())
                  .str();
  // With a libdevice, the f64 functions it has better code for (sin, tanh, erf...: docs/CUDA.md)
  // are left to it, or emulated to the host's libm; without one they get our own f64 code.
  std::string libdevice = findLibdevice(opts.libdevice);
  bool libdeviceFunctions = !libdevice.empty();
  if (opts.emulate)
    libdevice.clear();
  // Upstream passes are named textually (their textual names are the stable interface).
  std::string pipeline = llvm::formatv(
      // The graph IR to linalg on buffers, as for the CPU (without its tiling).
      "sqz-strip-observe,sqz-lower-moe,{3}"
      "convert-sqz-to-linalg{{transpose-weights},canonicalize,cse,"
      "func.func(convert-elementwise-to-linalg,sqz-cpu-fuse-elementwise),"
      "sqz-cpu-prepare-entry{{entry={0}},"
      "one-shot-bufferize{{bufferize-function-boundaries "
      "function-boundary-type-conversion=identity-layout-map},"
      "buffer-results-to-out-params{{hoist-static-allocs modify-public-functions},"
      "sqz-cpu-forward-outputs{{entry={0}},"
      "buffer-deallocation-pipeline,"
      // Every constant weight goes to the weights buffer (device memory).
      "sqz-cpu-externalize-weights{{entry={0} weights-file={1} min-bytes=1},"
      "canonicalize,"
      // Kernels.
      "func.func(sqz-cpu-legalize-memrefs,sqz-cuda-map-to-gpu{{block-size={2}},"
      "sqz-cuda-expand-math{{libdevice-functions={4}},",
      entry, quoteOption(opts.weightsFile), opts.blockSize.getValue(), kernels,
      libdeviceFunctions ? "true" : "false");
  if (opts.emulate) {
    // The kernels as host loops, then the host code as for the CPU (no OpenMP).
    pipeline += "sqz-cuda-emulate-launches,canonicalize,cse),"
                "convert-scf-to-cf,expand-strided-metadata,lower-affine,convert-math-to-llvm,"
                "convert-math-to-libm";
  } else {
    pipeline +=
        "sqz-cuda-device-memory,canonicalize,cse),"
        "gpu-kernel-outlining,sqz-cuda-merge-kernel-modules,symbol-dce,"
        "func.func(gpu-async-region),"
        // Device code to NVVM (gpu.all_reduce: shuffles and shared memory).
        "convert-scf-to-cf,expand-strided-metadata,lower-affine,"
        "gpu.module(" +
        std::string(libdevice.empty() ? "" : "sqz-cuda-libdevice-calls,") +
        "convert-math-to-llvm,convert-gpu-to-nvvm,canonicalize,cse,"
        "reconcile-unrealized-casts)";
    if (opts.serialize)
      // (The PTX version follows from the chip; an unknown chip is reported there.)
      pipeline += llvm::formatv(",sqz-cuda-serialize{{chip={0} libdevice={1}}",
                                opts.chip.getValue(), quoteOption(libdevice))
                      .str();
  }
  // Host code: the entry with bare pointers (the artifact ABI), kernels launched through
  // mgpu* calls.
  pipeline += llvm::formatv(
                  ",finalize-memref-to-llvm,convert-math-to-llvm,convert-arith-to-llvm,"
                  "convert-index-to-llvm,sqz-cpu-convert-func-to-llvm{{entry={0}},"
                  "convert-cf-to-llvm,{1}convert-ub-to-llvm,"
                  "reconcile-unrealized-casts",
                  entry, opts.emulate ? "" : "gpu-to-llvm,")
                  .str();
  if (opts.emitCABI)
    pipeline += llvm::formatv(",sqz-cpu-emit-c-abi{{entry={0}}", entry).str();
  if (failed(parsePassPipeline(pipeline, pm, llvm::errs())))
    llvm::report_fatal_error("sqz-lower-to-cuda: malformed internal pipeline");
}

void mlir::sqz::registerCUDAPipelines() {
  registerSqzCUDAPasses();
  PassPipelineRegistration<LowerToCUDAOptions>(
      "sqz-lower-to-cuda",
      "Lower the sqz graph IR to an LLVM-dialect host module that launches the model's "
      "kernels (PTX for an NVIDIA GPU, embedded) with the artifact C ABI",
      buildLowerToCUDAPipeline);
}
