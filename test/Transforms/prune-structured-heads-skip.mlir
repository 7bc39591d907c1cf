// sqz-prune-structured{unit=attention-head} leaves an attention alone, with a warning naming its
// output projection and the reason, when the heads cannot be removed consistently: a per-head
// constant added to the scores (not sliced), the heads reaching a function result, an op that
// mixes heads (a sum over the heads). Nothing of such a block changes. A linear that is not an
// output projection of an attention (an FFN down projection, q/k/v themselves) is skipped
// silently.
// RUN: sqz-opt %s --sqz-prune-structured="unit=attention-head ratio=0.5" --verify-each 2>&1 | FileCheck %s

// CHECK-DAG: warning: {{.*}}sqz-prune-structured: attention block of 'layers.1/o' left unpruned: operand #1 of 'linalg.generic' varies along the heads but does not come from the q/k/v projections (a per-head constant is not sliced)
// CHECK-DAG: warning: {{.*}}sqz-prune-structured: attention block of 'layers.2/o' left unpruned: 'func.return' uses a value that carries the heads (only reshapes, slices and linalg ops are followed)
// CHECK-DAG: warning: {{.*}}sqz-prune-structured: attention block of 'layers.3/o' left unpruned: 'linalg.reduce' reduces across the heads
// CHECK-NOT: warning
// CHECK-NOT: .structured
// CHECK-LABEL: func.func @per_head_bias
// CHECK: tensor<8x8xf32> -> tensor<1x4x8xf32>
// CHECK-LABEL: func.func @ffn
// CHECK: tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32>
// CHECK-NOT: .structured

func.func @per_head_bias(%x: tensor<1x4x8xf32>) -> (tensor<1x4x8xf32>) {
  %wq = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]]> : tensor<8x8xf32>
  %wk = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>
  %wv = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>
  %wo = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]]> : tensor<8x8xf32>
  %zero = arith.constant 0.0 : f32
  %q = sqz.linear %x, %wq : tensor<1x4x8xf32>, tensor<8x8xf32> -> tensor<1x4x8xf32> loc("layers.1/q")
  %k = sqz.linear %x, %wk : tensor<1x4x8xf32>, tensor<4x8xf32> -> tensor<1x4x4xf32> loc("layers.1/k")
  %v = sqz.linear %x, %wv : tensor<1x4x8xf32>, tensor<4x8xf32> -> tensor<1x4x4xf32> loc("layers.1/v")
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
  %bias = arith.constant dense<[[[0.0, 0.015625, 0.03125, 0.046875], [0.0625, 0.078125, 0.09375, 0.109375], [0.125, 0.140625, 0.15625, 0.171875], [0.1875, 0.203125, 0.21875, 0.234375]], [[0.25, 0.265625, 0.28125, 0.296875], [0.3125, 0.328125, 0.34375, 0.359375], [0.375, 0.390625, 0.40625, 0.421875], [0.4375, 0.453125, 0.46875, 0.484375]], [[0.5, 0.515625, 0.53125, 0.546875], [0.5625, 0.578125, 0.59375, 0.609375], [0.625, 0.640625, 0.65625, 0.671875], [0.6875, 0.703125, 0.71875, 0.734375]], [[0.75, 0.765625, 0.78125, 0.796875], [0.8125, 0.828125, 0.84375, 0.859375], [0.875, 0.890625, 0.90625, 0.921875], [0.9375, 0.953125, 0.96875, 0.984375]]]> : tensor<4x4x4xf32>
  %sb = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4, %bias : tensor<1x4x4x4xf32>, tensor<4x4x4xf32>) outs(%ep : tensor<1x4x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %sum = arith.addf %a, %b : f32
    linalg.yield %sum : f32
  } -> tensor<1x4x4x4xf32>
  %p = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%sb : tensor<1x4x4x4xf32>) outs(%ep : tensor<1x4x4x4xf32>) {
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
  %o = sqz.linear %cc, %wo : tensor<1x4x8xf32>, tensor<8x8xf32> -> tensor<1x4x8xf32> loc("layers.1/o")
  return %o : tensor<1x4x8xf32>
}

