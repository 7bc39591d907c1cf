// sqz-prune-structured{unit=attention-head}: whole GQA groups (a KV head and the query heads
// that share it) are removed behind each output projection: q/k/v lose rows, o loses columns and
// every tensor of the attention in between (head reshapes, GQA repeat, batched matmuls, scores)
// shrinks along its heads dimension. The attention has 4 query heads and 2 KV heads of size 2,
// written as the importer lowers stories260K's: reshape to heads, transpose, repeat K/V by
// expand + broadcast generic + collapse, batch_matmul, softmax stand-in, batch_matmul, back.
// Group 0 (q rows 0-3, k/v rows 0-1, o columns 0-3) has weights 1, group 1 weights 0.5.
// RUN: rm -rf %t && mkdir -p %t
// With l2 the group scores are 12 and 3 -> group 1 (q heads 2, 3 and KV head 1) goes.
// RUN: sqz-opt %s --sqz-prune-structured="unit=attention-head ratio=0.5" --verify-each | FileCheck %s --check-prefix=L2
// RUN: sqz-opt %s --sqz-prune-structured="unit=attention-head ratio=0.5 score=l2 targets=layers\.0/o$" | FileCheck %s --check-prefix=L2
// With activation scores and Σx² of o's input 1 (columns 0-3) and 10000 (columns 4-7) the scores are
// 4·1·1 = 4 and 4·0.5·100 = 200 -> group 0 goes.
// RUN: %python %S/Inputs/make_calib_stats.py %t/stats.safetensors --diag layers.0/o=1,1,1,1,10000,10000,10000,10000
// RUN: sqz-opt %s --sqz-prune-structured="unit=attention-head ratio=0.5 score=activation stats=%t/stats.safetensors" | FileCheck %s --check-prefix=ACT
// ratio 0.49 removes floor(2 · 0.49) = 0 groups; the FFN-neuron unit ignores attention.
// RUN: sqz-opt %s --sqz-prune-structured="unit=attention-head ratio=0.49" | FileCheck %s --check-prefix=NONE
// RUN: sqz-opt %s --sqz-prune-structured="unit=ffn-neuron ratio=0.5" 2>&1 | FileCheck %s --check-prefix=NONE

// L2-LABEL: func.func @gqa
// L2-DAG: %[[WQ:.*]] = arith.constant dense_resource<layers.0_q.structured> : tensor<4x8xf32>
// L2-DAG: %[[WK:.*]] = arith.constant dense_resource<layers.0_k.structured> : tensor<2x8xf32>
// L2-DAG: %[[WV:.*]] = arith.constant dense_resource<layers.0_v.structured> : tensor<2x8xf32>
// L2-DAG: %[[WO:.*]] = arith.constant dense_resource<layers.0_o.structured> : tensor<8x4xf32>
// L2: sqz.linear %{{.*}}, %[[WQ]] : tensor<1x4x8xf32>, tensor<4x8xf32> -> tensor<1x4x4xf32>
// L2: sqz.linear %{{.*}}, %[[WK]] : tensor<1x4x8xf32>, tensor<2x8xf32> -> tensor<1x4x2xf32>
// L2: tensor.expand_shape {{.*}} output_shape [1, 4, 2, 2] : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
// L2: linalg.transpose {{.*}} outs(%{{.*}} : tensor<1x2x4x2xf32>)
// L2: tensor.expand_shape {{.*}} output_shape [1, 1, 1, 4, 2] : tensor<1x1x4x2xf32> into tensor<1x1x1x4x2xf32>
// L2: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1x2x4x2xf32>)
// L2: tensor.collapse_shape {{.*}} : tensor<1x1x2x4x2xf32> into tensor<1x2x4x2xf32>
// L2: linalg.fill {{.*}} -> tensor<2x4x4xf32>
// L2: linalg.batch_matmul {{.*}} -> tensor<2x4x4xf32>
// L2: linalg.batch_matmul {{.*}} -> tensor<2x4x2xf32>
// L2: tensor.collapse_shape {{.*}} : tensor<1x4x2x2xf32> into tensor<1x4x4xf32>
// L2: sqz.linear %{{.*}}, %[[WO]] : tensor<1x4x4xf32>, tensor<8x4xf32> -> tensor<1x4x8xf32>
// Kept: q rows 0-3, k/v rows 0-1, o columns 0-3 (the weight-1 group).
// L2-DAG: layers.0_q.structured: "0x080000000000803F00000000000000000000000000000000000000000000000000000000000000000000803F00000000000000000000000000000000000000000000000000000000000000000000803F00000000000000000000000000000000000000000000000000000000000000000000803F00000000000000000000000000000000"
// L2-DAG: layers.0_k.structured: "0x080000000000803F00000000000000000000000000000000000000000000000000000000000000000000803F000000000000000000000000000000000000000000000000"
// L2-DAG: layers.0_o.structured: "0x080000000000803F000000000000000000000000000000000000803F000000000000000000000000000000000000803F000000000000000000000000000000000000803F00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"

