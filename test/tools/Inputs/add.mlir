// y = x + x on a static tensor; used by the tool tests.
func.func @main(%x: tensor<4xf32> {sqz.name = "x"}) -> (tensor<4xf32> {sqz.name = "y"}) {
  %y = arith.addf %x, %x : tensor<4xf32>
  return %y : tensor<4xf32>
}
