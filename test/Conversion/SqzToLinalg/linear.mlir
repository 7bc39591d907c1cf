// RUN: sqz-opt %s --split-input-file --convert-sqz-to-linalg | FileCheck %s
// RUN: sqz-opt %s --split-input-file --convert-sqz-to-linalg=transpose-weights | FileCheck %s --check-prefix=TW

// CHECK-DAG: #[[$MX:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[$MW:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[$MY:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @bias_rank3
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x16xf32>)
// CHECK: %[[W:.*]] = arith.constant {{.*}} : tensor<8x16xf32>
// CHECK: %[[B:.*]] = arith.constant {{.*}} : tensor<8xf32>
// CHECK: %[[X2:.*]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : tensor<2x3x16xf32> into tensor<6x16xf32>
// CHECK: %[[E:.*]] = tensor.empty() : tensor<6x8xf32>
// CHECK: %[[INIT:.*]] = linalg.broadcast ins(%[[B]] : tensor<8xf32>) outs(%[[E]] : tensor<6x8xf32>) dimensions = [0]
// CHECK: %[[MM:.*]] = linalg.matmul indexing_maps = [#[[$MX]], #[[$MW]], #[[$MY]]] ins(%[[X2]], %[[W]] : tensor<6x16xf32>, tensor<8x16xf32>) outs(%[[INIT]] : tensor<6x8xf32>)
// CHECK: %[[Y:.*]] = tensor.expand_shape %[[MM]] {{\[}}[0, 1], [2]] output_shape [2, 3, 8] : tensor<6x8xf32> into tensor<2x3x8xf32>
// CHECK: return %[[Y]]
func.func @bias_rank3(%x: tensor<2x3x16xf32>) -> tensor<2x3x8xf32> {
  %w = arith.constant dense<0.5> : tensor<8x16xf32>
  %b = arith.constant dense<1.0> : tensor<8xf32>
  %y = sqz.linear %x, %w, %b : tensor<2x3x16xf32>, tensor<8x16xf32>, tensor<8xf32> -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}

// -----

// Without a bias the accumulator is a zero fill; rank-2 inputs need no reshape.
// CHECK-LABEL: func.func @no_bias_rank2
// CHECK-NOT: tensor.collapse_shape
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[FILL:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.*}} : tensor<4x8xf32>)
// CHECK: linalg.matmul {{.*}} outs(%[[FILL]] : tensor<4x8xf32>)
// CHECK-NOT: tensor.expand_shape
func.func @no_bias_rank2(%x: tensor<4x16xf32>) -> tensor<4x8xf32> {
  %w = arith.constant dense<0.5> : tensor<8x16xf32>
  %y = sqz.linear %x, %w : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// A vector input becomes a 1-row matrix and back.
// CHECK-LABEL: func.func @vector
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0, 1]] output_shape [1, 4] : tensor<4xf32> into tensor<1x4xf32>
// CHECK: linalg.matmul {{.*}} -> tensor<1x2xf32>
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1]] : tensor<1x2xf32> into tensor<2xf32>
func.func @vector(%x: tensor<4xf32>) -> tensor<2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x4xf32>
  %y = sqz.linear %x, %w : tensor<4xf32>, tensor<2x4xf32> -> tensor<2xf32>
  return %y : tensor<2xf32>
}

// -----

// Dynamic leading dims flow through tensor.dim.
// CHECK-LABEL: func.func @dynamic_rows
// CHECK-SAME: (%[[X:.*]]: tensor<?x5x4xf32>)
// CHECK: %[[X2:.*]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : tensor<?x5x4xf32> into tensor<?x4xf32>
// CHECK: %[[M:.*]] = tensor.dim %[[X2]], %{{.*}} : tensor<?x4xf32>
// CHECK: tensor.empty(%[[M]]) : tensor<?x2xf32>
// CHECK: %[[D0:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x5x4xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0, 1], [2]] output_shape [%[[D0]], 5, 2] : tensor<?x2xf32> into tensor<?x5x2xf32>
func.func @dynamic_rows(%x: tensor<?x5x4xf32>) -> tensor<?x5x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x4xf32>
  %y = sqz.linear %x, %w : tensor<?x5x4xf32>, tensor<2x4xf32> -> tensor<?x5x2xf32>
  return %y : tensor<?x5x2xf32>
}

// -----

// With transpose-weights the constant is transposed at compile time ([out, in] -> [in, out])
// and the contraction runs over (m, k, n), n innermost.
// TW-DAG: #[[$TX:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// TW-DAG: #[[$TW:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// TW-DAG: #[[$TY:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// TW-LABEL: func.func @transposed
// TW: %[[WT:.*]] = arith.constant dense_resource<sqz_weight_t> : tensor<3x2xf32>
// TW: linalg.generic {indexing_maps = [#[[$TX]], #[[$TW]], #[[$TY]]], iterator_types = ["parallel", "reduction", "parallel"]} ins(%{{.*}}, %[[WT]] : tensor<1x3xf32>, tensor<3x2xf32>)
// TW: arith.mulf
// TW: arith.addf
// TW: sqz_weight_t: "0x08000000000080400000A0400000C0400000E0400000004100001041"
func.func @transposed(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
  // [[4, 6, 8], [5, 7, 9]] transposed is [[4, 5], [6, 7], [8, 9]].
  %w = arith.constant dense<[[4.0, 6.0, 8.0], [5.0, 7.0, 9.0]]> : tensor<2x3xf32>
  %y = sqz.linear %x, %w : tensor<1x3xf32>, tensor<2x3xf32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
