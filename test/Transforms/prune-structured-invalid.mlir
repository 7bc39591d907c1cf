// Option errors of sqz-prune-structured.
// RUN: not sqz-opt %s --sqz-prune-structured="ratio=1.0" 2>&1 | FileCheck %s --check-prefix=ONE
// RUN: not sqz-opt %s --sqz-prune-structured="ratio=-0.1" 2>&1 | FileCheck %s --check-prefix=NEG
// RUN: not sqz-opt %s --sqz-prune-structured="unit=channel" 2>&1 | FileCheck %s --check-prefix=UNIT
// RUN: not sqz-opt %s --sqz-prune-structured="score=taylor" 2>&1 | FileCheck %s --check-prefix=SCORE
// RUN: not sqz-opt %s --sqz-prune-structured="score=activation" 2>&1 | FileCheck %s --check-prefix=NOSTATS
// RUN: sqz-opt %s --sqz-prune-structured="unit=attention-head" 2>&1 | FileCheck %s --check-prefix=HEADS
// RUN: not sqz-opt %s --sqz-prune-structured="targets=layers.(" 2>&1 | FileCheck %s --check-prefix=REGEX
// Statistics that lack the down projection.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_calib_stats.py %t/stats.safetensors --diag layers.0/w1=1,1,1
// RUN: not sqz-opt %s --sqz-prune-structured="score=activation stats=%t/stats.safetensors" 2>&1 | FileCheck %s --check-prefix=MISSING

// ONE: error: sqz-prune-structured: ratio must be in [0, 1), got 1
// NEG: error: sqz-prune-structured: ratio must be in [0, 1), got -1.000000e-01
// UNIT: error: sqz-prune-structured: unknown unit 'channel' (expected ffn-neuron or attention-head)
// SCORE: error: sqz-prune-structured: unknown score 'taylor' (expected l2 or activation)
// NOSTATS: error: sqz-prune-structured: score=activation needs calibration statistics (stats=<file>, L/sumsq of each down (ffn-neuron) or output (attention-head) projection L)
// A function without an attention changes nothing with unit=attention-head.
// HEADS-NOT: warning
// HEADS: tensor<4x3xf32>
// REGEX: error: sqz-prune-structured: invalid regex 'layers.(' in option 'targets':
// MISSING: error: {{.*}}layer 'layers.0/w2' has no statistics

func.func @ffn(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %w1 = arith.constant dense<1.0> : tensor<4x3xf32>
  %w2 = arith.constant dense<1.0> : tensor<3x4xf32>
  %h = sqz.linear %x, %w1 : tensor<2x3xf32>, tensor<4x3xf32> -> tensor<2x4xf32> loc("layers.0/w1")
  %a = math.tanh %h : tensor<2x4xf32>
  %y = sqz.linear %a, %w2 : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32> loc("layers.0/w2")
  return %y : tensor<2x3xf32>
}
