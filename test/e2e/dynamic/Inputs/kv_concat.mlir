// A KV-cache step: present = concat(past, new) along the sequence axis of
// [batch, heads, seq, head_dim], with past = 0 allowed (prefill), and a second output of the
// new slice only.
func.func @main(%past: tensor<1x2x?x8xf32> {sqz.name = "past", sqz.dim_names = ["", "", "past", ""], sqz.max_shape = array<i64: 1, 2, 64, 8>},
                %new: tensor<1x2x?x8xf32> {sqz.name = "new", sqz.dim_names = ["", "", "seq", ""], sqz.max_shape = array<i64: 1, 2, 16, 8>})
    -> (tensor<1x2x?x8xf32> {sqz.name = "present", sqz.dim_names = ["", "", "total", ""]},
        tensor<1x2x?x8xf32> {sqz.name = "scaled", sqz.dim_names = ["", "", "seq", ""]}) {
  %present = tensor.concat dim(2) %past, %new : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  %c2 = arith.constant 2 : index
  %seq = tensor.dim %new, %c2 : tensor<1x2x?x8xf32>
  %e = tensor.empty(%seq) : tensor<1x2x?x8xf32>
  %two = arith.constant 2.0 : f32
  %scaled = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>,
                                             affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                            iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%new : tensor<1x2x?x8xf32>) outs(%e : tensor<1x2x?x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.mulf %a, %two : f32
    linalg.yield %r : f32
  } -> tensor<1x2x?x8xf32>
  return %present, %scaled : tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>
}
