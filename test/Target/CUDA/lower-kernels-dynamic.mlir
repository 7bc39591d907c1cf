// RUN: sqz-opt %s --split-input-file --sqz-materialize="target=cuda" --sqz-cuda-lower-kernels --verify-diagnostics

// The launch shape is planned for a static M.
func.func @dynamic_rows(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  %c = arith.constant dense<3> : tensor<32x64xi8>
  %s = arith.constant dense<0.5> : tensor<32x2xf32>
  // expected-error @+1 {{'sqz.packed_linear' op needs a static input shape for the CUDA kernels, got 'tensor<?x64xf32>'}}
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = 32, symmetric = true>} : tensor<?x64xf32>, tensor<32x64xi8>, tensor<32x2xf32> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
