// sqz-prune-structured leaves alone, with a warning naming the block, every FFN-like block it
// cannot shrink exactly, and skips other linears silently. Nothing is rewritten.
// RUN: sqz-opt %s --sqz-prune-structured="ratio=0.5" --mlir-print-debuginfo --mlir-print-local-scope 2>&1 | FileCheck %s --implicit-check-not=warning: --implicit-check-not=dense_resource

// CHECK-DAG: warning: {{.*}}sqz-prune-structured: FFN block of 'layers.0/w2' left unpruned: 'tensor.collapse_shape' between the producers and the down projection is not elementwise
// CHECK-DAG: warning: {{.*}}sqz-prune-structured: FFN block of 'layers.1/w2' left unpruned: the intermediate value of 'linalg.generic' is also used by 'func.return'
// CHECK-DAG: warning: {{.*}}sqz-prune-structured: FFN block of 'layers.2/w2' left unpruned: the intermediate value of 'sqz.linear' (layers.2/w1) is also used by 'linalg.reduce'
// CHECK-DAG: warning: {{.*}}sqz-prune-structured: FFN block of 'layers.3/w2' left unpruned: its gate/up linears 'sqz.linear' (layers.3/w{{[13]}}) and 'sqz.linear' (layers.3/w{{[13]}}) read different inputs
// CHECK-DAG: warning: {{.*}}sqz-prune-structured: FFN block of 'layers.4/w2' left unpruned: 'linalg.generic' depends on the element position (linalg.index or a captured tensor)
// CHECK-LABEL: func.func @reshape
// CHECK: tensor<4x3xf32> -> tensor<2x4xf32> loc("layers.0/w1")
// CHECK-LABEL: func.func @second_user
// CHECK: tensor<4x3xf32> -> tensor<2x4xf32> loc("layers.1/w1")
// CHECK-LABEL: func.func @reduction
// CHECK: tensor<4x3xf32> -> tensor<2x4xf32> loc("layers.2/w1")
// CHECK-LABEL: func.func @different_inputs
// CHECK: tensor<3x4xf32> -> tensor<2x3xf32> loc("layers.3/w2")
// CHECK-LABEL: func.func @position
// CHECK: tensor<3x4xf32> -> tensor<2x3xf32> loc("layers.4/w2")
// CHECK-LABEL: func.func @per_neuron_constant
// CHECK: tensor<3x4xf32> -> tensor<2x3xf32> loc("layers.5/w2")
// CHECK-LABEL: func.func @not_ffn

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// A reshape between the producer and the down projection.
func.func @reshape(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %w1 = arith.constant dense<1.0> : tensor<4x3xf32>
  %w2 = arith.constant dense<1.0> : tensor<3x4xf32>
  %h = sqz.linear %x, %w1 : tensor<2x3xf32>, tensor<4x3xf32> -> tensor<2x4xf32> loc("layers.0/w1")
  %r = tensor.expand_shape %h [[0], [1, 2]] output_shape [2, 2, 2] : tensor<2x4xf32> into tensor<2x2x2xf32>
  %c = tensor.collapse_shape %r [[0], [1, 2]] : tensor<2x2x2xf32> into tensor<2x4xf32>
  %y = sqz.linear %c, %w2 : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32> loc("layers.0/w2")
  return %y : tensor<2x3xf32>
}

// The activation is also returned.
func.func @second_user(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x4xf32>) {
  %w1 = arith.constant dense<1.0> : tensor<4x3xf32>
  %w2 = arith.constant dense<1.0> : tensor<3x4xf32>
  %h = sqz.linear %x, %w1 : tensor<2x3xf32>, tensor<4x3xf32> -> tensor<2x4xf32> loc("layers.1/w1")
  %e = tensor.empty() : tensor<2x4xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%h : tensor<2x4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = math.tanh %in : f32
    linalg.yield %t : f32
  } -> tensor<2x4xf32>
  %y = sqz.linear %a, %w2 : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32> loc("layers.1/w2")
  return %y, %a : tensor<2x3xf32>, tensor<2x4xf32>
}

