// SparseGPT falls back to pruning without compensation (H^-1 = identity: plain magnitude
// over the block) when the damped Hessian is not positive definite, and warns. (These
// statistics are not a Gram matrix: a negative diagonal entry.)
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_calib_stats.py %t/bad.safetensors --diag layers.0/q=1,-5,1,1
// RUN: sqz-opt %s --sqz-prune="method=sparsegpt stats=%t/bad.safetensors" --verify-diagnostics | FileCheck %s

// CHECK: layers.0_q.pruned: "0x0800000000000000000080C000000040000040400000000000000000000000C100000000"

func.func @block(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %wq = arith.constant dense<[[1.0, -4.0, 2.0, 3.0], [0.5, 0.25, -8.0, 1.0]]> : tensor<2x4xf32>
  // expected-warning @unknown {{layer 'layers.0/q': the damped Hessian is not positive definite; pruned without compensation}}
  %q = sqz.linear %x, %wq : tensor<3x4xf32>, tensor<2x4xf32> -> tensor<3x2xf32> loc("layers.0/q")
  return %q : tensor<3x2xf32>
}
