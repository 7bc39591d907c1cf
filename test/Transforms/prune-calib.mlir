// sqz-prune with calibration statistics (written by Inputs/make_calib_stats.py).
// Input column 0 carries 100x the energy of the others (sum x^2 = 100, 1, 1, 1), with
// orthogonal columns (X^T X diagonal).
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_calib_stats.py %t/diag.safetensors --diag layers.0/q=100,1,1,1 --diag lm_head=1,1,1,1
// Wanda: |w| * sqrt(sum x^2) per row -> row 0 scores [10, 4, 2, 3], row 1 [5, 0.25, 8, 1].
// RUN: sqz-opt %s --sqz-prune="method=wanda stats=%t/diag.safetensors" | FileCheck %s --check-prefix=WANDA
// Wanda with the whole matrix as comparison group (the Wanda paper's per-layer ablation).
// RUN: sqz-opt %s --sqz-prune="method=wanda granularity=layer sparsity=0.25 stats=%t/diag.safetensors" | FileCheck %s --check-prefix=WANDA-LAYER
// SparseGPT on a diagonal Hessian: no compensation, the mask is the bottom half of
// w^2 (H_jj + damp) over all rows of each block (block-size 2: columns {0,1} then {2,3}).
// RUN: sqz-opt %s --sqz-prune="method=sparsegpt block-size=2 stats=%t/diag.safetensors" | FileCheck %s --check-prefix=SGPT2
// One block of 128 columns: the mask over the whole 2x4 matrix.
// RUN: sqz-opt %s --sqz-prune="method=sparsegpt stats=%t/diag.safetensors" | FileCheck %s --check-prefix=SGPT
// A huge damping drowns the Hessian's diagonal: the mask becomes the matrix-wide magnitude one.
// RUN: sqz-opt %s --sqz-prune="method=sparsegpt damp=100 stats=%t/diag.safetensors" | FileCheck %s --check-prefix=DAMP
// A dead input column (H_jj = 0) is zeroed whatever its weights.
// RUN: %python %S/Inputs/make_calib_stats.py %t/dead.safetensors --diag layers.0/q=100,1,0,1
// RUN: sqz-opt %s --sqz-prune="method=sparsegpt sparsity=0 stats=%t/dead.safetensors" | FileCheck %s --check-prefix=DEAD
// SparseGPT on correlated activations compensates: some kept weight is no longer one of the
// original values.
// RUN: %python %S/Inputs/make_calib_stats.py %t/rand.safetensors --layer layers.0/q:4 --tokens 16 --seed 3
// RUN: sqz-opt %s --sqz-prune="method=sparsegpt stats=%t/rand.safetensors" | FileCheck %s --check-prefix=COMP

// WANDA: layers.0_q.pruned: "0x080000000000803F000080C000000000000000000000003F00000000000000C100000000"
// WANDA-LAYER: layers.0_q.pruned: "0x080000000000803F000080C000000040000040400000003F00000000000000C100000000"
// SGPT2: layers.0_q.pruned: "0x080000000000803F0000000000000000000040400000003F00000000000000C100000000"
// SGPT: layers.0_q.pruned: "0x080000000000803F000080C000000000000000000000003F00000000000000C100000000"
// DAMP: layers.0_q.pruned: "0x0800000000000000000080C000000040000040400000000000000000000000C100000000"
// DEAD: layers.0_q.pruned: "0x080000000000803F000080C000000000000040400000003F0000803E000000000000803F"
// COMP: layers.0_q.pruned: "0x08000000{{([0-9A-F]{8})*}}"
// COMP-NOT: layers.0_q.pruned: "0x08000000{{(00000000|0000803F|000080C0|00000040|00004040|0000003F|0000803E|000000C1){8}"}}

func.func @block(%x: tensor<3x4xf32>) -> tensor<3x4xf32> {
  %wq = arith.constant dense<[[1.0, -4.0, 2.0, 3.0], [0.5, 0.25, -8.0, 1.0]]> : tensor<2x4xf32>
  %q = sqz.linear %x, %wq : tensor<3x4xf32>, tensor<2x4xf32> -> tensor<3x2xf32> loc("layers.0/q")
  %wh = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]> : tensor<4x2xf32>
  %h = sqz.linear %q, %wh : tensor<3x2xf32>, tensor<4x2xf32> -> tensor<3x4xf32> loc("lm_head")
  return %h : tensor<3x4xf32>
}