// ACT-LABEL: func.func @gqa
// ACT: sqz.linear %{{.*}} : tensor<1x4x8xf32>, tensor<4x8xf32> -> tensor<1x4x4xf32>
// Kept: the weight-0.5 group (q rows 4-7, o columns 4-7).
// ACT-DAG: layers.0_q.structured: "0x08000000000000000000000000000000000000000000003F00000000000000000000000000000000000000000000000000000000000000000000003F00000000000000000000000000000000000000000000000000000000000000000000003F00000000000000000000000000000000000000000000000000000000000000000000003F"
// ACT-DAG: layers.0_o.structured: "0x08000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000003F000000000000000000000000000000000000003F000000000000000000000000000000000000003F000000000000000000000000000000000000003F"

// NONE-NOT: warning
// NONE-NOT: .structured
// NONE: sqz.linear %{{.*}} : tensor<1x4x8xf32>, tensor<8x8xf32> -> tensor<1x4x8xf32>
// NONE-NOT: .structured

func.func @gqa(%x: tensor<1x4x8xf32>) -> (tensor<1x4x8xf32>) {
  %wq = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]]> : tensor<8x8xf32>
  %wk = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>
  %wv = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>
  %wo = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]]> : tensor<8x8xf32>
  %zero = arith.constant 0.0 : f32
  %q = sqz.linear %x, %wq : tensor<1x4x8xf32>, tensor<8x8xf32> -> tensor<1x4x8xf32> loc("layers.0/q")
  %k = sqz.linear %x, %wk : tensor<1x4x8xf32>, tensor<4x8xf32> -> tensor<1x4x4xf32> loc("layers.0/k")
  %v = sqz.linear %x, %wv : tensor<1x4x8xf32>, tensor<4x8xf32> -> tensor<1x4x4xf32> loc("layers.0/v")
  %q4 = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [1, 4, 4, 2] : tensor<1x4x8xf32> into tensor<1x4x4x2xf32>
  %eq = tensor.empty() : tensor<1x4x4x2xf32>
  %qt = linalg.transpose ins(%q4 : tensor<1x4x4x2xf32>) outs(%eq : tensor<1x4x4x2xf32>) permutation = [0, 2, 1, 3]
  %k4 = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
  %ek = tensor.empty() : tensor<1x2x4x2xf32>
  %kt = linalg.transpose ins(%k4 : tensor<1x4x2x2xf32>) outs(%ek : tensor<1x2x4x2xf32>) permutation = [0, 2, 1, 3]
  %k5 = tensor.expand_shape %kt [[0], [1, 2], [3], [4]] output_shape [1, 2, 1, 4, 2] : tensor<1x2x4x2xf32> into tensor<1x2x1x4x2xf32>
  %rk = tensor.empty() : tensor<1x2x2x4x2xf32>
  %krep = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, 0, d3, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%k5 : tensor<1x2x1x4x2xf32>) outs(%rk : tensor<1x2x2x4x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<1x2x2x4x2xf32>
  %kg = tensor.collapse_shape %krep [[0], [1, 2], [3], [4]] : tensor<1x2x2x4x2xf32> into tensor<1x4x4x2xf32>
  %v4 = tensor.expand_shape %v [[0], [1], [2, 3]] output_shape [1, 4, 2, 2] : tensor<1x4x4xf32> into tensor<1x4x2x2xf32>
  %ev = tensor.empty() : tensor<1x2x4x2xf32>
  %vt = linalg.transpose ins(%v4 : tensor<1x4x2x2xf32>) outs(%ev : tensor<1x2x4x2xf32>) permutation = [0, 2, 1, 3]
  %v5 = tensor.expand_shape %vt [[0], [1, 2], [3], [4]] output_shape [1, 2, 1, 4, 2] : tensor<1x2x4x2xf32> into tensor<1x2x1x4x2xf32>
  %rv = tensor.empty() : tensor<1x2x2x4x2xf32>
  %vrep = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, 0, d3, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%v5 : tensor<1x2x1x4x2xf32>) outs(%rv : tensor<1x2x2x4x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<1x2x2x4x2xf32>
  %vg = tensor.collapse_shape %vrep [[0], [1, 2], [3], [4]] : tensor<1x2x2x4x2xf32> into tensor<1x4x4x2xf32>
  %ekT = tensor.empty() : tensor<1x4x2x4xf32>
  %kT = linalg.transpose ins(%kg : tensor<1x4x4x2xf32>) outs(%ekT : tensor<1x4x2x4xf32>) permutation = [0, 1, 3, 2]
  %qc = tensor.collapse_shape %qt [[0, 1], [2], [3]] : tensor<1x4x4x2xf32> into tensor<4x4x2xf32>
  %kc = tensor.collapse_shape %kT [[0, 1], [2], [3]] : tensor<1x4x2x4xf32> into tensor<4x2x4xf32>
  %es = tensor.empty() : tensor<4x4x4xf32>
  %fs = linalg.fill ins(%zero : f32) outs(%es : tensor<4x4x4xf32>) -> tensor<4x4x4xf32>
  %s = linalg.batch_matmul ins(%qc, %kc : tensor<4x4x2xf32>, tensor<4x2x4xf32>) outs(%fs : tensor<4x4x4xf32>) -> tensor<4x4x4xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [1, 4, 4, 4] : tensor<4x4x4xf32> into tensor<1x4x4x4xf32>
  %ep = tensor.empty() : tensor<1x4x4x4xf32>
  %p = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4 : tensor<1x4x4x4xf32>) outs(%ep : tensor<1x4x4x4xf32>) {
  ^bb0(%a: f32, %out: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<1x4x4x4xf32>
  %pc = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<1x4x4x4xf32> into tensor<4x4x4xf32>
  %vc = tensor.collapse_shape %vg [[0, 1], [2], [3]] : tensor<1x4x4x2xf32> into tensor<4x4x2xf32>
  %ec = tensor.empty() : tensor<4x4x2xf32>
  %fc = linalg.fill ins(%zero : f32) outs(%ec : tensor<4x4x2xf32>) -> tensor<4x4x2xf32>
  %ctx = linalg.batch_matmul ins(%pc, %vc : tensor<4x4x4xf32>, tensor<4x4x2xf32>) outs(%fc : tensor<4x4x2xf32>) -> tensor<4x4x2xf32>
  %c4 = tensor.expand_shape %ctx [[0, 1], [2], [3]] output_shape [1, 4, 4, 2] : tensor<4x4x2xf32> into tensor<1x4x4x2xf32>
  %et = tensor.empty() : tensor<1x4x4x2xf32>
  %ct = linalg.transpose ins(%c4 : tensor<1x4x4x2xf32>) outs(%et : tensor<1x4x4x2xf32>) permutation = [0, 2, 1, 3]
  %cc = tensor.collapse_shape %ct [[0], [1], [2, 3]] : tensor<1x4x4x2xf32> into tensor<1x4x8xf32>
  %o = sqz.linear %cc, %wo : tensor<1x4x8xf32>, tensor<8x8xf32> -> tensor<1x4x8xf32> loc("layers.0/o")
  return %o : tensor<1x4x8xf32>
}
