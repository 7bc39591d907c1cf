// sqz-sparsify-nm: n:m masks, the compressed sqz.sparse_linear and its index layout.
// RUN: rm -rf %t && mkdir -p %t
// (layers.0/w2 has 6 inputs, which the default tail=error refuses: see sparsify-nm-invalid.mlir.)
// RUN: sqz-opt %s --mlir-print-debuginfo --sqz-sparsify-nm="targets=layers\.0/q" | FileCheck %s --check-prefix=MAG24
// RUN: sqz-opt %s --mlir-print-debuginfo --sqz-sparsify-nm="n=2 m=4 method=magnitude targets=q$" | FileCheck %s --check-prefix=MAG24
// RUN: sqz-opt %s --mlir-print-debuginfo --sqz-sparsify-nm="n=4 m=8 targets=layers\.0/q" | FileCheck %s --check-prefix=MAG48
// RUN: sqz-opt %s --mlir-print-debuginfo --sqz-sparsify-nm="tail=dense targets=layers\.0/w2" | FileCheck %s --check-prefix=TAIL
// RUN: %python %S/Inputs/make_calib_stats.py %t/s.safetensors --diag layers.0/q=100,1,1,1,1,1,1,1 --diag layers.0/w2=100,1,1,1,1,1
// RUN: sqz-opt %s --mlir-print-debuginfo --sqz-sparsify-nm="method=wanda stats=%t/s.safetensors targets=layers\.0/q" | FileCheck %s --check-prefix=WANDA
// SparseGPT on a diagonal Hessian keeps the Wanda mask (same order of w^2 H_jj) and the values.
// RUN: sqz-opt %s --mlir-print-debuginfo --sqz-sparsify-nm="method=sparsegpt block-size=8 stats=%t/s.safetensors targets=layers\.0/q" | FileCheck %s --check-prefix=WANDA
// With a huge damping, SparseGPT's 2:4 mask is the magnitude one.
// RUN: sqz-opt %s --mlir-print-debuginfo --sqz-sparsify-nm="method=sparsegpt damp=1000 stats=%t/s.safetensors targets=layers\.0/q" | FileCheck %s --check-prefix=MAG24
// SparseGPT 2:4 with correlated activations (the verifier checks the packed indices).
// RUN: %python %S/Inputs/make_calib_stats.py %t/rand.safetensors --layer layers.0/q:8 --tokens 32 --seed 1
// RUN: sqz-opt %s --sqz-sparsify-nm="method=sparsegpt stats=%t/rand.safetensors targets=layers\.0/q" | FileCheck %s --check-prefix=SGPT-RAND
// Round trip and lowering of the result.
// RUN: sqz-opt %s --mlir-print-debuginfo --sqz-sparsify-nm="tail=dense" | sqz-opt --convert-sqz-to-linalg | FileCheck %s --check-prefix=LOWER

// layers.0/q, 2:4 by magnitude: row 0 keeps columns {1, 3} and {2, 3} of its groups
// (nibbles 0xD, 0xE -> byte 0xED), row 1 keeps {2, 3} and {2, 3} (0xEE).
// MAG24-LABEL: func.func @block
// MAG24: %[[V:.*]] = arith.constant dense_resource<layers.0_q.nm_values> : tensor<2x4xf32>
// MAG24: %[[I:.*]] = arith.constant dense_resource<layers.0_q.nm_indices> : tensor<2x1xi8>
// MAG24: sqz.sparse_linear %{{.*}}, %[[V]], %[[I]], %{{.*}} {sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf32>, tensor<2x4xf32>, tensor<2x1xi8>, tensor<2xf32> -> tensor<3x2xf32> loc([[QLOC:#loc[0-9]*]])
// MAG24: sqz.linear {{.*}} -> tensor<3x4xf32> loc([[HLOC:#loc[0-9]*]])
// MAG24-DAG: [[QLOC]] = loc("layers.0/q")
// MAG24-DAG: [[HLOC]] = loc("lm_head")
// MAG24: layers.0_q.nm_values: "0x08000000000080C000004040000000C10000803F0000E0C0000000419A99993ECDCCCCBE"
// MAG24: layers.0_q.nm_indices: "0x08000000EDEE"