// A softmax across the neurons (a reduction over I).
func.func @reduction(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %w1 = arith.constant dense<1.0> : tensor<4x3xf32>
  %w2 = arith.constant dense<1.0> : tensor<3x4xf32>
  %zero = arith.constant 0.0 : f32
  %h = sqz.linear %x, %w1 : tensor<2x3xf32>, tensor<4x3xf32> -> tensor<2x4xf32> loc("layers.2/w1")
  %e1 = tensor.empty() : tensor<2xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2xf32>) -> tensor<2xf32>
  %s = linalg.reduce ins(%h : tensor<2x4xf32>) outs(%z : tensor<2xf32>) dimensions = [1]
    (%in: f32, %acc: f32) {
      %r = arith.addf %in, %acc : f32
      linalg.yield %r : f32
    }
  %e = tensor.empty() : tensor<2x4xf32>
  %p = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%h, %s : tensor<2x4xf32>, tensor<2xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %d = arith.divf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<2x4xf32>
  %y = sqz.linear %p, %w2 : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32> loc("layers.2/w2")
  return %y : tensor<2x3xf32>
}

// Gate and up read different inputs.
func.func @different_inputs(%x: tensor<2x3xf32>, %x2: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %w1 = arith.constant dense<1.0> : tensor<4x3xf32>
  %w2 = arith.constant dense<1.0> : tensor<3x4xf32>
  %g = sqz.linear %x, %w1 : tensor<2x3xf32>, tensor<4x3xf32> -> tensor<2x4xf32> loc("layers.3/w1")
  %u = sqz.linear %x2, %w1 : tensor<2x3xf32>, tensor<4x3xf32> -> tensor<2x4xf32> loc("layers.3/w3")
  %m = arith.mulf %g, %u : tensor<2x4xf32>
  %y = sqz.linear %m, %w2 : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32> loc("layers.3/w2")
  return %y : tensor<2x3xf32>
}

// The activation depends on the neuron's index.
func.func @position(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %w1 = arith.constant dense<1.0> : tensor<4x3xf32>
  %w2 = arith.constant dense<1.0> : tensor<3x4xf32>
  %h = sqz.linear %x, %w1 : tensor<2x3xf32>, tensor<4x3xf32> -> tensor<2x4xf32> loc("layers.4/w1")
  %e = tensor.empty() : tensor<2x4xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%h : tensor<2x4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %i = linalg.index 1 : index
    %ii = arith.index_cast %i : index to i32
    %f = arith.sitofp %ii : i32 to f32
    %t = arith.mulf %in, %f : f32
    linalg.yield %t : f32
  } -> tensor<2x4xf32>
  %y = sqz.linear %a, %w2 : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32> loc("layers.4/w2")
  return %y : tensor<2x3xf32>
}

// A per-neuron constant between producer and consumer is not supported; such a linear looks
// like one fed by a normalization weight and is skipped silently.
func.func @per_neuron_constant(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %w1 = arith.constant dense<1.0> : tensor<4x3xf32>
  %w2 = arith.constant dense<1.0> : tensor<3x4xf32>
  %scale = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %h = sqz.linear %x, %w1 : tensor<2x3xf32>, tensor<4x3xf32> -> tensor<2x4xf32> loc("layers.5/w1")
  %e = tensor.empty() : tensor<2x4xf32>
  %a = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%h, %scale : tensor<2x4xf32>, tensor<4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%in: f32, %s: f32, %out: f32):
    %t = arith.mulf %in, %s : f32
    linalg.yield %t : f32
  } -> tensor<2x4xf32>
  %y = sqz.linear %a, %w2 : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32> loc("layers.5/w2")
  return %y : tensor<2x3xf32>
}

// Not an FFN block: linears fed by the function argument, or by a reduction (an RMSNorm-like
// op) over the output of another linear: skipped without a diagnostic.
func.func @not_ffn(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %w = arith.constant dense<1.0> : tensor<4x4xf32>
  %zero = arith.constant 0.0 : f32
  %q = sqz.linear %x, %w : tensor<2x4xf32>, tensor<4x4xf32> -> tensor<2x4xf32> loc("layers.6/q")
  %e1 = tensor.empty() : tensor<2xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2xf32>) -> tensor<2xf32>
  %s = linalg.reduce ins(%q : tensor<2x4xf32>) outs(%z : tensor<2xf32>) dimensions = [1]
    (%in: f32, %acc: f32) {
      %r = arith.addf %in, %acc : f32
      linalg.yield %r : f32
    }
  %g = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %e = tensor.empty() : tensor<2x4xf32>
  %n = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%q, %s, %g : tensor<2x4xf32>, tensor<2xf32>, tensor<4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %out: f32):
    %d = arith.divf %a, %b : f32
    %m = arith.mulf %d, %c : f32
    linalg.yield %m : f32
  } -> tensor<2x4xf32>
  %o = sqz.linear %n, %w : tensor<2x4xf32>, tensor<4x4xf32> -> tensor<2x4xf32> loc("layers.6/o")
  return %o : tensor<2x4xf32>
}
