// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-tile-contractions{vector-width=16 min-parallel-work=4096},canonicalize))' | FileCheck %s
// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-tile-contractions{parallel=false vectorize=false},canonicalize))' | FileCheck %s --check-prefix=BLOCKS
// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-tile-contractions{vector-width=16},canonicalize))' | FileCheck %s --check-prefix=SMALL

// Batched contractions (attention on [batch, heads, seq, dim] tensors, batch_matmul) become
// an scf.forall over the batch loops around 2-D (m, k, n) contractions on rank-reduced
// slices, register-tiled and vectorized like a linear, with no scf.forall of their own.

// Q·Kᵀ of grouped-query attention: [b, kvh, g, i, c] x [b, kvh, j, c] -> [b, kvh, g, i, j].
// K is read along its rows (n = j outermost), so it is transposed once to [b, kvh, c, j]
// and each k step reads a contiguous row of 32 lanes.
// CHECK-LABEL: func.func @qk
// CHECK: %[[KT:.*]] = linalg.transpose ins(%{{.*}} : tensor<1x2x32x64xf32>) outs(%{{.*}} : tensor<1x2x64x32xf32>) permutation = [0, 1, 3, 2]
// CHECK: scf.forall (%[[H:.*]], %[[G:.*]]) in (2, 2) shared_outs(%[[O:.*]] = %{{.*}}) -> (tensor<1x2x2x16x32xf32>)
// CHECK: tensor.extract_slice %[[KT]][0, %[[H]], 0, 0] [1, 1, 64, 32]
// CHECK: tensor.extract_slice %{{.*}} : tensor<1x1x64x32xf32> to tensor<64x32xf32>
// CHECK-NOT: scf.forall
// CHECK: scf.for %{{.*}} iter_args(%{{.*}}) -> (tensor<16x32xf32>)
// CHECK: scf.for %{{.*}} iter_args(%{{.*}}) -> (tensor<8x32xf32>)
// CHECK: vector.transfer_read {{.*}} : tensor<8x1xf32>, vector<8x1x32xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<1x32xf32>, vector<8x1x32xf32>
// CHECK: arith.mulf %{{.*}}, %{{.*}} fastmath<contract> : vector<8x1x32xf32>
// CHECK: arith.addf {{.*}} : vector<8x32xf32>
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[O]][0, %[[H]], %[[G]], 0, 0] [1, 1, 1, 16, 32]
// BLOCKS-LABEL: func.func @qk
// BLOCKS-NOT: scf.
// BLOCKS-NOT: linalg.transpose
func.func @qk(%q: tensor<1x2x2x16x64xf32>, %k: tensor<1x2x32x64xf32>, %acc: tensor<1x2x2x16x32xf32>) -> tensor<1x2x2x16x32xf32> {
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d5)>, affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d4, d5)>, affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x2x2x16x64xf32>, tensor<1x2x32x64xf32>) outs(%acc : tensor<1x2x2x16x32xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<1x2x2x16x32xf32>
  return %y : tensor<1x2x2x16x32xf32>
}

// -----

// P·V: [b, kvh, g, i, j] x [b, kvh, j, c] -> [b, kvh, g, i, c]; V (broadcast over g) is
// already [k, n], so it is read in place.
// CHECK-LABEL: func.func @pv
// CHECK-NOT: linalg.transpose
// CHECK: scf.forall (%[[H:.*]], %[[G:.*]]) in (2, 2)
// CHECK: tensor.extract_slice %{{.*}}[0, %[[H]], 0, 0] [1, 1, 32, 64] [1, 1, 1, 1] : tensor<1x2x32x64xf32> to tensor<1x1x32x64xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<1x32xf32>, vector<8x1x32xf32>
// CHECK: arith.addf {{.*}} : vector<8x32xf32>
func.func @pv(%p: tensor<1x2x2x16x32xf32>, %v: tensor<1x2x32x64xf32>, %acc: tensor<1x2x2x16x64xf32>) -> tensor<1x2x2x16x64xf32> {
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d5)>, affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d5, d4)>, affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%p, %v : tensor<1x2x2x16x32xf32>, tensor<1x2x32x64xf32>) outs(%acc : tensor<1x2x2x16x64xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<1x2x2x16x64xf32>
  return %y : tensor<1x2x2x16x64xf32>
}

// -----

// linalg.batch_matmul: generalized, one forall over the 4 batches.
// CHECK-LABEL: func.func @batch_matmul
// CHECK-NOT: linalg.batch_matmul
// CHECK: scf.forall (%{{.*}}) in (4)
// CHECK: vector<8x1x32xf32>
// BLOCKS-LABEL: func.func @batch_matmul
// BLOCKS: linalg.batch_matmul
func.func @batch_matmul(%a: tensor<4x64x256xf32>, %b: tensor<4x256x512xf32>, %c: tensor<4x64x512xf32>) -> tensor<4x64x512xf32> {
  %y = linalg.batch_matmul ins(%a, %b : tensor<4x64x256xf32>, tensor<4x256x512xf32>) outs(%c : tensor<4x64x512xf32>) -> tensor<4x64x512xf32>
  return %y : tensor<4x64x512xf32>
}

