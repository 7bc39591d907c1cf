// REQUIRES: libdevice
// RUN: sqz-opt %s --pass-pipeline='builtin.module(gpu-kernel-outlining,gpu.module(sqz-cuda-libdevice-calls,convert-gpu-to-nvvm),sqz-cuda-serialize{chip=sm_80 libdevice=%libdevice})' | FileCheck %s
// RUN: sqz-opt %s --pass-pipeline='builtin.module(gpu-kernel-outlining,gpu.module(sqz-cuda-libdevice-calls,convert-gpu-to-nvvm),sqz-cuda-serialize{chip=sm_80 libdevice=%libdevice})' | FileCheck %s --check-prefix=NOEXTERN
// RUN: not sqz-opt %s --pass-pipeline='builtin.module(gpu-kernel-outlining,gpu.module(sqz-cuda-libdevice-calls,convert-gpu-to-nvvm),sqz-cuda-serialize{chip=sm_80 libdevice=%t.missing.bc})' 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not sqz-opt %s --pass-pipeline='builtin.module(gpu-kernel-outlining,gpu.module(sqz-cuda-libdevice-calls,convert-gpu-to-nvvm),sqz-cuda-serialize{chip=sm_80 libdevice=%s})' 2>&1 | FileCheck %s --check-prefix=NOTBC

// An f64 tanh: the libdevice function is linked in (only what is called, internalized:
// no .extern in the PTX, and its __nvvm_reflect queries answered).
// CHECK: gpu.binary @f_kernel
// CHECK-SAME: .version 7.8
// CHECK-SAME: .entry f_kernel(
// CHECK-SAME: fma.rn.f64
// NOEXTERN-NOT: .extern
// NOEXTERN-NOT: __nvvm_reflect
// NOEXTERN-NOT: __nv_sin
// MISSING: error: cannot read libdevice '{{.*}}missing.bc'
// NOTBC: error: '{{.*}}serialize-libdevice.mlir' is not LLVM bitcode
func.func @f(%a: memref<64xf64>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<64xf64>
    %t = math.tanh %v : f64
    memref.store %t, %a[%tx] : memref<64xf64>
    gpu.terminator
  }
  return
}