func.func @return_heads(%x: tensor<1x4x8xf32>) -> (tensor<1x4x8xf32>, tensor<1x4x4x2xf32>) {
  %wq = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]]> : tensor<8x8xf32>
  %wk = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>
  %wv = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>
  %wo = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]]> : tensor<8x8xf32>
  %zero = arith.constant 0.0 : f32
  %q = sqz.linear %x, %wq : tensor<1x4x8xf32>, tensor<8x8xf32> -> tensor<1x4x8xf32> loc("layers.2/q")
  %k = sqz.linear %x, %wk : tensor<1x4x8xf32>, tensor<4x8xf32> -> tensor<1x4x4xf32> loc("layers.2/k")
  %v = sqz.linear %x, %wv : tensor<1x4x8xf32>, tensor<4x8xf32> -> tensor<1x4x4xf32> loc("layers.2/v")
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
  %o = sqz.linear %cc, %wo : tensor<1x4x8xf32>, tensor<8x8xf32> -> tensor<1x4x8xf32> loc("layers.2/o")
  return %o, %ct : tensor<1x4x8xf32>, tensor<1x4x4x2xf32>
}

func.func @mix_heads(%x: tensor<1x4x8xf32>) -> (tensor<1x4x8xf32>) {
  %wq = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]]> : tensor<8x8xf32>
  %wk = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>
  %wv = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>
  %wo = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]]> : tensor<8x8xf32>
  %zero = arith.constant 0.0 : f32
  %q = sqz.linear %x, %wq : tensor<1x4x8xf32>, tensor<8x8xf32> -> tensor<1x4x8xf32> loc("layers.3/q")
  %k = sqz.linear %x, %wk : tensor<1x4x8xf32>, tensor<4x8xf32> -> tensor<1x4x4xf32> loc("layers.3/k")
  %v = sqz.linear %x, %wv : tensor<1x4x8xf32>, tensor<4x8xf32> -> tensor<1x4x4xf32> loc("layers.3/v")
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
  %er = tensor.empty() : tensor<1x4x4xf32>
  %fr = linalg.fill ins(%zero : f32) outs(%er : tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
  %sumh = linalg.reduce ins(%p : tensor<1x4x4x4xf32>) outs(%fr : tensor<1x4x4xf32>) dimensions = [1]
    (%in: f32, %init: f32) {
      %r = arith.addf %in, %init : f32
      linalg.yield %r : f32
    }
  %pn = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%p, %sumh : tensor<1x4x4x4xf32>, tensor<1x4x4xf32>) outs(%ep : tensor<1x4x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %d = arith.divf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<1x4x4x4xf32>
  %pc = tensor.collapse_shape %pn [[0, 1], [2], [3]] : tensor<1x4x4x4xf32> into tensor<4x4x4xf32>
  %vc = tensor.collapse_shape %vg [[0, 1], [2], [3]] : tensor<1x4x4x2xf32> into tensor<4x4x2xf32>
  %ec = tensor.empty() : tensor<4x4x2xf32>
  %fc = linalg.fill ins(%zero : f32) outs(%ec : tensor<4x4x2xf32>) -> tensor<4x4x2xf32>
  %ctx = linalg.batch_matmul ins(%pc, %vc : tensor<4x4x4xf32>, tensor<4x4x2xf32>) outs(%fc : tensor<4x4x2xf32>) -> tensor<4x4x2xf32>
  %c4 = tensor.expand_shape %ctx [[0, 1], [2], [3]] output_shape [1, 4, 4, 2] : tensor<4x4x2xf32> into tensor<1x4x4x2xf32>
  %et = tensor.empty() : tensor<1x4x4x2xf32>
  %ct = linalg.transpose ins(%c4 : tensor<1x4x4x2xf32>) outs(%et : tensor<1x4x4x2xf32>) permutation = [0, 2, 1, 3]
  %cc = tensor.collapse_shape %ct [[0], [1], [2, 3]] : tensor<1x4x4x2xf32> into tensor<1x4x8xf32>
  %o = sqz.linear %cc, %wo : tensor<1x4x8xf32>, tensor<8x8xf32> -> tensor<1x4x8xf32> loc("layers.3/o")
  return %o : tensor<1x4x8xf32>
}

func.func @ffn(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %w1 = arith.constant dense<1.0> : tensor<4x3xf32>
  %w2 = arith.constant dense<1.0> : tensor<3x4xf32>
  %h = sqz.linear %x, %w1 : tensor<2x3xf32>, tensor<4x3xf32> -> tensor<2x4xf32> loc("layers.4/w1")
  %a = math.tanh %h : tensor<2x4xf32>
  %y = sqz.linear %a, %w2 : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32> loc("layers.4/w2")
  return %y : tensor<2x3xf32>
}
