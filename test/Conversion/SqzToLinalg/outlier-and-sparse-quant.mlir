// RUN: sqz-opt %s --split-input-file --convert-sqz-to-linalg=transpose-weights | FileCheck %s

// sqz.outlier_linear: one generic dequantizes the int8 part into Ŵᵀ and, through the column ->
// outlier position map (-1: not an outlier), puts the float columns in place; then the
// contraction of a dense linear.
// CHECK-LABEL: func.func @outlier
// CHECK-DAG: %[[POS:.*]] = arith.constant dense<[-1, 0, -1, -1, 1, -1, -1, -1]> : tensor<8xi32>
// CHECK-DAG: %[[FP:.*]] = arith.constant dense<{{.*}}> : tensor<2x2xf32>
// CHECK: %[[WT:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %[[POS]] : tensor<2x8xi8>, tensor<2x1xf32>, tensor<8xi32>) outs(%{{.*}} : tensor<8x2xf32>)
// CHECK: arith.subi
// CHECK: arith.mulf
// CHECK: arith.cmpi sge
// CHECK: tensor.extract %[[FP]]
// CHECK: arith.select
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[WT]] : tensor<3x8xf32>, tensor<8x2xf32>)
func.func @outlier(%x: tensor<3x8xf32>) -> tensor<3x2xf32> {
  %c = arith.constant dense<[[160, 128, 223, 1, 128, 136, 124, 192], [128, 128, 128, 128, 128, 1, 146, 110]]> : tensor<2x8xi8>
  %s = arith.constant dense<[[0.0314960629], [0.0551181100]]> : tensor<2x1xf32>
  %i = arith.constant dense<[1, 4]> : tensor<2xi64>
  %f = arith.constant dense<[[-2.0, 0.5], [0.0, 7.0]]> : tensor<2x2xf32>
  %y = sqz.outlier_linear %x, %c, %s, %i, %f {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<3x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>, tensor<2xi64>, tensor<2x2xf32> -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// sqz.sparse_linear with int4 kept values: the decompression generic selects the code of each
// dense position, reads the scale of its dense column's group (j floordiv 8) and dequantizes
// it, 0 where nothing is kept.
// CHECK-LABEL: func.func @sparse_int4
// CHECK: %[[WT:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<16x2xf32>)
// CHECK: %[[J:.*]] = linalg.index 0 : index
// CHECK: arith.divui %[[J]], %c8
// CHECK: tensor.extract %{{.*}} : tensor<2x2xf32>
// CHECK: arith.subi
// CHECK: arith.mulf
// CHECK: arith.select
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[WT]] : tensor<4x16xf32>, tensor<16x2xf32>)
func.func @sparse_int4(%x: tensor<4x16xf32>) -> tensor<4x2xf32> {
  %v = arith.constant dense<[[0, 15, 8, 9, 1, 2, 3, 4], [8, 8, 8, 8, 7, 6, 5, 4]]> : tensor<2x8xi8>
  %i = arith.constant dense<-28> : tensor<2x2xi8>
  %s = arith.constant dense<[[0.5, 1.0], [2.0, 0.25]]> : tensor<2x2xf32>
  %y = sqz.sparse_linear %x, %v, %i scales %s {quant = #sqz.quant<format = int4, group = 8, symmetric = true>, sparsity = #sqz.sparsity<2:4>} : tensor<4x16xf32>, tensor<2x8xi8>, tensor<2x2xi8> scales tensor<2x2xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}
