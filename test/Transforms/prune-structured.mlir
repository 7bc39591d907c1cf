// sqz-prune-structured{unit=ffn-neuron}: whole FFN neurons are removed, the producers lose
// rows (and bias entries), the down projection loses columns and every tensor in between
// shrinks.
// RUN: rm -rf %t && mkdir -p %t
// RUN: sqz-opt %s --sqz-prune-structured="ratio=0.5" | FileCheck %s --check-prefix=L2
// RUN: sqz-opt %s --sqz-prune-structured="unit=ffn-neuron ratio=0.5 score=l2 targets=layers\.0/w2$" | FileCheck %s --check-prefix=L2
// Activation scores (Σ_o |W2[o,i]|·sqrt(Σ x_i²)) with the down projection's statistics:
// column sums of |W2| are 1, 0.1, 2, 0.2; with Σx² = 1, 10000, 1, 1 the scores are
// 1, 10, 2, 0.2, so neurons 0 and 3 go (l2 removes 1 and 3).
// RUN: %python %S/Inputs/make_calib_stats.py %t/stats.safetensors --diag layers.0/w2=1,10000,1,1
// RUN: sqz-opt %s --sqz-prune-structured="ratio=0.5 score=activation stats=%t/stats.safetensors targets=layers\.0/w2$" | FileCheck %s --check-prefix=ACT
// A GELU MLP with biases (Gemm), selected by its own names.
// RUN: sqz-opt %s --sqz-prune-structured="ratio=0.34 targets=fc2" | FileCheck %s --check-prefix=GELU
// ratio 0 and an unselected block change nothing.
// RUN: sqz-opt %s --sqz-prune-structured="ratio=0" | FileCheck %s --check-prefix=NONE
// RUN: sqz-opt %s --sqz-prune-structured="ratio=0.5 targets=nothing" | FileCheck %s --check-prefix=NONE
// The pass result still lowers and verifies.
// RUN: sqz-opt %s --sqz-prune-structured="ratio=0.5" --sqz-prune-structured="ratio=0.34 targets=fc2" --verify-each | FileCheck %s --check-prefix=BOTH

// SwiGLU, l2: scores 3, 0.03, 7, 0.07 -> neurons 1 and 3 are removed, 0 and 2 kept.
// L2-LABEL: func.func @swiglu
// L2-DAG: %[[W1:.*]] = arith.constant dense_resource<layers.0_w1.structured> : tensor<2x3xf32>
// L2-DAG: %[[W3:.*]] = arith.constant dense_resource<layers.0_w3.structured> : tensor<2x3xf32>
// L2-DAG: %[[W2:.*]] = arith.constant dense_resource<layers.0_w2.structured> : tensor<3x2xf32>
// L2: %[[G:.*]] = sqz.linear %arg0, %[[W1]] : tensor<5x3xf32>, tensor<2x3xf32> -> tensor<5x2xf32>
// L2: %[[U:.*]] = sqz.linear %arg0, %[[W3]] : tensor<5x3xf32>, tensor<2x3xf32> -> tensor<5x2xf32>
// L2: %[[E:.*]] = tensor.empty() : tensor<5x2xf32>
// L2: %[[S:.*]] = linalg.generic {{.*}} ins(%[[G]] : tensor<5x2xf32>) outs(%[[E]] : tensor<5x2xf32>)
// L2: %[[E2:.*]] = tensor.empty() : tensor<5x2xf32>
// L2: linalg.generic {{.*}} ins(%[[S]], %[[U]], %{{.*}} : tensor<5x2xf32>, tensor<5x2xf32>, tensor<f32>) outs(%[[E2]] : tensor<5x2xf32>)
// L2: sqz.linear %{{.*}}, %[[W2]] : tensor<5x2xf32>, tensor<3x2xf32> -> tensor<5x3xf32>
// Kept rows of w1: [1, 0, 0], [2, 0, 0]; of w3: [1, 0, 0], [0, 1, 0]; w2 columns 0 and 2:
// [[1, 1], [0, 1], [0, 0]].
// L2-DAG: layers.0_w1.structured: "0x080000000000803F0000000000000000000000400000000000000000"
// L2-DAG: layers.0_w3.structured: "0x080000000000803F0000000000000000000000000000803F00000000"
// L2-DAG: layers.0_w2.structured: "0x080000000000803F0000803F000000000000803F0000000000000000"

// ACT-LABEL: func.func @swiglu
// ACT: sqz.linear %arg0, %{{.*}} : tensor<5x3xf32>, tensor<2x3xf32> -> tensor<5x2xf32>
// Kept: neurons 1 and 2. w1 rows [0.1, 0, 0], [2, 0, 0]; w2 columns [[0.1, 1], [0, 1], [0, 0]].
// ACT-DAG: layers.0_w1.structured: "0x08000000CDCCCC3D0000000000000000000000400000000000000000"
// ACT-DAG: layers.0_w2.structured: "0x08000000CDCCCC3D0000803F000000000000803F0000000000000000"

