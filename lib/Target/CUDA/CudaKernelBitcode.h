//===- CudaKernelBitcode.h - The CUDA kernels' embedded bitcode -*- C++ -*-===//
//
// The linked NVPTX bitcode of lib/Kernels/CUDA, embedded at build time
// (EmbedKernelBitcode.cmake; only when the build has the kernels: SQZ_HAVE_CUDA_KERNEL_BITCODE).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_TARGET_CUDA_CUDAKERNELBITCODE_H
#define SQZ_TARGET_CUDA_CUDAKERNELBITCODE_H

#include "llvm/ADT/StringRef.h"

namespace mlir::sqz {
/// The kernels' bitcode of target `sm` ("sm80", "sm90", or "sm90a": the sm90 kernels plus
/// the wgmma ones); empty for another.
llvm::StringRef getCUDAKernelBitcode(llvm::StringRef sm);
} // namespace mlir::sqz

#endif // SQZ_TARGET_CUDA_CUDAKERNELBITCODE_H
