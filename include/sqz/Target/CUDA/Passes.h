//===- Passes.h - CUDA target passes and pipeline ---------------*- C++ -*-===//
//
// The `sqz-lower-to-cuda` pipeline (sqz graph IR to an LLVM-dialect host module that embeds
// the model's PTX) and the passes it is made of. docs/CUDA.md describes them.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_TARGET_CUDA_PASSES_H
#define SQZ_TARGET_CUDA_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <string>

namespace mlir::sqz {

#define GEN_PASS_DECL
#include "sqz/Target/CUDA/Passes.h.inc"

/// The GPU architectures the CUDA target generates code for.
constexpr llvm::StringLiteral kCUDAChips = "sm_80, sm_90, sm_90a";

/// The launch of a CUDA kernel wrapper before bufferization (sqz-cuda-lower-kernels): a
/// func.call of a private declaration named like the wrapper gpu.func, with this attribute
/// (`array<i64: grid x, y, z, block x, y, z, dynamic shared bytes>`), which
/// sqz-cuda-map-to-gpu turns into a gpu.launch_func of @<kCUDAKernelModule>::@<callee>. (A
/// gpu.launch_func has no memory-effect interface, so the buffer deallocation pipeline would
/// refuse it.)
/// A grid x of -1 there: a dynamic M, the call's first operand is grid x (an index; the rest
/// are the wrapper's arguments), and the callee is a declaration named like the wrapper with
/// "_dynamic_grid". Either way kCUDAKernelAttr names the wrapper.
constexpr llvm::StringLiteral kCUDALaunchAttr = "sqz.cuda_launch";
constexpr llvm::StringLiteral kCUDAKernelAttr = "sqz.cuda_kernel";
/// The gpu.module holding the CUDA kernel wrappers.
constexpr llvm::StringLiteral kCUDAKernelModule = "sqz_cuda_kernels";

/// Parses a `--target` value `cuda:<chip>` into the chip (`sm_80`, `sm_90`, `sm_90a`).
/// On failure returns an empty string and sets `error` (naming the accepted values).
std::string parseCUDATarget(llvm::StringRef target, std::string &error);

/// The PTX ISA version feature LLVM's NVPTX backend gets for `chip` (`+ptx78` for sm_80
/// and sm_90, `+ptx80` for sm_90a), empty for an unknown chip.
std::string getCUDAPTXFeatures(llvm::StringRef chip);

/// The libdevice bitcode the `libdevice` option of `sqz-lower-to-cuda` names: `none` gives
/// none (empty); a path itself; empty the first of $SQZ_LIBDEVICE (`none`: none),
/// $CUDA_HOME/nvvm/libdevice/libdevice.10.bc and
/// /usr/local/cuda/nvvm/libdevice/libdevice.10.bc that exists (else empty).
std::string findLibdevice(llvm::StringRef option);

/// Options of the `sqz-lower-to-cuda` pipeline.
struct LowerToCUDAOptions : public PassPipelineOptions<LowerToCUDAOptions> {
  PassOptions::Option<std::string> entry{
      *this, "entry", llvm::cl::desc("Name of the entry function"), llvm::cl::init("main")};
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("GPU architecture: sm_80, sm_90 or sm_90a"),
      llvm::cl::init("sm_80")};
  PassOptions::Option<std::string> weightsFile{
      *this, "weights-file",
      llvm::cl::desc("Write the constant weights to this safetensors file; the entry reads "
                     "them from the weights buffer, a device pointer (ABI 2); empty: keep "
                     "them in the device module"),
      llvm::cl::init("")};
  PassOptions::Option<bool> emitCABI{
      *this, "emit-c-abi",
      llvm::cl::desc("Add the artifact C ABI entry points (sqz_model_invoke)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> serialize{
      *this, "serialize",
      llvm::cl::desc("Compile the device module to PTX (gpu-module-to-binary); false: stop "
                     "with the NVVM-dialect gpu.module (for tests)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> kernels{
      *this, "kernels",
      llvm::cl::desc("Pack the linears for the CUDA kernels (sqz-materialize{target=cuda}) and "
                     "launch them (sqz-cuda-lower-kernels; needs weights-file: the blobs live "
                     "in the weights buffer); false: generated code only"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> emulate{
      *this, "emulate",
      llvm::cl::desc("Run the generated kernels on the host (sqz-cuda-emulate-launches) "
                     "instead of compiling them for the GPU: a CPU module (host buffers, no "
                     "PTX) for checking the CUDA target's generated code without a GPU; the "
                     "CUDA kernels are not used (as kernels=false)"),
      llvm::cl::init(false)};
  PassOptions::Option<std::string> libdevice{
      *this, "libdevice",
      llvm::cl::desc("libdevice bitcode for the f64 functions it has (tanh, sin, erf...; "
                     "without one they run the target's own f64 code): a path, empty to "
                     "look for a CUDA toolkit's ($SQZ_LIBDEVICE, "
                     "$CUDA_HOME/nvvm/libdevice/libdevice.10.bc, "
                     "/usr/local/cuda/nvvm/libdevice/libdevice.10.bc), or none"),
      llvm::cl::init("")};
  PassOptions::Option<int64_t> blockSize{
      *this, "block-size",
      llvm::cl::desc("Threads of a block of the one-thread-per-element kernels"),
      llvm::cl::init(256)};
};

/// `sqz-lower-to-cuda`: sqz graph IR (tensors) to an LLVM-dialect host module whose
/// `gpu.binary` holds the device code as PTX.
void buildLowerToCUDAPipeline(OpPassManager &pm, const LowerToCUDAOptions &opts);

/// Registers the CUDA passes and the `sqz-lower-to-cuda` pipeline.
void registerCUDAPipelines();

#define GEN_PASS_REGISTRATION
#include "sqz/Target/CUDA/Passes.h.inc"

} // namespace mlir::sqz

#endif // SQZ_TARGET_CUDA_PASSES_H