// -----

// A matmul with the reduction innermost and no batch: rebuilt as an (m, k, n) generic and
// planned like a linear (here parallel column blocks).
// CHECK-LABEL: func.func @matmul
// CHECK: scf.forall (%{{.*}}) = (0) to (512) step (256)
// CHECK: vector<8x1x32xf32>
func.func @matmul(%a: tensor<16x512xf32>, %b: tensor<512x512xf32>, %c: tensor<16x512xf32>) -> tensor<16x512xf32> {
  %y = linalg.matmul ins(%a, %b : tensor<16x512xf32>, tensor<512x512xf32>) outs(%c : tensor<16x512xf32>) -> tensor<16x512xf32>
  return %y : tensor<16x512xf32>
}

// -----

// Left alone: a dynamic batch, two reduction loops, a body that is not a multiply-add, and
// an output whose last dim is a batch dim.
// CHECK-LABEL: func.func @dynamic
// CHECK-NOT: scf.
// CHECK: linalg.generic
func.func @dynamic(%q: tensor<?x16x64xf32>, %k: tensor<?x32x64xf32>, %acc: tensor<?x16x32xf32>) -> tensor<?x16x32xf32> {
  %y = linalg.generic {indexing_maps = [affine_map<(b, i, j, c) -> (b, i, c)>, affine_map<(b, i, j, c) -> (b, j, c)>, affine_map<(b, i, j, c) -> (b, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<?x16x64xf32>, tensor<?x32x64xf32>) outs(%acc : tensor<?x16x32xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x16x32xf32>
  return %y : tensor<?x16x32xf32>
}

// CHECK-LABEL: func.func @two_reductions
// CHECK-NOT: scf.
// CHECK: linalg.generic
func.func @two_reductions(%a: tensor<16x8x8xf32>, %b: tensor<8x8x32xf32>, %acc: tensor<16x32xf32>) -> tensor<16x32xf32> {
  %y = linalg.generic {indexing_maps = [affine_map<(i, j, r, s) -> (i, r, s)>, affine_map<(i, j, r, s) -> (r, s, j)>, affine_map<(i, j, r, s) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%a, %b : tensor<16x8x8xf32>, tensor<8x8x32xf32>) outs(%acc : tensor<16x32xf32>) {
  ^bb0(%x: f32, %w: f32, %o: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<16x32xf32>
  return %y : tensor<16x32xf32>
}

// CHECK-LABEL: func.func @max_plus
// CHECK-NOT: scf.
// CHECK: linalg.generic
func.func @max_plus(%q: tensor<4x16x64xf32>, %k: tensor<4x64x32xf32>, %acc: tensor<4x16x32xf32>) -> tensor<4x16x32xf32> {
  %y = linalg.generic {indexing_maps = [affine_map<(b, i, j, c) -> (b, i, c)>, affine_map<(b, i, j, c) -> (b, c, j)>, affine_map<(b, i, j, c) -> (b, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<4x16x64xf32>, tensor<4x64x32xf32>) outs(%acc : tensor<4x16x32xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.addf %a, %b : f32
    %s = arith.maximumf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x16x32xf32>
  return %y : tensor<4x16x32xf32>
}

// CHECK-LABEL: func.func @batch_last
// CHECK-NOT: scf.
// CHECK: linalg.generic
func.func @batch_last(%a: tensor<16x64x4xf32>, %b: tensor<64x32x4xf32>, %acc: tensor<16x32x4xf32>) -> tensor<16x32x4xf32> {
  %y = linalg.generic {indexing_maps = [affine_map<(i, j, b, c) -> (i, c, b)>, affine_map<(i, j, b, c) -> (c, j, b)>, affine_map<(i, j, b, c) -> (i, j, b)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %b : tensor<16x64x4xf32>, tensor<64x32x4xf32>) outs(%acc : tensor<16x32x4xf32>) {
  ^bb0(%x: f32, %w: f32, %o: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<16x32x4xf32>
  return %y : tensor<16x32x4xf32>
}

// -----

// Below min-parallel-work the batch loops are sequential.
// SMALL-LABEL: func.func @small
// SMALL-NOT: scf.forall
// SMALL: scf.for
// SMALL: scf.for
// SMALL: vector<4x1x16xf32>
func.func @small(%a: tensor<2x4x8xf32>, %b: tensor<2x8x16xf32>, %c: tensor<2x4x16xf32>) -> tensor<2x4x16xf32> {
  %y = linalg.batch_matmul ins(%a, %b : tensor<2x4x8xf32>, tensor<2x8x16xf32>) outs(%c : tensor<2x4x16xf32>) -> tensor<2x4x16xf32>
  return %y : tensor<2x4x16xf32>
}
