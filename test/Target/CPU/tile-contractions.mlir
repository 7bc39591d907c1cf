// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-tile-contractions{tile-k=128 tile-n=256 vector-width=16},canonicalize))' | FileCheck %s
// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-tile-contractions{vector-width=8},canonicalize))' | FileCheck %s --check-prefix=AVX2
// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-tile-contractions{parallel=false vectorize=false},canonicalize))' | FileCheck %s --check-prefix=BLOCKS
// RUN: not sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-tile-contractions{tile-k=0}))' -o /dev/null 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-tile-contractions{vector-width=0}))' -o /dev/null 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: sqz-cpu-tile-contractions: tile sizes and the vector width must be positive

#x = affine_map<(m, k, n) -> (m, k)>
#w = affine_map<(m, k, n) -> (k, n)>
#y = affine_map<(m, k, n) -> (m, n)>

// GEMM: n blocks of 256 in parallel (all 16 rows in one block), k blocks of 128, register
// tiles of 8 rows x 32 lanes (two AVX-512 vectors) updated once per k.
// CHECK-LABEL: func.func @gemm
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK-DAG: %[[C32:.*]] = arith.constant 32 : index
// CHECK-DAG: %[[C128:.*]] = arith.constant 128 : index
// CHECK: scf.forall (%[[N:.*]]) = (0) to (512) step (256) shared_outs(%{{.*}}) -> (tensor<16x512xf32>)
// CHECK: scf.for %[[KB:.*]] = %{{.*}} to %{{.*}} step %[[C128]] iter_args(%{{.*}}) -> (tensor<16x256xf32>)
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[C8]] iter_args(%{{.*}}) -> (tensor<16x256xf32>)
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[C32]] iter_args(%{{.*}}) -> (tensor<16x256xf32>)
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[C1]] iter_args(%{{.*}}) -> (tensor<8x32xf32>)
// CHECK: vector.transfer_read {{.*}} : tensor<8x1xf32>, vector<8x1x32xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<1x32xf32>, vector<8x1x32xf32>
// CHECK: %[[ACC:.*]] = vector.transfer_read {{.*}} : tensor<8x32xf32>, vector<8x32xf32>
// CHECK: %[[MUL:.*]] = arith.mulf %{{.*}}, %{{.*}} fastmath<contract> : vector<8x1x32xf32>
// CHECK: %[[MUL2:.*]] = vector.shape_cast %[[MUL]] : vector<8x1x32xf32> to vector<8x32xf32>
// CHECK: arith.addf %[[ACC]], %[[MUL2]] : vector<8x32xf32>
// CHECK: vector.transfer_write {{.*}} : vector<8x32xf32>, tensor<8x32xf32>
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice %{{.*}} into %{{.*}}[0, %[[N]]] [16, 256] [1, 1]

// AVX2 (8 lanes, 16 registers): at most 6 rows and 12 accumulators, so 4 rows (a divisor
// of 16) x 16 lanes (24 does not divide 512).
// AVX2-LABEL: func.func @gemm
// AVX2: vector<4x1x16xf32>
// AVX2: arith.addf {{.*}} : vector<4x16xf32>

// Without threads and register tiles: sequential n blocks and k blocks of the scalar
// contraction.
// BLOCKS-LABEL: func.func @gemm
// BLOCKS-NOT: scf.forall
// BLOCKS-NOT: vector.
// BLOCKS: scf.for %{{.*}} step %c256
// BLOCKS: scf.for %{{.*}} step %c128
// BLOCKS: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<16x128xf32>, tensor<128x256xf32>) outs(%{{.*}} : tensor<16x256xf32>)
func.func @gemm(%a: tensor<16x512xf32>, %w: tensor<512x512xf32>, %acc: tensor<16x512xf32>) -> tensor<16x512xf32> {
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "reduction", "parallel"]} ins(%a, %w : tensor<16x512xf32>, tensor<512x512xf32>) outs(%acc : tensor<16x512xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<16x512xf32>
  return %y : tensor<16x512xf32>
}

// -----

#x = affine_map<(m, k, n) -> (m, k)>
#w = affine_map<(m, k, n) -> (k, n)>
#y = affine_map<(m, k, n) -> (m, n)>

// GEMV: one row, so the register tile is 256 lanes wide (16 accumulators): each k step reads
// 1 KiB of a weight row.
// CHECK-LABEL: func.func @gemv
// CHECK: scf.forall (%{{.*}}) = (0) to (512) step (256)
// CHECK: vector.transfer_read {{.*}} : tensor<1x256xf32>, vector<1x1x256xf32>
// CHECK: arith.addf {{.*}} : vector<1x256xf32>
func.func @gemv(%a: tensor<1x512xf32>, %w: tensor<512x512xf32>, %acc: tensor<1x512xf32>) -> tensor<1x512xf32> {
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "reduction", "parallel"]} ins(%a, %w : tensor<1x512xf32>, tensor<512x512xf32>) outs(%acc : tensor<1x512xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<1x512xf32>
  return %y : tensor<1x512xf32>
}

// -----

#x = affine_map<(m, k, n) -> (m, k)>
#w = affine_map<(m, k, n) -> (k, n)>
#y = affine_map<(m, k, n) -> (m, n)>

// Sizes that are not multiples of the vector width get divisor tiles (3 x 50 here), still
// static; too little work for threads: no scf.forall.
// CHECK-LABEL: func.func @odd
// CHECK-NOT: scf.forall
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}}) -> (tensor<3x100xf32>)
// CHECK: arith.addf {{.*}} : vector<3x50xf32>
func.func @odd(%a: tensor<3x70xf32>, %w: tensor<70x100xf32>, %acc: tensor<3x100xf32>) -> tensor<3x100xf32> {
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "reduction", "parallel"]} ins(%a, %w : tensor<3x70xf32>, tensor<70x100xf32>) outs(%acc : tensor<3x100xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<3x100xf32>
  return %y : tensor<3x100xf32>
}

// -----

// Static batched contractions are split into 2-D ones (tile-contractions-batched.mlir); a
// dynamic batch is left alone.
// CHECK-LABEL: func.func @batched
// CHECK-NOT: scf.
// CHECK-NOT: vector.
// CHECK: linalg.batch_matmul
func.func @batched(%a: tensor<?x64x256xf32>, %b: tensor<?x256x512xf32>, %c: tensor<?x64x512xf32>) -> tensor<?x64x512xf32> {
  %y = linalg.batch_matmul ins(%a, %b : tensor<?x64x256xf32>, tensor<?x256x512xf32>) outs(%c : tensor<?x64x512xf32>) -> tensor<?x64x512xf32>
  return %y : tensor<?x64x512xf32>
}
