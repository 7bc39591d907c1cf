func.func @main(%x: tensor<?x16xf32> {sqz.name = "x"}) -> (tensor<?x16xf32> {sqz.name = "y"}) {
  %e = math.exp %x : tensor<?x16xf32>
  return %e : tensor<?x16xf32>
}
