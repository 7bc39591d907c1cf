func.func @main(%n: tensor<1xi64> {sqz.name = "n"}) -> (tensor<?xf32> {sqz.name = "y"}) {
  %c0 = arith.constant 0 : index
  %v = tensor.extract %n[%c0] : tensor<1xi64>
  %i = arith.index_cast %v : i64 to index
  %e = tensor.empty(%i) : tensor<?xf32>
  %z = arith.constant 0.0 : f32
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  return %f : tensor<?xf32>
}
