// RUN: sqz-opt %s --gpu-kernel-outlining --sqz-cuda-merge-kernel-modules | FileCheck %s
// RUN: sqz-opt %s --gpu-kernel-outlining --sqz-cuda-merge-kernel-modules | grep -c "memref.global" | FileCheck %s --check-prefix=COUNT
// COUNT: 2

// Two outlined kernels end in one gpu.module, with one copy of the global both read.
// CHECK: gpu.launch_func @f_kernel::@f_kernel
// CHECK: gpu.launch_func @f_kernel::@f_kernel_0
// CHECK: gpu.module @f_kernel
// CHECK-DAG: gpu.func @f_kernel(
// CHECK-DAG: gpu.func @f_kernel_0(
// CHECK-DAG: memref.global "private" constant @w
// CHECK-NOT: gpu.module
module {
  memref.global "private" constant @w : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
  func.func @f(%b: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1) {
      %g = memref.get_global @w : memref<4xf32>
      %v = memref.load %g[%tx] : memref<4xf32>
      memref.store %v, %b[%tx] : memref<4xf32>
      gpu.terminator
    }
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1) {
      %g = memref.get_global @w : memref<4xf32>
      %v = memref.load %g[%tx] : memref<4xf32>
      %d = arith.addf %v, %v : f32
      memref.store %d, %b[%tx] : memref<4xf32>
      gpu.terminator
    }
    return
  }
}
