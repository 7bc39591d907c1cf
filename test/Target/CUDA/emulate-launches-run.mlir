// REQUIRES: mlir-runner
// sqz-cuda-emulate-launches on hand-written kernels with block-wide synchronizations inside
// loops, run on the host: iteration values that swap, a sync loop nested in another (its
// bound the outer loop's index), a gpu.all_reduce inside a loop, and a barrier-separated
// exchange through shared memory in each iteration. The expected numbers are worked out in
// the comments (what a GPU computes for these race-free kernels).
// RUN: sqz-opt %s --pass-pipeline='builtin.module(func.func(sqz-cuda-emulate-launches),convert-scf-to-cf,expand-strided-metadata,finalize-memref-to-llvm,convert-arith-to-llvm,convert-index-to-llvm,convert-func-to-llvm,convert-cf-to-llvm,reconcile-unrealized-casts)' \
// RUN:   | mlir-runner -e main -entry-point-result=void %mlir_runner_libs | FileCheck %s

func.func private @printMemrefF32(memref<*xf32>)

// 4 threads, one block. Per thread t: (p, q) = (t, 10 t); 3 iterations of: every thread
// writes p to smem[t], barrier, (p, q) = (q, 2 p + smem[(t + 1) % 4]) (a swap through the
// iteration values), barrier. Then out[t] = p, out2[t] = q. By hand (p0..p3 | q0..q3):
// (0 1 2 3 | 0 10 20 30) -> (0 10 20 30 | 1 4 7 6) -> (1 4 7 6 | 10 40 70 60)
// -> (10 40 70 60 | 6 15 20 13).
// CHECK: sizes = [4]
// CHECK-NEXT: [10,  40,  70,  60]
// CHECK: sizes = [4]
// CHECK-NEXT: [6,  15,  20,  13]
func.func @swap(%out: memref<4xf32>, %out2: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %ten = arith.constant 10.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1)
             workgroup(%smem : memref<4xf32, #gpu.address_space<workgroup>>) {
    %ti = arith.index_cast %tx : index to i32
    %t = arith.sitofp %ti : i32 to f32
    %t10 = arith.mulf %t, %ten : f32
    %p, %q = scf.for %i = %c0 to %c3 step %c1 iter_args(%a = %t, %b = %t10) -> (f32, f32) {
      memref.store %a, %smem[%tx] : memref<4xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      %t1 = arith.addi %tx, %c1 : index
      %r = arith.remui %t1, %c4 : index
      %w = memref.load %smem[%r] : memref<4xf32, #gpu.address_space<workgroup>>
      %a2 = arith.addf %a, %a : f32
      %n = arith.addf %a2, %w : f32
      gpu.barrier
      scf.yield %b, %n : f32, f32
    }
    memref.store %p, %out[%tx] : memref<4xf32>
    memref.store %q, %out2[%tx] : memref<4xf32>
    gpu.terminator
  }
  return
}

// 8 threads. For i in 0..4, for j in 0..i (a sync loop nested in a sync loop, bounded by
// the outer index): s = all_reduce add of (t + i + j) over the 8 threads = 28 + 8 (i + j);
// acc += s. Total over (i, j), j < i: pairs (1,0) (2,0) (2,1) (3,0) (3,1) (3,2): 6 * 28 +
// 8 * (1 + 2 + 3 + 3 + 4 + 5) = 168 + 144 = 312; plus t * i for the thread's own term
// added after each inner loop (sum of i = 6): out[t] = 312 + 6 t.
// CHECK: sizes = [8]
// CHECK-NEXT: [312,  318,  324,  330,  336,  342,  348,  354]
func.func @nested(%out: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c8, %sy = %c1, %sz = %c1) {
    %total = scf.for %i = %c0 to %c4 step %c1 iter_args(%acc = %zero) -> (f32) {
      %inner = scf.for %j = %c0 to %i step %c1 iter_args(%acc2 = %acc) -> (f32) {
        %sum = arith.addi %tx, %i : index
        %v = arith.addi %sum, %j : index
        %vi = arith.index_cast %v : index to i32
        %vf = arith.sitofp %vi : i32 to f32
        %s = gpu.all_reduce add %vf uniform {} : (f32) -> f32
        %n = arith.addf %acc2, %s : f32
        scf.yield %n : f32
      }
      %ti = arith.muli %tx, %i : index
      %tii = arith.index_cast %ti : index to i32
      %tf = arith.sitofp %tii : i32 to f32
      %m = arith.addf %inner, %tf : f32
      scf.yield %m : f32
    }
    memref.store %total, %out[%tx] : memref<8xf32>
    gpu.terminator
  }
  return
}

func.func @main() {
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  call @swap(%a, %b) : (memref<4xf32>, memref<4xf32>) -> ()
  %au = memref.cast %a : memref<4xf32> to memref<*xf32>
  call @printMemrefF32(%au) : (memref<*xf32>) -> ()
  %bu = memref.cast %b : memref<4xf32> to memref<*xf32>
  call @printMemrefF32(%bu) : (memref<*xf32>) -> ()
  %c = memref.alloc() : memref<8xf32>
  call @nested(%c) : (memref<8xf32>) -> ()
  %cu = memref.cast %c : memref<8xf32> to memref<*xf32>
  call @printMemrefF32(%cu) : (memref<*xf32>) -> ()
  return
}
