// RUN: sqz-opt %s --sqz-lower-moe | FileCheck %s

// The dense lowering: softmax over experts, a rank-based top-k mask (reduction over e'),
// renormalization, the stacked expert projections as 4-loop contractions, the gated SwiGLU
// product and the reduction over experts. Token dims are flattened and restored.
// CHECK-LABEL: func.func @moe
// CHECK-NOT: sqz.moe
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<2x3x4xf32> into tensor<6x4xf32>
// CHECK: math.exp
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: linalg.index 2
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf olt
// CHECK: arith.divf
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.*}}outs(%{{.*}} : tensor<4x6x8xf32>)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.*}}outs(%{{.*}} : tensor<4x6x8xf32>)
// CHECK: math.exp
// CHECK: arith.mulf
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.*}}outs(%{{.*}} : tensor<4x6x4xf32>)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}}outs(%{{.*}} : tensor<6x4xf32>)
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0, 1], [2]] output_shape [2, 3, 4] : tensor<6x4xf32> into tensor<2x3x4xf32>
func.func @moe(%x: tensor<2x3x4xf32>, %logits: tensor<6x4xf32>) -> tensor<2x3x4xf32> {
  %w1 = arith.constant dense<0.1> : tensor<4x8x4xf32>
  %w2 = arith.constant dense<0.2> : tensor<4x4x8xf32>
  %w3 = arith.constant dense<0.3> : tensor<4x8x4xf32>
  %y = sqz.moe %x, %logits, %w1, %w2 fc3 %w3 {top_k = 2, activation = #sqz<moe_activation silu>, normalize_routing} : (tensor<2x3x4xf32>, tensor<6x4xf32>, tensor<4x8x4xf32>, tensor<4x4x8xf32>, tensor<4x8x4xf32>) -> tensor<2x3x4xf32>
  return %y : tensor<2x3x4xf32>
}
