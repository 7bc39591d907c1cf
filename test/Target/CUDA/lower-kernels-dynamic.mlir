// RUN: sqz-opt %s --split-input-file --sqz-materialize="target=cuda" --sqz-cuda-lower-kernels --verify-diagnostics | FileCheck %s

// The launch is planned for a static number of rows: a compressed linear over dynamic rows
// stays on the run-time dequantization path (the generated code), a dense one silently.
// CHECK-LABEL: func.func @dynamic_rows
// CHECK-NOT: sqz.packed_linear
// CHECK: sqz.quant_linear
// CHECK: sqz.linear
func.func @dynamic_rows(%x: tensor<?x64xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>) {
  %c = arith.constant dense<3> : tensor<32x64xi8>
  %s = arith.constant dense<0.5> : tensor<32x2xf32>
  // expected-remark @+1 {{stays on the run-time dequantization path: the CUDA kernels need a static number of rows (the input has a dynamic shape)}}
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = 32, symmetric = true>} : tensor<?x64xf32>, tensor<32x64xi8>, tensor<32x2xf32> -> tensor<?x32xf32>
  %w = arith.constant dense<0.25> : tensor<32x64xf32>
  %z = sqz.linear %x, %w : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  return %y, %z : tensor<?x32xf32>, tensor<?x32xf32>
}
