// RUN: sqz-opt %s --pass-pipeline='builtin.module(func.func(sqz-cuda-device-memory))' | FileCheck %s

// Host buffers are device allocations (synchronous forms here; gpu-async-region, after
// outlining, queues them with the launches on the call's stream); a global a kernel reads
// moves into the kernel (outlining then copies it into the device module).
// CHECK-LABEL: func.func @f
// CHECK-NOT: gpu.wait
// CHECK: %[[M:.*]] = gpu.alloc () : memref<64xf32>
// CHECK-NOT: memref.alloc
// CHECK: gpu.launch
// CHECK: %[[G:.*]] = memref.get_global @w : memref<64xf32>
// CHECK: memref.load %[[G]]
// CHECK: memref.store %{{.*}}, %[[M]]
// CHECK: gpu.dealloc %[[M]] : memref<64xf32>
// CHECK-NOT: memref.dealloc
// CHECK-NOT: gpu.wait
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
