// RUN: sqz-opt %s --split-input-file --sqz-materialize="target=cpu isa=avx2" --sqz-cuda-lower-kernels --verify-diagnostics

// A CPU blob is not for the CUDA kernels.
func.func @cpu_blob(%x: tensor<2x64xf32>) -> tensor<2x32xf32> {
  %c = arith.constant dense<3> : tensor<32x64xi8>
  %s = arith.constant dense<0.5> : tensor<32x2xf32>
  // expected-error @+1 {{'sqz.packed_linear' op holds a blob for the CPU (isa 'avx2'): sqz-cuda-lower-kernels launches CUDA kernels only (sqz-materialize{target=cuda})}}
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = 32, symmetric = true>} : tensor<2x64xf32>, tensor<32x64xi8>, tensor<32x2xf32> -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}
