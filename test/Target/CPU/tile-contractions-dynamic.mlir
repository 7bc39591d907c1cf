// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-tile-contractions{vector-width=16},canonicalize))' | FileCheck %s
// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-tile-contractions{vector-width=8},canonicalize))' | FileCheck %s --check-prefix=AVX2

// A dynamic m (static k, n): loops over blocks of 128, 64, 8, 4, 2 and 1 rows (96, 48, 6, 4,
// 2, 1 with 8 lanes), each covering the whole blocks of the rows the previous loops left, each
// block a static contraction, register-tiled and vectorized like a static one.
// CHECK-LABEL: func.func @dynamic_rows
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[W:.*]]: tensor<64x48xf32>, %[[INIT:.*]]: tensor<?x48xf32>)
// CHECK-DAG: %[[C128:.*]] = arith.constant 128 : index
// CHECK-DAG: %[[C64:.*]] = arith.constant 64 : index
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK: %[[M:.*]] = tensor.dim %[[X]]
// CHECK: %[[Q128:.*]] = arith.divui %[[M]], %[[C128]]
// CHECK: %[[E128:.*]] = arith.muli %[[Q128]], %[[C128]]
// CHECK: %[[R128:.*]] = scf.for %[[I:.*]] = %{{.*}} to %[[E128]] step %[[C128]] iter_args(%[[A:.*]] = %[[INIT]])
// CHECK: tensor.extract_slice %[[X]][%[[I]], 0] [128, 64] [1, 1] : tensor<?x64xf32> to tensor<128x64xf32>
// CHECK: tensor.extract_slice %[[A]][%[[I]], 0] [128, 48] [1, 1] : tensor<?x48xf32> to tensor<128x48xf32>
// CHECK: vector.transfer_read {{.*}} vector<8x16xf32>
// CHECK: arith.mulf {{.*}} fastmath<contract> : vector<8x1x16xf32>
// CHECK: tensor.insert_slice %{{.*}} into %[[A]][%[[I]], 0] [128, 48] [1, 1] : tensor<128x48xf32> into tensor<?x48xf32>
// CHECK: %[[L64:.*]] = arith.subi %[[M]], %[[E128]]
// CHECK: %[[Q64:.*]] = arith.divui %[[L64]], %[[C64]]
// CHECK: %[[W64:.*]] = arith.muli %[[Q64]], %[[C64]]
// CHECK: %[[E64:.*]] = arith.addi %[[E128]], %[[W64]]
// CHECK: %[[R64:.*]] = scf.for %{{.*}} = %[[E128]] to %[[E64]] step %[[C64]] iter_args(%{{.*}} = %[[R128]])
// CHECK: tensor.extract_slice %[[X]]{{.*}} [64, 64] [1, 1] : tensor<?x64xf32> to tensor<64x64xf32>
// CHECK: %[[L8:.*]] = arith.subi %[[M]], %[[E64]]
// CHECK: %[[Q8:.*]] = arith.divui %[[L8]], %[[C8]]
// CHECK: %[[W8:.*]] = arith.muli %[[Q8]], %[[C8]]
// CHECK: %[[E8:.*]] = arith.addi %[[E64]], %[[W8]]
// CHECK: %[[R8:.*]] = scf.for %{{.*}} = %[[E64]] to %[[E8]] step %[[C8]] iter_args(%{{.*}} = %[[R64]])
// CHECK: tensor.extract_slice %[[X]]{{.*}} [8, 64] [1, 1] : tensor<?x64xf32> to tensor<8x64xf32>
// CHECK: vector<8x16xf32>
// CHECK: %[[L4:.*]] = arith.subi %[[M]], %[[E8]]
// CHECK: %[[Q4:.*]] = arith.divui %[[L4]], %[[C4]]
// CHECK: %[[W4:.*]] = arith.muli %[[Q4]], %[[C4]]
// CHECK: %[[E4:.*]] = arith.addi %[[E8]], %[[W4]]
// CHECK: %[[R4:.*]] = scf.for %{{.*}} = %[[E8]] to %[[E4]] step %[[C4]] iter_args(%{{.*}} = %[[R8]])
// CHECK: vector<4x{{[0-9]+}}xf32>
// CHECK: %[[L2:.*]] = arith.subi %[[M]], %[[E4]]
// CHECK: %[[Q2:.*]] = arith.divui %[[L2]], %[[C2]]
// CHECK: %[[W2:.*]] = arith.muli %[[Q2]], %[[C2]]
// CHECK: %[[E2:.*]] = arith.addi %[[E4]], %[[W2]]
// CHECK: %[[R2:.*]] = scf.for %{{.*}} = %[[E4]] to %[[E2]] step %[[C2]] iter_args(%{{.*}} = %[[R4]])
// CHECK: vector<2x{{[0-9]+}}xf32>
// CHECK: %[[R1:.*]] = scf.for %{{.*}} = %[[E2]] to %[[M]] step %[[C1]] iter_args(%{{.*}} = %[[R2]])
// CHECK: tensor.extract_slice %[[X]]{{.*}} [1, 64] [1, 1] : tensor<?x64xf32> to tensor<1x64xf32>
// CHECK: vector<1x48xf32>
// CHECK: return %[[R1]]
// AVX2-LABEL: func.func @dynamic_rows
// AVX2: scf.for {{.*}} step %c96
// AVX2: scf.for {{.*}} step %c48
// AVX2: scf.for {{.*}} step %c6
// AVX2: scf.for {{.*}} step %c4
// AVX2: scf.for {{.*}} step %c2
// AVX2: scf.for {{.*}} step %c1
func.func @dynamic_rows(%x: tensor<?x64xf32>, %w: tensor<64x48xf32>, %init: tensor<?x48xf32>) -> tensor<?x48xf32> {
  %y = linalg.generic {indexing_maps = [affine_map<(m, k, n) -> (m, k)>, affine_map<(m, k, n) -> (k, n)>,
                                        affine_map<(m, k, n) -> (m, n)>],
                       iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x, %w : tensor<?x64xf32>, tensor<64x48xf32>) outs(%init : tensor<?x48xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x48xf32>
  return %y : tensor<?x48xf32>
}

// -----

// A large weight (k x n >= min-parallel-work, several column blocks): the column blocks are
// the parallel tasks and the k cache blocks surround the row loops, so each 128 x 256 weight
// block is loaded once for all the rows.
// CHECK-LABEL: func.func @dynamic_rows_parallel
// CHECK: scf.forall (%[[N:.*]]) = (0) to (1024) step (256) shared_outs(%{{.*}} = %{{.*}}) -> (tensor<?x1024xf32>)
// CHECK: scf.for %{{.*}} = %c0 to %c512 step %c128 iter_args(%{{.*}} = %{{.*}}) -> (tensor<?x256xf32>)
// CHECK: scf.for {{.*}} step %c128 iter_args({{.*}}) -> (tensor<?x256xf32>)
// CHECK: tensor.extract_slice {{.*}} [128, 128] [1, 1] : tensor<?x128xf32> to tensor<128x128xf32>
// CHECK: scf.for {{.*}} step %c1 iter_args({{.*}}) -> (tensor<?x256xf32>)
// CHECK: vector<1x256xf32>
// CHECK: scf.forall.in_parallel
func.func @dynamic_rows_parallel(%x: tensor<?x512xf32>, %w: tensor<512x1024xf32>, %init: tensor<?x1024xf32>) -> tensor<?x1024xf32> {
  %y = linalg.generic {indexing_maps = [affine_map<(m, k, n) -> (m, k)>, affine_map<(m, k, n) -> (k, n)>,
                                        affine_map<(m, k, n) -> (m, n)>],
                       iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x, %w : tensor<?x512xf32>, tensor<512x1024xf32>) outs(%init : tensor<?x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x1024xf32>
  return %y : tensor<?x1024xf32>
}

// -----

// A dynamic k or n stays a plain linalg.generic (scalar loops later).
// CHECK-LABEL: func.func @dynamic_k
// CHECK-NOT: scf.for
// CHECK: linalg.generic
func.func @dynamic_k(%x: tensor<4x?xf32>, %w: tensor<?x48xf32>, %init: tensor<4x48xf32>) -> tensor<4x48xf32> {
  %y = linalg.generic {indexing_maps = [affine_map<(m, k, n) -> (m, k)>, affine_map<(m, k, n) -> (k, n)>,
                                        affine_map<(m, k, n) -> (m, n)>],
                       iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x, %w : tensor<4x?xf32>, tensor<?x48xf32>) outs(%init : tensor<4x48xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<4x48xf32>
  return %y : tensor<4x48xf32>
}
