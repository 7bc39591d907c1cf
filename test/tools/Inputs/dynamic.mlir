func.func @main(%x: tensor<?x4xf32> {sqz.name = "x"}) -> (tensor<?x4xf32> {sqz.name = "y"}) {
  return %x : tensor<?x4xf32>
}
