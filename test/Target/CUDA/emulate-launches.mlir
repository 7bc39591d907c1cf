// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cuda-emulate-launches))' | FileCheck %s

// A block reduction: the blocks as loops (z, y, x), the piece before gpu.all_reduce for every
// thread (its partial value kept in a per-thread buffer), the fold over the threads in
// order, then the piece after it for every thread; no gpu op is left.
// CHECK-LABEL: func.func @reduce
// CHECK: %[[BUF:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step
// CHECK: scf.for %[[BX:.*]] = %{{.*}} to %{{.*}} step
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for %[[TX:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[V:.*]] = memref.load %arg0[%[[BX]], %[[TX]]]
// CHECK: memref.store %[[V]], %[[BUF]]
// CHECK: %[[FIRST:.*]] = memref.load %[[BUF]][%{{.*}}]
// CHECK: %[[SUM:.*]] = scf.for %[[T:.*]] = %{{.*}} iter_args(%[[ACC:.*]] = %[[FIRST]]) -> (f32) {
// CHECK: %[[X:.*]] = memref.load %[[BUF]][%[[T]]]
// CHECK: arith.addf %[[ACC]], %[[X]] : f32
// CHECK: scf.for
// CHECK: arith.cmpi eq
// CHECK: memref.store %[[SUM]], %arg1
// CHECK: memref.dealloc %[[BUF]]
// CHECK-NOT: gpu.
func.func @reduce(%a: memref<4x32xf32>, %out: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%bx, %tx] : memref<4x32xf32>
    %sum = gpu.all_reduce add %v uniform {} : (f32) -> f32
    %c0 = arith.constant 0 : index
    %first = arith.cmpi eq, %tx, %c0 : index
    scf.if %first {
      memref.store %sum, %out[%bx] : memref<4xf32>
    }
    gpu.terminator
  }
  return
}

// -----

// Shared memory and a barrier: the workgroup buffer is a host buffer, the thread index a
// loop index, gpu.thread_id / block_dim ops the loops' values; the element index each
// thread computed before the barrier is kept for it.
// CHECK-LABEL: func.func @reverse
// CHECK: %[[KEPT:.*]] = memref.alloc(%{{.*}}) : memref<?xindex>
// CHECK: %[[SMEM:.*]] = memref.alloc() : memref<32xf32>
// CHECK-COUNT-5: scf.for
// CHECK: scf.for %[[TX:.*]] = %{{.*}} to %[[C32:.*]] step
// CHECK: %[[LIN:.*]] = arith.addi %{{.*}}, %[[TX]] : index
// CHECK: memref.store %{{.*}}, %[[SMEM]][%[[TX]]] : memref<32xf32>
// CHECK: memref.store %{{.*}}, %[[KEPT]][%[[LIN]]] : memref<?xindex>
// CHECK-COUNT-2: scf.for
// CHECK: scf.for %[[TX2:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[LIN2:.*]] = arith.addi %{{.*}}, %[[TX2]] : index
// CHECK: %[[I:.*]] = memref.load %[[KEPT]][%[[LIN2]]] : memref<?xindex>
// CHECK: %[[LAST:.*]] = arith.subi %[[C32]], %{{.*}} : index
// CHECK: %[[R:.*]] = arith.subi %[[LAST]], %[[TX2]]
// CHECK: %[[W:.*]] = memref.load %[[SMEM]][%[[R]]]
// CHECK: memref.store %[[W]], %arg1[%[[I]]]
// CHECK: memref.dealloc %[[KEPT]]
// CHECK: memref.dealloc %[[SMEM]]
// CHECK-NOT: gpu.
func.func @reverse(%a: memref<64xf32>, %b: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1)
             workgroup(%smem : memref<32xf32, #gpu.address_space<workgroup>>) {
    %base = arith.muli %bx, %c32 : index
    %i = arith.addi %base, %tx : index
    %v = memref.load %a[%i] : memref<64xf32>
    memref.store %v, %smem[%tx] : memref<32xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    %t = gpu.thread_id x
    %n = gpu.block_dim x
    %c1_0 = arith.constant 1 : index
    %last = arith.subi %n, %c1_0 : index
    %r = arith.subi %last, %t : index
    %w = memref.load %smem[%r] : memref<32xf32, #gpu.address_space<workgroup>>
    memref.store %w, %b[%i] : memref<64xf32>
    gpu.terminator
  }
  return
}

// -----

// The NVVM intrinsics of sqz-cuda-expand-math become host math ops.
// CHECK-LABEL: func.func @intrinsics
// CHECK: math.sqrt %arg0 : f32
// CHECK: math.floor %{{.*}} : f32
// CHECK: math.trunc %{{.*}} : f64
// CHECK-NOT: llvm.call_intrinsic
func.func @intrinsics(%x: f32, %y: f64) -> (f32, f64) {
  %s = llvm.call_intrinsic "llvm.nvvm.sqrt.rn.f"(%x) : (f32) -> f32
  %f = llvm.call_intrinsic "llvm.nvvm.floor.f"(%s) : (f32) -> f32
  %t = llvm.call_intrinsic "llvm.nvvm.trunc.d"(%y) : (f64) -> f64
  return %f, %t : f32, f64
}
