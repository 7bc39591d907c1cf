//===- LowerToCPU.cpp - The sqz-lower-to-cpu pipeline ---------------------===//
//
// Takes the sqz graph IR (tensors; sqz, linalg, tensor, arith, math, func) to the LLVM dialect:
// sqz → linalg, elementwise fusion, One-Shot Bufferize with results turned into out-params,
// ownership-based deallocation, loops, and the upstream conversions to LLVM. The entry
// function gets the artifact C ABI: bare pointers for static models, memref descriptors
// built from the `shapes` argument for dynamic ones (ABI 3, with the output-shape function
// sqz-cpu-prepare-entry derives before the contractions are tiled).
//
// With `ukernels`, linears whose weight a CPU microkernel reads are packed first
// (sqz-materialize) and become kernel calls (sqz-cpu-lower-ukernels); Codegen.cpp links the
// kernels' bitcode.
//
// Contractions are tiled for threads (scf.forall -> scf.parallel -> OpenMP), cache and
// registers and vectorized before bufferization; after it their accumulators are
// hoisted into registers and each multiply-accumulate becomes a vector.fma
// (outer products). docs/Codegen.md describes the generated code.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

int64_t mlir::sqz::getCPUVectorWidth(llvm::StringRef targetCPU) {
  if (targetCPU.empty() || targetCPU == "native") {
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    if (features.lookup("avx512f"))
      return 16;
    return features.lookup("avx") ? 8 : 4;
  }
  llvm::InitializeNativeTarget();
  std::string error;
  llvm::Triple triple(llvm::sys::getProcessTriple());
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return 4;
  std::unique_ptr<llvm::MCSubtargetInfo> sti(
      target->createMCSubtargetInfo(triple, targetCPU, ""));
  if (!sti)
    return 4;
  auto has = [&](llvm::StringRef feature) {
    return sti->checkFeatures(("+" + feature).str());
  };
  if (has("avx512f"))
    return 16;
  return has("avx") ? 8 : 4;
}

std::vector<std::string> mlir::sqz::getCPUFeatureNames(llvm::StringRef targetCPU) {
  static const char *const kCheckable[] = {
      "sse4.2",   "popcnt",   "avx",      "avx2",       "fma",        "f16c",
      "bmi",      "bmi2",     "avx512f",  "avx512bw",   "avx512dq",   "avx512vl",
      "avx512cd", "avx512vnni", "avx512bf16", "avx512fp16", "avxvnni"};
  std::vector<std::string> names;
  if (targetCPU.empty() || targetCPU == "native") {
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    for (const char *name : kCheckable)
      if (features.lookup(name))
        names.push_back(name);
    return names;
  }
  llvm::InitializeNativeTarget();
  std::string error;
  llvm::Triple triple(llvm::sys::getProcessTriple());
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return names;
  std::unique_ptr<llvm::MCSubtargetInfo> sti(
      target->createMCSubtargetInfo(triple, targetCPU, ""));
  if (!sti)
    return names;
  for (const char *name : kCheckable)
    if (sti->checkFeatures(std::string("+") + name))
      names.push_back(name);
  return names;
}

std::vector<std::string> mlir::sqz::getUKernelISAFeatures(llvm::StringRef isa) {
  // x86-64-v3 (as the runtime can check it), then x86-64-v4, then VNNI.
  std::vector<std::string> names;
  if (isa != "avx2" && isa != "avx512" && isa != "avx512vnni")
    return names;
  names = {"sse4.2", "popcnt", "avx", "avx2", "fma", "f16c", "bmi", "bmi2"};
  if (isa == "avx2")
    return names;
  for (const char *name : {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"})
    names.push_back(name);
  if (isa == "avx512vnni")
    names.push_back("avx512vnni");
  return names;
}

std::string mlir::sqz::getUKernelISA(llvm::StringRef targetCPU) {
  std::vector<std::string> have = getCPUFeatureNames(targetCPU);
  for (const char *isa : {"avx512vnni", "avx512", "avx2"}) {
    std::vector<std::string> need = getUKernelISAFeatures(isa);
    if (llvm::all_of(need, [&](const std::string &f) { return llvm::is_contained(have, f); }))
      return isa;
  }
  return "generic";
}

/// A pass option value in a textual pipeline: quoted, so paths with spaces or braces survive.
static std::string quoteOption(llvm::StringRef value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

void mlir::sqz::buildLowerToCPUPipeline(OpPassManager &pm,
                                        const LowerToCPUOptions &opts) {
  std::string entry = opts.entry;
  int64_t vectorWidth = getCPUVectorWidth(opts.targetCPU);
  // Microkernels: packed weights for target-cpu's ISA level (sqz-materialize), lowered to
  // calls before convert-sqz-to-linalg takes the other sqz ops.
  std::string materialize;
  if (opts.ukernels) {
    materialize = "sqz-materialize{target=cpu isa=" + getUKernelISA(opts.targetCPU);
    if (!opts.ukernelFormats.empty())
      materialize += " formats=" + llvm::join(opts.ukernelFormats, ",");
    if (opts.ukernelAct != "f32")
      materialize += " act=" + opts.ukernelAct;
    materialize += "},";
  }
  // Upstream passes are named textually: their textual names are the stable interface
  // across MLIR releases (the C++ factory names are not).
  std::string pipeline = llvm::formatv(
      "sqz-strip-observe,sqz-lower-moe,{3}sqz-cpu-lower-ukernels,"
      "convert-sqz-to-linalg{{transpose-weights},canonicalize,cse,"
      "func.func(convert-elementwise-to-linalg,sqz-cpu-fuse-elementwise),"
      "sqz-cpu-prepare-entry{{entry={0}},"
      "func.func(sqz-cpu-tile-contractions{{vector-width={1}},canonicalize),"
      "one-shot-bufferize{{bufferize-function-boundaries "
      "function-boundary-type-conversion=identity-layout-map},"
      "buffer-results-to-out-params{{hoist-static-allocs modify-public-functions},"
      "sqz-cpu-forward-outputs{{entry={0}},"
      "buffer-deallocation-pipeline,"
      "sqz-cpu-externalize-weights{{entry={0} weights-file={2}},"
      "func.func(sqz-cpu-legalize-memrefs,sqz-cpu-optimize-vectors,convert-linalg-to-loops,"
      "canonicalize),"
      "scf-forall-to-parallel,convert-scf-to-openmp,canonicalize,"
      "convert-vector-to-scf{{full-unroll},"
      "convert-scf-to-cf,expand-strided-metadata,lower-affine,"
      "finalize-memref-to-llvm{{use-generic-functions},"
      "convert-vector-to-llvm{{vector-contract-lowering=outerproduct},"
      "convert-math-to-llvm,convert-math-to-libm,"
      "convert-arith-to-llvm,convert-index-to-llvm,"
      "sqz-cpu-convert-func-to-llvm{{entry={0}},"
      "convert-cf-to-llvm,convert-ub-to-llvm,convert-openmp-to-llvm,reconcile-unrealized-casts",
      entry, vectorWidth, quoteOption(opts.weightsFile), materialize);
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
