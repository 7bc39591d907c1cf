// sqz-prune without calibration (magnitude): comparison groups, layer selection by name.
// RUN: sqz-opt %s --sqz-prune | FileCheck %s --check-prefix=ROW
// RUN: sqz-opt %s --sqz-prune="method=magnitude sparsity=0.5 granularity=row" | FileCheck %s --check-prefix=ROW
// RUN: sqz-opt %s --sqz-prune="granularity=layer" | FileCheck %s --check-prefix=LAYER
// The default `ignore` protects lm_head even when a target names it; replacing `ignore` does not.
// RUN: sqz-opt %s --sqz-prune="targets=lm_head" | FileCheck %s --check-prefix=NONE
// RUN: sqz-opt %s --sqz-prune="targets=lm_head ignore=^$" | FileCheck %s --check-prefix=HEAD
// Regexes are ECMAScript, searched in the name; `ignore` wins over `targets`.
// RUN: sqz-opt %s --sqz-prune='targets=layers\.\d+/(q|o) ignore=/o$' | FileCheck %s --check-prefix=ONLYQ
// RUN: sqz-opt %s --sqz-prune='targets=^layers\.0/o$,^layers\.0/q$' | FileCheck %s --check-prefix=BOTH
// A regex with a comma, quoted inside the list.
// RUN: sqz-opt %s --sqz-prune='targets="^layers\.\d{1,3}/q$"' | FileCheck %s --check-prefix=ONLYQ
// Unnamed linears are never selected, even by a regex that matches the empty string.
// RUN: sqz-opt %s --sqz-prune='targets=.* ignore=^$' | FileCheck %s --check-prefix=ALL
// sparsity 0 prunes nothing.
// RUN: sqz-opt %s --sqz-prune="sparsity=0" | FileCheck %s --check-prefix=ZERO

// Row 50%: each row loses its 2 smallest |w| -> [[0, -4, 0, 3], [0, 0, -8, 1]].
// Layer 50%: the 4 smallest of the matrix (0.25, 0.5, then the two 1.0, ties by position)
//   -> [[0, -4, 2, 3], [0, 0, -8, 0]].
// layers.0/o: row 50% of [[1, 2], [-3, 0.5], [1.5, -1], [0.25, -1]] -> [[0, 2], [-3, 0], [1.5, 0], [0, -1]].

// ROW-LABEL: func.func @block
// ROW: %[[Q:.*]] = arith.constant dense_resource<layers.0_q.pruned> : tensor<2x4xf32>
// ROW: sqz.linear %{{.*}}, %[[Q]] : tensor<3x4xf32>, tensor<2x4xf32>
// ROW: %[[O:.*]] = arith.constant dense_resource<layers.0_o.pruned> : tensor<4x2xf32>
// ROW: sqz.linear %{{.*}}, %[[O]], %{{.*}} : tensor<3x2xf32>, tensor<4x2xf32>, tensor<4xf32>
// ROW: arith.constant dense<{{.*}}> : tensor<4x4xf32>
// ROW: sqz.linear
// ROW: arith.constant dense<{{.*}}> : tensor<4x4xf32>
// ROW: sqz.linear
// ROW: layers.0_q.pruned: "0x0800000000000000000080C000000000000040400000000000000000000000C10000803F"
// ROW: layers.0_o.pruned: "0x080000000000000000000040000040C0000000000000C03F0000000000000000000080BF"

// LAYER: layers.0_q.pruned: "0x0800000000000000000080C000000040000040400000000000000000000000C100000000"

// NONE-NOT: dense_resource

// HEAD: dense_resource<lm_head.pruned>
// HEAD-NOT: dense_resource

// ONLYQ: dense_resource<layers.0_q.pruned>
// ONLYQ-NOT: dense_resource

// BOTH: dense_resource<layers.0_q.pruned>
// BOTH: dense_resource<layers.0_o.pruned>
// BOTH-NOT: dense_resource

// ALL: dense_resource<layers.0_q.pruned>
// ALL: dense_resource<layers.0_o.pruned>
// ALL: dense_resource<lm_head.pruned>
// ALL-NOT: dense_resource

// ZERO: layers.0_q.pruned: "0x080000000000803F000080C000000040000040400000003F0000803E000000C10000803F"

func.func @block(%x: tensor<3x4xf32>) -> (tensor<3x4xf32>, tensor<3x4xf32>) {
  %wq = arith.constant dense<[[1.0, -4.0, 2.0, 3.0], [0.5, 0.25, -8.0, 1.0]]> : tensor<2x4xf32>
  %q = sqz.linear %x, %wq : tensor<3x4xf32>, tensor<2x4xf32> -> tensor<3x2xf32> loc("layers.0/q")
  %wo = arith.constant dense<[[1.0, 2.0], [-3.0, 0.5], [1.5, -1.0], [0.25, -1.0]]> : tensor<4x2xf32>
  %bo = arith.constant dense<[0.1, 0.2, 0.3, 0.4]> : tensor<4xf32>
  %o = sqz.linear %q, %wo, %bo : tensor<3x2xf32>, tensor<4x2xf32>, tensor<4xf32> -> tensor<3x4xf32> loc("layers.0/o")
  %wh = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]]> : tensor<4x4xf32>
  %h = sqz.linear %o, %wh : tensor<3x4xf32>, tensor<4x4xf32> -> tensor<3x4xf32> loc("lm_head")
  %wu = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 5.0]]> : tensor<4x4xf32>
  %u = sqz.linear %o, %wu : tensor<3x4xf32>, tensor<4x4xf32> -> tensor<3x4xf32>
  return %h, %u : tensor<3x4xf32>, tensor<3x4xf32>
}
