// A small graph in sqz graph IR (what the importer produces): two linears with a tanh-GELU and
// a row softmax, on a rank-3 input. Used by e2e/graph-ir.test.
func.func @main(%x: tensor<2x3x4xf32> {sqz.name = "x"}) -> (tensor<2x3x2xf32> {sqz.name = "probs"}, tensor<2x3x5xf32> {sqz.name = "hidden"}) {
  %w1 = arith.constant dense<[[0.1, -0.2, 0.3, 0.4], [0.5, 0.6, -0.7, 0.8], [-0.9, 1.0, 1.1, -1.2], [0.05, 0.15, -0.25, 0.35], [0.45, -0.55, 0.65, 0.75]]> : tensor<5x4xf32>
  %b1 = arith.constant dense<[0.01, -0.02, 0.03, -0.04, 0.05]> : tensor<5xf32>
  %w2 = arith.constant dense<[[0.3, -0.1, 0.2, 0.7, -0.5], [-0.4, 0.9, 0.6, -0.8, 0.1]]> : tensor<2x5xf32>
  %h = sqz.linear %x, %w1, %b1 : tensor<2x3x4xf32>, tensor<5x4xf32>, tensor<5xf32> -> tensor<2x3x5xf32>
  %g = math.erf %h : tensor<2x3x5xf32>
  %l = sqz.linear %g, %w2 : tensor<2x3x5xf32>, tensor<2x5xf32> -> tensor<2x3x2xf32>
  %e = math.exp %l : tensor<2x3x2xf32>
  %z = tensor.empty() : tensor<2x3xf32>
  %zero = arith.constant 0.0 : f32
  %zf = linalg.fill ins(%zero : f32) outs(%z : tensor<2x3xf32>) -> tensor<2x3xf32>
  %s = linalg.reduce ins(%e : tensor<2x3x2xf32>) outs(%zf : tensor<2x3xf32>) dimensions = [2]
    (%a: f32, %acc: f32) {
      %r = arith.addf %a, %acc : f32
      linalg.yield %r : f32
    }
  %o = tensor.empty() : tensor<2x3x2xf32>
  %p = linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, j, k)>, affine_map<(i, j, k) -> (i, j)>, affine_map<(i, j, k) -> (i, j, k)>], iterator_types = ["parallel", "parallel", "parallel"]}
    ins(%e, %s : tensor<2x3x2xf32>, tensor<2x3xf32>) outs(%o : tensor<2x3x2xf32>) {
    ^bb0(%a: f32, %b: f32, %c: f32):
      %d = arith.divf %a, %b : f32
      linalg.yield %d : f32
  } -> tensor<2x3x2xf32>
  return %p, %h : tensor<2x3x2xf32>, tensor<2x3x5xf32>
}
