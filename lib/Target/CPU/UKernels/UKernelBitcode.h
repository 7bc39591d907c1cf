//===- UKernelBitcode.h - The microkernels' embedded bitcode ----*- C++ -*-===//
//
// The LLVM bitcode of the CPU microkernels (lib/Kernels/CPU), one module per ISA level,
// compiled by clang-22 at build time and embedded into the compiler (the generated
// UKernelBitcode.cpp; lib/Target/CPU/CMakeLists.txt). Codegen.cpp links it into models.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_TARGET_CPU_UKERNELS_UKERNELBITCODE_H
#define SQZ_TARGET_CPU_UKERNELS_UKERNELBITCODE_H

#include "llvm/ADT/StringRef.h"

namespace mlir::sqz {
/// The bitcode of ISA level `isa` (generic, avx2, avx512, avx512vnni); empty if unknown.
llvm::StringRef getUKernelBitcode(const char *isa);
} // namespace mlir::sqz

#endif // SQZ_TARGET_CPU_UKERNELS_UKERNELBITCODE_H
