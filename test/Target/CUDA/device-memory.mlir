// RUN: sqz-opt %s --pass-pipeline='builtin.module(func.func(sqz-cuda-device-memory))' | FileCheck %s

// Host buffers are device allocations on a stream synchronized at once; a global a kernel
// reads moves into the kernel (outlining then copies it into the device module).
// CHECK-LABEL: func.func @f
// CHECK: %[[S0:.*]] = gpu.wait async
// CHECK: %[[M:.*]], %[[T0:.*]] = gpu.alloc async [%[[S0]]] () : memref<64xf32>
// CHECK: gpu.wait [%[[T0]]]
// CHECK-NOT: memref.alloc
// CHECK: gpu.launch
// CHECK: %[[G:.*]] = memref.get_global @w : memref<64xf32>
// CHECK: memref.load %[[G]]
// CHECK: memref.store %{{.*}}, %[[M]]
// CHECK: %[[S1:.*]] = gpu.wait async
// CHECK: %[[T1:.*]] = gpu.dealloc async [%[[S1]]] %[[M]] : memref<64xf32>
// CHECK: gpu.wait [%[[T1]]]
// CHECK-NOT: memref.dealloc
memref.global "private" constant @w : memref<64xf32> = dense<1.0>
func.func @f(%out: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %m = memref.alloc() : memref<64xf32>
  %g = memref.get_global @w : memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %g[%tx] : memref<64xf32>
    memref.store %v, %m[%tx] : memref<64xf32>
    gpu.terminator
  }
  memref.dealloc %m : memref<64xf32>
  return
}
