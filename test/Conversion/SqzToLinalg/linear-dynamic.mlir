// RUN: sqz-opt %s --split-input-file --convert-sqz-to-linalg=transpose-weights | FileCheck %s

// Dynamic leading dims: the rows are collapsed into one dynamic m, the accumulator is sized
// with tensor.dim, and the result is expanded back with the input's dims.
// CHECK-LABEL: func.func @linear_dynamic_rows
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x16xf32>)
// CHECK: %[[X2:.*]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : tensor<?x?x16xf32> into tensor<?x16xf32>
// CHECK: %[[M:.*]] = tensor.dim %[[X2]], %{{.*}} : tensor<?x16xf32>
// CHECK: %[[E:.*]] = tensor.empty(%[[M]]) : tensor<?x8xf32>
// CHECK: %[[INIT:.*]] = linalg.broadcast ins(%{{.*}} : tensor<8xf32>) outs(%[[E]] : tensor<?x8xf32>)
// CHECK: %[[Y2:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[X2]], %{{.*}} : tensor<?x16xf32>, tensor<16x8xf32>) outs(%[[INIT]] : tensor<?x8xf32>)
// CHECK-DAG: %[[D0:.*]] = tensor.dim %[[X]], %c0
// CHECK-DAG: %[[D1:.*]] = tensor.dim %[[X]], %c1
// CHECK: tensor.expand_shape %[[Y2]] {{\[}}[0, 1], [2]] output_shape [%[[D0]], %[[D1]], 8] : tensor<?x8xf32> into tensor<?x?x8xf32>
func.func @linear_dynamic_rows(%x: tensor<?x?x16xf32>) -> tensor<?x?x8xf32> {
  %w = arith.constant dense<0.5> : tensor<8x16xf32>
  %b = arith.constant dense<1.0> : tensor<8xf32>
  %y = sqz.linear %x, %w, %b : tensor<?x?x16xf32>, tensor<8x16xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
  return %y : tensor<?x?x8xf32>
}

// -----

// sqz.sparse_linear: the weight is decompressed (static), then the same dynamic-row linear.
// CHECK-LABEL: func.func @sparse_dynamic_rows
// CHECK: %[[W:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<8x2xf32>)
// CHECK: %[[X2:.*]] = tensor.collapse_shape %{{.*}} : tensor<?x?x8xf32> into tensor<?x8xf32>
// CHECK: tensor.empty(%{{.*}}) : tensor<?x2xf32>
// CHECK: linalg.generic {{.*}} ins(%[[X2]], %[[W]] : tensor<?x8xf32>, tensor<8x2xf32>) outs(%{{.*}} : tensor<?x2xf32>)
// CHECK: tensor.expand_shape {{.*}} : tensor<?x2xf32> into tensor<?x?x2xf32>
func.func @sparse_dynamic_rows(%x: tensor<?x?x8xf32>) -> tensor<?x?x2xf32> {
  %v = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %i = arith.constant dense<[[-124], [-19]]> : tensor<2x1xi8>
  %b = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %y = sqz.sparse_linear %x, %v, %i, %b {sparsity = #sqz.sparsity<2:4>} : tensor<?x?x8xf32>, tensor<2x4xf32>, tensor<2x1xi8>, tensor<2xf32> -> tensor<?x?x2xf32>
  return %y : tensor<?x?x2xf32>
}
