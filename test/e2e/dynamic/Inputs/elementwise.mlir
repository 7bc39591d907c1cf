// y = tanh(x + b) * x over a dynamic batch; b broadcasts along the rows.
func.func @main(%x: tensor<?x4xf32> {sqz.name = "x", sqz.dim_names = ["batch", ""], sqz.max_shape = array<i64: -1, 4>},
                %b: tensor<4xf32> {sqz.name = "b"})
    -> (tensor<?x4xf32> {sqz.name = "y", sqz.dim_names = ["batch", ""]}) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x4xf32>
  %e = tensor.empty(%n) : tensor<?x4xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
                                        affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x, %b : tensor<?x4xf32>, tensor<4xf32>) outs(%e : tensor<?x4xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    %t = math.tanh %s : f32
    %m = arith.mulf %t, %a : f32
    linalg.yield %m : f32
  } -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
