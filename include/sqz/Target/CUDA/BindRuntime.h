//===- BindRuntime.h - Route mgpu* calls through sqz_gpu_api -----*- C++ -*-===//
//
// MLIR's gpu-to-llvm lowering (and the gpu.binary/launch_func translation)
// makes host code that calls the mgpu* wrappers of MLIR's CUDA runtime and
// loads its kernels from llvm.global_ctors. A Squeeze CUDA artifact resolves
// none of that against the loader: bindGpuRuntime rewrites every mgpu* call
// into a call through the runtime's table (include/sqz-c/sqz_gpu.h), held in
// a module-private global, and replaces the GPU ctors/dtors with two exported
// functions the runtime calls after dlopen and before dlclose:
//
//   int32_t sqz_model_gpu_bind(const sqz_gpu_api *api);
//       stores `api`, then runs the former ctors (module loads); returns
//       SQZ_GPU_BIND_OK (0), or a nonzero SQZ_GPU_BIND_* code
//   void sqz_model_gpu_unbind(void);
//       runs the former dtors (module unloads) and forgets the table
//
// See docs/Runtime.md ("Running on a GPU") for the mapping table.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_TARGET_CUDA_BINDRUNTIME_H
#define SQZ_TARGET_CUDA_BINDRUNTIME_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace llvm {
class Module;
} // namespace llvm

namespace sqz::cuda {

/// The exported entry points bindGpuRuntime adds.
inline constexpr llvm::StringLiteral kGpuBindSymbol = "sqz_model_gpu_bind";
inline constexpr llvm::StringLiteral kGpuUnbindSymbol = "sqz_model_gpu_unbind";
/// The module-private global holding the bound `const sqz_gpu_api *`.
inline constexpr llvm::StringLiteral kGpuApiGlobal = "__sqz_gpu_api";

/// Rewrites `hostModule` (x86-64 host code from MLIR's gpu-to-llvm output) as described
/// above. Fails, leaving the module in an unspecified state, when the module calls an mgpu*
/// function the table does not provide (cuSPARSE ops, gpu.host_register, TMA descriptors),
/// declares one with a signature other than MLIR 22's, uses one other than by calling it, or
/// already has the bind functions.
llvm::Error bindGpuRuntime(llvm::Module &hostModule);

} // namespace sqz::cuda

#endif // SQZ_TARGET_CUDA_BINDRUNTIME_H
