// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-optimize-vectors))' | FileCheck %s

// The accumulator of a register tile lives in a local allocation that is later viewed by an
// expand_shape (the 2-D result of a collapsed [1, S, d] x [d, N] linear reshaped to 3-D):
// upstream hoisting refuses buffers with view users, the pass carries it in registers anyway.
// CHECK-LABEL: func.func @acc_in_viewed_alloc
//       CHECK:   %[[ALLOC:.*]] = memref.alloc()
//       CHECK:   scf.for %[[N:.*]] =
//       CHECK:     %[[INIT:.*]] = vector.transfer_read %[[ALLOC]][%{{.*}}, %[[N]]]
//       CHECK:     %[[SUM:.*]] = scf.for %{{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (vector<8x32xf32>)
//   CHECK-NOT:       vector.transfer_write
//       CHECK:       vector.fma %{{.*}}, %{{.*}}, %[[ACC]]
//       CHECK:       scf.yield
//       CHECK:     vector.transfer_write %[[SUM]], %[[ALLOC]][%{{.*}}, %[[N]]]
//       CHECK:   memref.expand_shape %[[ALLOC]]
func.func @acc_in_viewed_alloc(%x: memref<1x8x64xf32>, %w: memref<64x64xf32>, %y: memref<1x8x64xf32>) {
  %pad = ub.poison : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %cst = arith.constant 0.0 : f32
  %a = memref.collapse_shape %x [[0, 1], [2]] : memref<1x8x64xf32> into memref<8x64xf32>
  %alloc = memref.alloc() {alignment = 64 : i64} : memref<8x64xf32>
  linalg.fill ins(%cst : f32) outs(%alloc : memref<8x64xf32>)
  scf.for %n = %c0 to %c64 step %c32 {
    scf.for %k = %c0 to %c64 step %c1 {
      %av = vector.transfer_read %a[%c0, %k], %pad {in_bounds = [true, true, true], permutation_map = affine_map<(d0, d1) -> (d0, d1, 0)>} : memref<8x64xf32>, vector<8x1x32xf32>
      %bv = vector.transfer_read %w[%k, %n], %pad {in_bounds = [true, true, true], permutation_map = affine_map<(d0, d1) -> (0, d0, d1)>} : memref<64x64xf32>, vector<8x1x32xf32>
      %acc = vector.transfer_read %alloc[%c0, %n], %pad {in_bounds = [true, true]} : memref<8x64xf32>, vector<8x32xf32>
      %p = arith.mulf %av, %bv fastmath<contract> : vector<8x1x32xf32>
      %p2 = vector.shape_cast %p : vector<8x1x32xf32> to vector<8x32xf32>
      %s = arith.addf %acc, %p2 : vector<8x32xf32>
      vector.transfer_write %s, %alloc[%c0, %n] {in_bounds = [true, true]} : vector<8x32xf32>, memref<8x64xf32>
    }
  }
  %e = memref.expand_shape %alloc [[0, 1], [2]] output_shape [1, 8, 64] : memref<8x64xf32> into memref<1x8x64xf32>
  memref.copy %e, %y : memref<1x8x64xf32> to memref<1x8x64xf32>
  memref.dealloc %alloc : memref<8x64xf32>
  return
}

// -----

// Another access to the allocation inside the loop (here a read of a view of it) keeps the
// read/write pair in the loop.
// CHECK-LABEL: func.func @other_access_in_loop
//       CHECK:   scf.for
//   CHECK-NOT:     iter_args
//       CHECK:     vector.transfer_read %[[ALLOC:.*]][%c0, %{{.*}}]
//       CHECK:     memref.load
//       CHECK:     vector.transfer_write
func.func @other_access_in_loop(%w: memref<64x32xf32>, %y: memref<1x8x32xf32>) {
  %pad = ub.poison : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %alloc = memref.alloc() {alignment = 64 : i64} : memref<8x32xf32>
  %e = memref.expand_shape %alloc [[0, 1], [2]] output_shape [1, 8, 32] : memref<8x32xf32> into memref<1x8x32xf32>
  scf.for %k = %c0 to %c64 step %c1 {
    %acc = vector.transfer_read %alloc[%c0, %c0], %pad {in_bounds = [true, true]} : memref<8x32xf32>, vector<8x32xf32>
    %s0 = memref.load %e[%c0, %c1, %c0] : memref<1x8x32xf32>
    %bv = vector.transfer_read %w[%k, %c0], %pad {in_bounds = [true, true], permutation_map = affine_map<(d0, d1) -> (0, d1)>} : memref<64x32xf32>, vector<8x32xf32>
    %b = vector.broadcast %s0 : f32 to vector<8x32xf32>
    %p = arith.mulf %bv, %b : vector<8x32xf32>
    %s = arith.addf %acc, %p : vector<8x32xf32>
    vector.transfer_write %s, %alloc[%c0, %c0] {in_bounds = [true, true]} : vector<8x32xf32>, memref<8x32xf32>
  }
  memref.copy %e, %y : memref<1x8x32xf32> to memref<1x8x32xf32>
  memref.dealloc %alloc : memref<8x32xf32>
  return
}
