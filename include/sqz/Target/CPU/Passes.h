//===- Passes.h - CPU target passes and pipeline ----------------*- C++ -*-===//
//
// The `sqz-lower-to-cpu` pipeline and the passes that give a compiled model its C ABI.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_TARGET_CPU_PASSES_H
#define SQZ_TARGET_CPU_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <string>
#include <vector>

namespace mlir::sqz {

#define GEN_PASS_DECL
#include "sqz/Target/CPU/Passes.h.inc"

/// Module attribute (unit) of a model with a dynamic entry input or output dim, set by
/// sqz-cpu-prepare-entry: it is compiled for the artifact ABI 3.
constexpr llvm::StringLiteral kDynamicShapesAttr = "sqz.dynamic_shapes";
/// Module attribute (ArrayAttr of DenseI64ArrayAttr, -1 for dynamic dims) of a dynamic model:
/// the shapes of the entry function's memref arguments (inputs, outputs, weights) before
/// sqz-cpu-convert-func-to-llvm expanded them into descriptors.
constexpr llvm::StringLiteral kEntryArgShapesAttr = "sqz.entry_arg_shapes";
/// Module attribute (ArrayAttr of DenseI64ArrayAttr) of a dynamic model, set by
/// sqz-cpu-prepare-entry: per output, the bound of each dim (static dims repeat their size;
/// -1: unbounded), derived from the inputs' static dims and `sqz.max_shape` bounds.
constexpr llvm::StringLiteral kOutputMaxShapesAttr = "sqz.output_max_shapes";
/// The ABI 3 function that computes the output shapes from the input shapes.
constexpr llvm::StringLiteral kOutputShapesFunction = "sqz_model_output_shapes";

/// Options of the `sqz-lower-to-cpu` pipeline.
struct LowerToCPUOptions : public PassPipelineOptions<LowerToCPUOptions> {
  PassOptions::Option<std::string> entry{
      *this, "entry", llvm::cl::desc("Name of the entry function"),
      llvm::cl::init("main")};
  PassOptions::Option<bool> emitCABI{
      *this, "emit-c-abi",
      llvm::cl::desc("Add the artifact C ABI entry points (sqz_model_invoke)"),
      llvm::cl::init(true)};
  PassOptions::Option<std::string> weightsFile{
      *this, "weights-file",
      llvm::cl::desc("Write the large constant weights to this safetensors file and read "
                     "them from the artifact's weights buffer (ABI 2); empty: keep them in "
                     "the library"),
      llvm::cl::init("")};
  PassOptions::Option<std::string> targetCPU{
      *this, "target-cpu",
      llvm::cl::desc("CPU the code is for (native or an LLVM CPU name); sets the "
                     "vector width of the contraction kernels"),
      llvm::cl::init("native")};
  PassOptions::Option<bool> ukernels{
      *this, "ukernels",
      llvm::cl::desc("Run sqz-materialize first: compressed (and, per ukernel-formats, dense) "
                     "linears call the CPU microkernels of target-cpu's ISA level"),
      llvm::cl::init(false)};
  PassOptions::ListOption<std::string> ukernelFormats{
      *this, "ukernel-formats",
      llvm::cl::desc("With ukernels: the kernels sqz-materialize may use (its `formats`; "
                     "default: its default)")};
  PassOptions::Option<std::string> ukernelAct{
      *this, "ukernel-act",
      llvm::cl::desc("With ukernels: activations of the int8/int4/nf4 kernels (sqz-materialize's "
                     "`act`: f32, int8 or auto)"),
      llvm::cl::init("f32")};
};

/// f32 lanes of the widest SIMD register of `targetCPU` (`native`: the host): 16 with
/// AVX-512F, 8 with AVX, otherwise 4.
int64_t getCPUVectorWidth(llvm::StringRef targetCPU);

/// The instruction-set features the runtime can check at load (lib/Runtime/CpuFeatures.cpp:
/// sse4.2, popcnt, avx, avx2, fma, f16c, bmi, bmi2, avx512f/bw/dq/vl/cd/vnni/bf16/fp16,
/// avxvnni) that code for `targetCPU` ("native" or empty: the host) may use; recorded in the
/// manifest as "cpu_features".
std::vector<std::string> getCPUFeatureNames(llvm::StringRef targetCPU);

/// Module attribute (string) set by sqz-cpu-lower-ukernels: the ISA level of the microkernels
/// the module calls (their bitcode is linked by translateToOptimizedLLVMIR).
constexpr llvm::StringLiteral kUKernelISAAttr = "sqz.ukernel_isa";

/// The best microkernel ISA level (`generic`, `avx2`, `avx512`, `avx512vnni`) whose
/// features `targetCPU` ("native" or empty: the host) has.
std::string getUKernelISA(llvm::StringRef targetCPU);

/// The cpu_features names (as getCPUFeatureNames spells them) the kernels of ISA level
/// `isa` need; empty for `generic` or an unknown name.
std::vector<std::string> getUKernelISAFeatures(llvm::StringRef isa);

/// `sqz-lower-to-cpu`: sqz graph IR (tensors) to the LLVM dialect.
void buildLowerToCPUPipeline(OpPassManager &pm, const LowerToCPUOptions &opts);

/// Registers the CPU passes and the `sqz-lower-to-cpu` pipeline.
void registerCPUPipelines();

#define GEN_PASS_REGISTRATION
#include "sqz/Target/CPU/Passes.h.inc"

} // namespace mlir::sqz

#endif // SQZ_TARGET_CPU_PASSES_H
