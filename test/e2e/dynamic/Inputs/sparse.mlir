// A 2:4 sparse linear over dynamic [batch, seq] rows. Row 0 keeps positions (0, 1) and (0, 2)
// of its two groups, row 1 (1, 3) and (2, 3) (2-bit indices, packed low bits first), so the
// dense weight is [[1, 2, 0, 0, 3, 0, 4, 0], [0, 5, 0, 6, 0, 0, 7, 8]] (dynamic_driver.py).
func.func @main(%x: tensor<?x?x8xf32> {sqz.name = "x", sqz.dim_names = ["batch", "seq", ""], sqz.max_shape = array<i64: -1, -1, 8>})
    -> (tensor<?x?x2xf32> {sqz.name = "y", sqz.dim_names = ["batch", "seq", ""]}) {
  %v = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %i = arith.constant dense<[[-124], [-19]]> : tensor<2x1xi8>
  %b = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %y = sqz.sparse_linear %x, %v, %i, %b {sparsity = #sqz.sparsity<2:4>} : tensor<?x?x8xf32>, tensor<2x4xf32>, tensor<2x1xi8>, tensor<2xf32> -> tensor<?x?x2xf32>
  return %y : tensor<?x?x2xf32>
}
