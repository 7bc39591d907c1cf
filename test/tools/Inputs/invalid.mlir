// A linear whose input feature size does not match its weight.
func.func @main(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x4xf32>
  // The error is reported here (line 5).
  %y = sqz.linear %x, %w : tensor<1x3xf32>, tensor<2x4xf32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
