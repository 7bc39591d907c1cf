// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-tile-contractions{tile-k=128 tile-n=256}))' | FileCheck %s
// RUN: not sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-tile-contractions{tile-k=0}))' -o /dev/null 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: sqz-cpu-tile-contractions: tile sizes must be positive

#x = affine_map<(m, k, n) -> (m, k)>
#w = affine_map<(m, k, n) -> (k, n)>
#y = affine_map<(m, k, n) -> (m, n)>

// The n-block loop is outermost, the k-block loop inside it carries the accumulator, and the
// tile is the same contraction on 128x256 weight blocks with all rows m.
// CHECK-LABEL: func.func @gemm
// CHECK-DAG: %[[C128:.*]] = arith.constant 128 : index
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK: scf.for %[[N:.*]] = %{{.*}} to %{{.*}} step %[[C256]] iter_args(%[[ACC0:.*]] = %{{.*}}) -> (tensor<16x512xf32>)
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %[[C128]] iter_args(%[[ACC1:.*]] = %[[ACC0]]) -> (tensor<16x512xf32>)
// CHECK: tensor.extract_slice %{{.*}}[0, %[[K]]] [16, 128] [1, 1] : tensor<16x512xf32> to tensor<16x128xf32>
// CHECK: tensor.extract_slice %{{.*}}[%[[K]], %[[N]]] [128, 256] [1, 1] : tensor<512x512xf32> to tensor<128x256xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction", "parallel"]{{.*}}outs(%{{.*}} : tensor<16x256xf32>)
// CHECK: tensor.insert_slice
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

// Contractions that already fit one block, and other loop shapes, are left alone.
// CHECK-LABEL: func.func @small
// CHECK-NOT: scf.for
func.func @small(%a: tensor<4x64xf32>, %w: tensor<64x32xf32>, %acc: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "reduction", "parallel"]} ins(%a, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%acc : tensor<4x32xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}
