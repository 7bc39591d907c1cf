// RUN: sqz-opt %s --split-input-file --verify-diagnostics

func.func @top_k_too_big(%x: tensor<3x4xf32>, %l: tensor<3x2xf32>) -> tensor<3x4xf32> {
  %w1 = arith.constant dense<0.1> : tensor<2x8x4xf32>
  %w2 = arith.constant dense<0.2> : tensor<2x4x8xf32>
  // expected-error @+1 {{'sqz.moe' op top_k 3 exceeds the 2 experts}}
  %y = sqz.moe %x, %l, %w1, %w2 {top_k = 3, activation = #sqz<moe_activation relu>} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<2x8x4xf32>, tensor<2x4x8xf32>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @fc2_shape(%x: tensor<3x4xf32>, %l: tensor<3x2xf32>) -> tensor<3x4xf32> {
  %w1 = arith.constant dense<0.1> : tensor<2x8x4xf32>
  %w2 = arith.constant dense<0.2> : tensor<2x8x4xf32>
  // expected-error @+1 {{'sqz.moe' op fc2 must have shape [2, 4, 8], got 'tensor<2x8x4xf32>'}}
  %y = sqz.moe %x, %l, %w1, %w2 {top_k = 1, activation = #sqz<moe_activation relu>} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @router_experts(%x: tensor<3x4xf32>, %l: tensor<3x3xf32>) -> tensor<3x4xf32> {
  %w1 = arith.constant dense<0.1> : tensor<2x8x4xf32>
  %w2 = arith.constant dense<0.2> : tensor<2x4x8xf32>
  // expected-error @+1 {{'sqz.moe' op router_logits must be [tokens, 2], got 'tensor<3x3xf32>'}}
  %y = sqz.moe %x, %l, %w1, %w2 {top_k = 1, activation = #sqz<moe_activation relu>} : (tensor<3x4xf32>, tensor<3x3xf32>, tensor<2x8x4xf32>, tensor<2x4x8xf32>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @router_tokens(%x: tensor<3x4xf32>, %l: tensor<4x2xf32>) -> tensor<3x4xf32> {
  %w1 = arith.constant dense<0.1> : tensor<2x8x4xf32>
  %w2 = arith.constant dense<0.2> : tensor<2x4x8xf32>
  // expected-error @+1 {{'sqz.moe' op router_logits has 4 token rows but the input has 3}}
  %y = sqz.moe %x, %l, %w1, %w2 {top_k = 1, activation = #sqz<moe_activation relu>} : (tensor<3x4xf32>, tensor<4x2xf32>, tensor<2x8x4xf32>, tensor<2x4x8xf32>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @runtime_weights(%x: tensor<3x4xf32>, %l: tensor<3x2xf32>, %w1: tensor<2x8x4xf32>) -> tensor<3x4xf32> {
  %w2 = arith.constant dense<0.2> : tensor<2x4x8xf32>
  // expected-error @+1 {{'sqz.moe' op fc1 must be produced by a constant op}}
  %y = sqz.moe %x, %l, %w1, %w2 {top_k = 1, activation = #sqz<moe_activation relu>} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<2x8x4xf32>, tensor<2x4x8xf32>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @hidden_mismatch(%x: tensor<3x5xf32>, %l: tensor<3x2xf32>) -> tensor<3x5xf32> {
  %w1 = arith.constant dense<0.1> : tensor<2x8x4xf32>
  %w2 = arith.constant dense<0.2> : tensor<2x4x8xf32>
  // expected-error @+1 {{'sqz.moe' op input hidden size 5 differs from fc1's 4}}
  %y = sqz.moe %x, %l, %w1, %w2 {top_k = 1, activation = #sqz<moe_activation relu>} : (tensor<3x5xf32>, tensor<3x2xf32>, tensor<2x8x4xf32>, tensor<2x4x8xf32>) -> tensor<3x5xf32>
  return %y : tensor<3x5xf32>
}

// -----

func.func @capacity(%x: tensor<3x4xf32>, %l: tensor<3x2xf32>) -> tensor<3x4xf32> {
  %w1 = arith.constant dense<0.1> : tensor<2x8x4xf32>
  %w2 = arith.constant dense<0.2> : tensor<2x4x8xf32>
  // expected-error @+1 {{'sqz.moe' op capacity_factor must be finite and >= 0 (0 = dropless), got -1}}
  %y = sqz.moe %x, %l, %w1, %w2 {top_k = 1, activation = #sqz<moe_activation relu>, capacity_factor = -1.0} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<2x8x4xf32>, tensor<2x4x8xf32>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @bias3_without_fc3(%x: tensor<3x4xf32>, %l: tensor<3x2xf32>) -> tensor<3x4xf32> {
  %w1 = arith.constant dense<0.1> : tensor<2x8x4xf32>
  %w2 = arith.constant dense<0.2> : tensor<2x4x8xf32>
  %b3 = arith.constant dense<0.2> : tensor<2x8xf32>
  // expected-error @+1 {{'sqz.moe' op fc3_bias needs fc3}}
  %y = sqz.moe %x, %l, %w1, %w2 fc3_bias %b3 {top_k = 1, activation = #sqz<moe_activation relu>} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8xf32>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}
