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
// CHECK: %[[SMEM:.*]] = memref.alloc() : memref<32xf32>
// CHECK: %[[KEPT:.*]] = memref.alloc(%{{.*}}) : memref<?xindex>
// CHECK-COUNT-5: scf.for
// CHECK: scf.for %[[TX:.*]] = %{{.*}} to %[[C32:.*]] step
// CHECK: %[[LIN:.*]] = arith.addi %{{.*}}, %[[TX]] : index
// CHECK-NOT: memref.load %[[KEPT]]
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

// Barriers inside a loop (a shared-memory tiled kernel's shape): the loop, whose bounds are
// the same for every thread, runs on the host around the per-thread segments; its
// iteration value is one per thread: set from the initial value before the loop, read by
// the segments, and written from the yielded value after each iteration; the loop's
// result is read from it after the loop.
// CHECK-LABEL: func.func @chunks
// CHECK: %[[SMEM:.*]] = memref.alloc() : memref<4xf32>
// CHECK: %[[ACC:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: scf.for %[[BX:.*]] = %{{.*}} to %{{.*}} step
// The initial value, per thread:
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for
// CHECK: memref.store %{{.*}}, %[[ACC]]
// CHECK: scf.for %[[C:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// Before the first barrier:
// CHECK-COUNT-3: scf.for
// CHECK: memref.load %arg0
// CHECK: memref.store %{{.*}}, %[[SMEM]]
// Between the barriers, the iteration value:
// CHECK-COUNT-3: scf.for
// CHECK: %[[OLD:.*]] = memref.load %[[ACC]]
// CHECK: %[[W:.*]] = memref.load %[[SMEM]]
// CHECK: %[[NEW:.*]] = arith.addf %[[OLD]], %[[W]]
// CHECK: memref.store %[[NEW]], %{{.*}}
// The yield (after the second barrier):
// CHECK-COUNT-3: scf.for
// CHECK: %[[NEXT:.*]] = memref.load
// CHECK: memref.store %[[NEXT]], %[[ACC]]
// After the loop:
// CHECK-COUNT-3: scf.for
// CHECK: %[[FINAL:.*]] = memref.load %[[ACC]]
// CHECK: memref.store %[[FINAL]], %arg1
// CHECK: memref.dealloc %[[SMEM]]
// CHECK-NOT: gpu.
func.func @chunks(%a: memref<16xf32>, %out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1)
             workgroup(%smem : memref<4xf32, #gpu.address_space<workgroup>>) {
    %sum = scf.for %c = %c0 to %c4 step %c1 iter_args(%acc = %zero) -> (f32) {
      %base = arith.muli %c, %c4 : index
      %i = arith.addi %base, %tx : index
      %v = memref.load %a[%i] : memref<16xf32>
      memref.store %v, %smem[%tx] : memref<4xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      %r = arith.subi %c3, %tx : index
      %w = memref.load %smem[%r] : memref<4xf32, #gpu.address_space<workgroup>>
      %next = arith.addf %acc, %w : f32
      gpu.barrier
      scf.yield %next : f32
    }
    memref.store %sum, %out[%tx] : memref<4xf32>
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
