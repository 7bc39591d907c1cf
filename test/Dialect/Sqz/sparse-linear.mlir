// RUN: sqz-opt %s | sqz-opt | FileCheck %s
// RUN: sqz-opt %s --mlir-print-op-generic | sqz-opt | FileCheck %s

// 2:4 over 8 inputs: 2 groups of 2 kept values; one byte of two nibbles per row
// (row 0 keeps columns {0,1} and {2,3} of its groups: 0x4 | 0xE << 4 = 0xE4 = -28;
// row 1 keeps {1,2} and {0,3}: 0x9 | 0xC << 4 = 0xC9 = -55).
// CHECK-LABEL: func.func @two_four
// CHECK: sqz.sparse_linear %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf32>, tensor<2x4xf32>, tensor<2x1xi8>, tensor<2xf32> -> tensor<3x2xf32>
func.func @two_four(%x: tensor<3x8xf32>) -> tensor<3x2xf32> {
  %v = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %i = arith.constant dense<[[-28], [-55]]> : tensor<2x1xi8>
  %b = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %y = sqz.sparse_linear %x, %v, %i, %b {sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf32>, tensor<2x4xf32>, tensor<2x1xi8>, tensor<2xf32> -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// 4:8 has 3-bit indices: {0, 2, 5, 7} = 0 | 2 << 3 | 5 << 6 | 7 << 9 = 0x0F50, bytes [0x50, 0x0F].
// CHECK-LABEL: func.func @four_eight
// CHECK: sqz.sparse_linear %{{.*}}, %{{.*}}, %{{.*}} {sparsity = #sqz.sparsity<4:8>} : tensor<2x8xf32>, tensor<1x4xf32>, tensor<1x2xi8> -> tensor<2x1xf32>
func.func @four_eight(%x: tensor<2x8xf32>) -> tensor<2x1xf32> {
  %v = arith.constant dense<[[1.0, 2.0, 3.0, 4.0]]> : tensor<1x4xf32>
  %i = arith.constant dense<[[80, 15]]> : tensor<1x2xi8>
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<4:8>} : tensor<2x8xf32>, tensor<1x4xf32>, tensor<1x2xi8> -> tensor<2x1xf32>
  return %y : tensor<2x1xf32>
}

// A dense tail: 6 inputs at 2:4 are one group (2 values) + 2 tail columns.
// CHECK-LABEL: func.func @dense_tail
// CHECK: sqz.sparse_linear {{.*}} : tensor<1x4x6xf32>, tensor<2x4xf32>, tensor<2x1xi8> -> tensor<1x4x2xf32>
func.func @dense_tail(%x: tensor<1x4x6xf32>) -> tensor<1x4x2xf32> {
  %v = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %i = arith.constant dense<[[4], [14]]> : tensor<2x1xi8>
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<2:4>} : tensor<1x4x6xf32>, tensor<2x4xf32>, tensor<2x1xi8> -> tensor<1x4x2xf32>
  return %y : tensor<1x4x2xf32>
}