// The GELU MLP scores 3, 0.5, 6 -> neuron 1 is removed; the biases lose entry 1.
// GELU-LABEL: func.func @gelu_mlp
// GELU-DAG: %[[B1:.*]] = arith.constant dense_resource<_fc1_Gemm.bias.structured> : tensor<2xf32>
// GELU-DAG: %[[W1:.*]] = arith.constant dense_resource<_fc1_Gemm.structured> : tensor<2x2xf32>
// GELU-DAG: %[[W2:.*]] = arith.constant dense_resource<_fc2_Gemm.structured> : tensor<2x2xf32>
// GELU: %[[H:.*]] = sqz.linear %arg0, %[[W1]], %[[B1]] : tensor<4x2xf32>, tensor<2x2xf32>, tensor<2xf32> -> tensor<4x2xf32>
// GELU: %[[HALF:.*]] = arith.constant dense<5.000000e-01> : tensor<4x2xf32>
// GELU: %[[M:.*]] = arith.mulf %[[H]], %[[HALF]] : tensor<4x2xf32>
// GELU: %[[ERF:.*]] = math.erf %[[M]] : tensor<4x2xf32>
// GELU: %[[E:.*]] = tensor.empty() : tensor<4x2xf32>
// GELU: %[[G:.*]] = linalg.generic {{.*}} ins(%[[H]], %[[ERF]] : tensor<4x2xf32>, tensor<4x2xf32>) outs(%[[E]] : tensor<4x2xf32>)
// GELU: sqz.linear %[[G]], %[[W2]], %{{.*}} : tensor<4x2xf32>, tensor<2x2xf32>, tensor<2xf32> -> tensor<4x2xf32>
// b1 [0.1, 0.3]; w1 rows [1, 1], [0, -2]; w2 columns 0 and 2: [[1, 1], [0, 1]].
// GELU-DAG: _fc1_Gemm.bias.structured: "0x08000000CDCCCC3D9A99993E"
// GELU-DAG: _fc1_Gemm.structured: "0x080000000000803F0000803F00000000000000C0"
// GELU-DAG: _fc2_Gemm.structured: "0x080000000000803F0000803F000000000000803F"

// NONE-NOT: structured
// NONE: tensor<4x3xf32>
// NONE-NOT: structured

// BOTH: sqz.linear {{.*}} -> tensor<5x3xf32>
// BOTH: sqz.linear {{.*}} -> tensor<4x2xf32>

func.func @swiglu(%x: tensor<5x3xf32>) -> tensor<5x3xf32> {
  %w1 = arith.constant dense<[[1.0, 0.0, 0.0], [0.1, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.2, 0.0]]> : tensor<4x3xf32>
  %w3 = arith.constant dense<[[1.0, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.1]]> : tensor<4x3xf32>
  %w2 = arith.constant dense<[[1.0, 0.1, 1.0, 0.1], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.1]]> : tensor<3x4xf32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %g = sqz.linear %x, %w1 : tensor<5x3xf32>, tensor<4x3xf32> -> tensor<5x4xf32> loc("layers.0/w1")
  %u = sqz.linear %x, %w3 : tensor<5x3xf32>, tensor<4x3xf32> -> tensor<5x4xf32> loc("layers.0/w3")
  %e = tensor.empty() : tensor<5x4xf32>
  %sig = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%g : tensor<5x4xf32>) outs(%e : tensor<5x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    %ex = math.exp %n : f32
    linalg.yield %ex : f32
  } -> tensor<5x4xf32>
  %prod = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> ()>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%sig, %u, %one : tensor<5x4xf32>, tensor<5x4xf32>, tensor<f32>) outs(%e : tensor<5x4xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %out: f32):
    %d = arith.addf %a, %c : f32
    %m = arith.mulf %d, %b : f32
    linalg.yield %m : f32
  } -> tensor<5x4xf32>
  %y = sqz.linear %prod, %w2 : tensor<5x4xf32>, tensor<3x4xf32> -> tensor<5x3xf32> loc("layers.0/w2")
  return %y : tensor<5x3xf32>
}

func.func @gelu_mlp(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %w1 = arith.constant dense<[[1.0, 1.0], [0.5, 0.0], [0.0, -2.0]]> : tensor<3x2xf32>
  %b1 = arith.constant dense<[0.1, 0.2, 0.3]> : tensor<3xf32> loc("fc1.bias")
  %w2 = arith.constant dense<[[1.0, 0.0, 1.0], [0.0, 0.5, 1.0]]> : tensor<2x3xf32>
  %b2 = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %half = arith.constant dense<0.5> : tensor<4x3xf32>
  %h = sqz.linear %x, %w1, %b1 : tensor<4x2xf32>, tensor<3x2xf32>, tensor<3xf32> -> tensor<4x3xf32> loc("/fc1/Gemm")
  %m = arith.mulf %h, %half : tensor<4x3xf32>
  %erf = math.erf %m : tensor<4x3xf32>
  %e = tensor.empty() : tensor<4x3xf32>
  %gelu = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%h, %erf : tensor<4x3xf32>, tensor<4x3xf32>) outs(%e : tensor<4x3xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %p = arith.mulf %a, %b : f32
    linalg.yield %p : f32
  } -> tensor<4x3xf32>
  %y = sqz.linear %gelu, %w2, %b2 : tensor<4x3xf32>, tensor<2x3xf32>, tensor<2xf32> -> tensor<4x2xf32> loc("/fc2/Gemm")
  return %y : tensor<4x2xf32>
}
