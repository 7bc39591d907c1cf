// RUN: sqz-opt %s --split-input-file | FileCheck %s
// RUN: sqz-opt %s --split-input-file --mlir-print-op-generic | sqz-opt --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @mixtral_like
// CHECK: sqz.moe %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} fc3 %{{.*}} {activation = #sqz<moe_activation silu>, normalize_routing, top_k = 2 : i64} : (tensor<2x3x4xf32>, tensor<6x4xf32>, tensor<4x8x4xf32>, tensor<4x4x8xf32>, tensor<4x8x4xf32>) -> tensor<2x3x4xf32>
func.func @mixtral_like(%x: tensor<2x3x4xf32>, %logits: tensor<6x4xf32>) -> tensor<2x3x4xf32> {
  %w1 = arith.constant dense<0.1> : tensor<4x8x4xf32>
  %w2 = arith.constant dense<0.2> : tensor<4x4x8xf32>
  %w3 = arith.constant dense<0.3> : tensor<4x8x4xf32>
  %y = sqz.moe %x, %logits, %w1, %w2 fc3 %w3 {top_k = 2, activation = #sqz<moe_activation silu>, normalize_routing} : (tensor<2x3x4xf32>, tensor<6x4xf32>, tensor<4x8x4xf32>, tensor<4x4x8xf32>, tensor<4x8x4xf32>) -> tensor<2x3x4xf32>
  return %y : tensor<2x3x4xf32>
}

// -----

// CHECK-LABEL: func.func @biases_capacity
// CHECK: sqz.moe %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} fc1_bias %{{.*}} fc2_bias %{{.*}} {activation = #sqz<moe_activation gelu_tanh>, capacity_factor = 1.250000e+00 : f64, top_k = 1 : i64}
func.func @biases_capacity(%x: tensor<5x4xf32>, %logits: tensor<5x2xf32>) -> tensor<5x4xf32> {
  %w1 = arith.constant dense<0.1> : tensor<2x6x4xf32>
  %w2 = arith.constant dense<0.2> : tensor<2x4x6xf32>
  %b1 = arith.constant dense<0.01> : tensor<2x6xf32>
  %b2 = arith.constant dense<0.02> : tensor<2x4xf32>
  %y = sqz.moe %x, %logits, %w1, %w2 fc1_bias %b1 fc2_bias %b2 {top_k = 1, activation = #sqz<moe_activation gelu_tanh>, capacity_factor = 1.25} : (tensor<5x4xf32>, tensor<5x2xf32>, tensor<2x6x4xf32>, tensor<2x4x6xf32>, tensor<2x6xf32>, tensor<2x4xf32>) -> tensor<5x4xf32>
  return %y : tensor<5x4xf32>
}
