// RUN: sqz-opt %s --sqz-strip-observe | FileCheck %s

// CHECK-LABEL: func.func @strip
// CHECK-SAME: (%[[X:.*]]: tensor<4x16xf32>)
// CHECK-NOT: sqz.observe
// CHECK: sqz.linear %[[X]], %{{.*}} : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
// CHECK: return %[[X]], %{{.*}}
func.func @strip(%x: tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<4x8xf32>) {
  %w = arith.constant dense<1.0> : tensor<8x16xf32>
  %t = sqz.observe %x tap "fc" stats [sumsq, absmax] : tensor<4x16xf32>
  %u = sqz.observe %t tap "fc2" stats [xtx] : tensor<4x16xf32>
  %y = sqz.linear %u, %w : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
  return %t, %y : tensor<4x16xf32>, tensor<4x8xf32>
}