// 4:8 has 3-bit indices: row 0 keeps {1, 2, 3, 6} = 1 | 2 << 3 | 3 << 6 | 6 << 9 = 0x0CD1,
// row 1 keeps {0, 1, 2, 3} = 0x0688; two little-endian bytes per row.
// MAG48: sqz.sparse_linear {{.*}} {sparsity = #sqz.sparsity<4:8>} : tensor<3x8xf32>, tensor<2x4xf32>, tensor<2x2xi8>, tensor<2xf32> -> tensor<3x2xf32>
// MAG48: sqz.linear {{.*}} loc([[W2LOC:#loc[0-9]*]])
// MAG48: [[W2LOC]] = loc("layers.0/w2")
// MAG48: layers.0_q.nm_values: "0x08000000000080C00000004000004040000000C10000A0400000C0400000E0C000000041"
// MAG48: layers.0_q.nm_indices: "0x08000000D10C8806"

// tail=dense: 6 inputs = one 2:4 group + 2 dense columns stored after the kept values.
// TAIL: sqz.linear {{.*}} loc([[QLOC:#loc[0-9]*]])
// TAIL: sqz.sparse_linear {{.*}} {sparsity = #sqz.sparsity<2:4>} : tensor<3x6xf32>, tensor<2x4xf32>, tensor<2x1xi8> -> tensor<3x2xf32> loc([[W2LOC:#loc[0-9]*]])
// TAIL-DAG: [[QLOC]] = loc("layers.0/q")
// TAIL-DAG: [[W2LOC]] = loc("layers.0/w2")
// TAIL: layers.0_w2.nm_values: "0x08000000000080C0000040400000003F0000803E0000E0C000000041CDCCCC3DCDCC4C3E"
// TAIL: layers.0_w2.nm_indices: "0x080000000D0E"

// Wanda with column 0 at 100x the energy: row 0 keeps {0, 1} and {2, 3} (0xE4), row 1 keeps
// {0, 3} and {2, 3} (0xEC).
// WANDA: layers.0_q.nm_values: "0x080000000000803F000080C0000000C10000803F0000A040000000419A99993ECDCCCCBE"
// WANDA: layers.0_q.nm_indices: "0x08000000E4EC"

// SGPT-RAND: sqz.sparse_linear {{.*}} {sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf32>, tensor<2x4xf32>, tensor<2x1xi8>, tensor<2xf32> -> tensor<3x2xf32>
// SGPT-RAND: layers.0_q.nm_values: "0x08000000{{[0-9A-F]+}}"
// SGPT-RAND-NOT: layers.0_q.nm_values: "0x08000000000080C000004040000000C10000803F0000E0C0000000419A99993ECDCCCCBE"

// LOWER-LABEL: func.func @block
// LOWER: linalg.generic {{.*}} outs(%{{.*}} : tensor<2x8xf32>)
// LOWER: tensor.extract %{{.*}} : tensor<2x1xi8>
// LOWER: tensor.extract %{{.*}} : tensor<2x4xf32>
// LOWER: linalg.matmul
// LOWER: linalg.generic {{.*}} outs(%{{.*}} : tensor<2x6xf32>)
// LOWER: linalg.matmul
// LOWER: linalg.matmul
// LOWER-NOT: sqz.

func.func @block(%x: tensor<3x8xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x4xf32>) {
  %wq = arith.constant dense<[[1.0, -4.0, 2.0, 3.0, 0.5, 0.25, -8.0, 1.0], [5.0, 6.0, -7.0, 8.0, 0.1, 0.2, 0.3, -0.4]]> : tensor<2x8xf32>
  %bq = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %q = sqz.linear %x, %wq, %bq : tensor<3x8xf32>, tensor<2x8xf32>, tensor<2xf32> -> tensor<3x2xf32> loc("layers.0/q")
  %x6 = tensor.extract_slice %x[0, 0] [3, 6] [1, 1] : tensor<3x8xf32> to tensor<3x6xf32>
  %w2 = arith.constant dense<[[1.0, -4.0, 2.0, 3.0, 0.5, 0.25], [5.0, 6.0, -7.0, 8.0, 0.1, 0.2]]> : tensor<2x6xf32>
  %d = sqz.linear %x6, %w2 : tensor<3x6xf32>, tensor<2x6xf32> -> tensor<3x2xf32> loc("layers.0/w2")
  %wh = arith.constant dense<[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]]> : tensor<4x8xf32>
  %h = sqz.linear %x, %wh : tensor<3x8xf32>, tensor<4x8xf32> -> tensor<3x4xf32> loc("lm_head")
  return %q, %d, %h : tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x4xf32>
}
