// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(gpu-kernel-outlining,gpu.module(convert-gpu-to-nvvm),sqz-cuda-serialize{chip=sm_80})' -verify-diagnostics | FileCheck %s
// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(gpu-kernel-outlining,gpu.module(convert-gpu-to-nvvm),sqz-cuda-serialize{chip=sm_90a})' -verify-diagnostics | FileCheck %s --check-prefix=SM90A

// The device module becomes PTX from LLVM's NVPTX backend, without a CUDA toolkit: the
// block reduction is warp shuffles plus a shared-memory exchange.
// CHECK: gpu.launch_func @f_kernel::@f_kernel
// CHECK: gpu.binary @f_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_80", features = "+ptx78">, assembly = "
// CHECK-SAME: .version 7.8
// CHECK-SAME: .target sm_80
// CHECK-SAME: .entry f_kernel(
// CHECK-SAME: .shared
// CHECK-SAME: shfl.sync.bfly.b32
// CHECK-SAME: bar.sync
// SM90A: features = "+ptx82"
// SM90A-SAME: .version 8.2
// SM90A-SAME: .target sm_90a
func.func @f(%a: memref<256xf32>, %b: memref<256xf32>) {
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    %r = gpu.all_reduce add %v uniform {} : (f32) -> (f32)
    memref.store %r, %b[%tx] : memref<256xf32>
    gpu.terminator
  }
  return
}

// -----

// A libdevice call (math.exp that sqz-cuda-expand-math did not expand) is an error.
func.func @g(%a: memref<256xf32>) {
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  // expected-error @+1 {{the device code calls '__nv_expf', which it does not define (a libdevice function: give sqz-cuda-serialize a libdevice, or expand the math function, see sqz-cuda-expand-math)}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    %e = math.exp %v : f32
    memref.store %e, %a[%tx] : memref<256xf32>
    gpu.terminator
  }
  return
}

// -----

// A CUDA kernel the embedded bitcode does not have is an error naming it (with the kernels'
// bitcode linked, LinkOnlyNeeded, before the check).
llvm.func @sqz_cuk_missing_sm80(!llvm.ptr)
func.func @h(%p: !llvm.ptr) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{the device code calls 'sqz_cuk_missing_sm80', which it does not define}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    llvm.call @sqz_cuk_missing_sm80(%p) : (!llvm.ptr) -> ()
    gpu.terminator
  }
  return
}
