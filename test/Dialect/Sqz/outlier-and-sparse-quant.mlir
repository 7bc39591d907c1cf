// RUN: sqz-opt %s | sqz-opt | FileCheck %s
// RUN: sqz-opt %s --mlir-print-op-generic | sqz-opt | FileCheck %s

// The outlier-split linear (LLM.int8): int8 codes over all columns (outlier column 3 holds the
// zero point 128), one scale per row, the float weights of column 3.
// CHECK-LABEL: func.func @outlier
// CHECK: sqz.outlier_linear %arg0, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} bias %{{.*}} {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>, tensor<1xi64>, tensor<2x1xf32>, tensor<2xf32> -> tensor<4x2xf32>
func.func @outlier(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %c = arith.constant dense<[[1, 2, 3, 128, 250, 255, 128, 7], [128, 128, 128, 128, 1, 2, 3, 4]]> : tensor<2x8xi8>
  %s = arith.constant dense<[[0.5], [0.25]]> : tensor<2x1xf32>
  %i = arith.constant dense<[3]> : tensor<1xi64>
  %f = arith.constant dense<[[7.0], [-9.0]]> : tensor<2x1xf32>
  %b = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %y = sqz.outlier_linear %x, %c, %s, %i, %f bias %b {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<4x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>, tensor<1xi64>, tensor<2x1xf32>, tensor<2xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// 2:4 with int4 kept values, groups of 8 dense columns: 16 inputs, 8 codes per row, 2 scales.
// CHECK-LABEL: func.func @sparse_int4
// CHECK: sqz.sparse_linear %arg0, %{{.*}}, %{{.*}} scales %{{.*}}, %{{.*}} {quant = #sqz.quant<format = int4, group = 8, symmetric = true>, sparsity = #sqz.sparsity<2:4>} : tensor<4x16xf32>, tensor<2x8xi8>, tensor<2x2xi8> scales tensor<2x2xf32>, tensor<2xf32> -> tensor<4x2xf32>
func.func @sparse_int4(%x: tensor<4x16xf32>) -> tensor<4x2xf32> {
  %v = arith.constant dense<[[0, 15, 8, 9, 1, 2, 3, 4], [8, 8, 8, 8, 7, 6, 5, 4]]> : tensor<2x8xi8>
  %i = arith.constant dense<-28> : tensor<2x2xi8>
  %s = arith.constant dense<[[0.5, 1.0], [2.0, 0.25]]> : tensor<2x2xf32>
  %b = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %y = sqz.sparse_linear %x, %v, %i scales %s, %b {quant = #sqz.quant<format = int4, group = 8, symmetric = true>, sparsity = #sqz.sparsity<2:4>} : tensor<4x16xf32>, tensor<2x8xi8>, tensor<2x2xi8> scales tensor<2x2xf32>, tensor<2xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// Asymmetric, one group per row, 4:8 with a dense tail of 4 columns (12 inputs).
// CHECK-LABEL: func.func @sparse_asym_tail
// CHECK: sqz.sparse_linear %arg0, %{{.*}}, %{{.*}} scales %{{.*}} zeros %{{.*}} {quant = #sqz.quant<format = int8, group = -1, symmetric = false>, sparsity = #sqz.sparsity<4:8>} : tensor<4x12xf32>, tensor<2x8xi8>, tensor<2x2xi8> scales tensor<2x1xf32> zeros tensor<2x1xi8> -> tensor<4x2xf32>
func.func @sparse_asym_tail(%x: tensor<4x12xf32>) -> tensor<4x2xf32> {
  %v = arith.constant dense<3> : tensor<2x8xi8>
  // Indices 0, 1, 2, 3 at 3 bits: 0b011'010'001'000 = 0x688 -> bytes 0x88, 0x06.
  %i = arith.constant dense<[[-120, 6], [-120, 6]]> : tensor<2x2xi8>
  %s = arith.constant dense<0.5> : tensor<2x1xf32>
  %z = arith.constant dense<2> : tensor<2x1xi8>
  %y = sqz.sparse_linear %x, %v, %i scales %s zeros %z {quant = #sqz.quant<format = int8, group = -1, symmetric = false>, sparsity = #sqz.sparsity<4:8>} : tensor<4x12xf32>, tensor<2x8xi8>, tensor<2x2xi8> scales tensor<2x1xf32> zeros tensor<2x1xi8> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}
