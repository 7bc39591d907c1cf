// RUN: sqz-opt %s --sqz-import-cleanup | FileCheck %s

// The cleanup pipeline folds no-op casts, merges identical constants and linears (sqz.linear is
// pure) and drops unreachable private functions.
// CHECK-NOT: func.func private @unused
// CHECK-LABEL: func.func @main
// CHECK-SAME: (%[[X:.*]]: tensor<4x16xf32>)
// CHECK-NEXT: %[[W:.*]] = arith.constant dense<1.000000e+00> : tensor<8x16xf32>
// CHECK-NEXT: %[[Y:.*]] = sqz.linear %[[X]], %[[W]]
// CHECK-NEXT: return %[[Y]], %[[Y]]
func.func private @unused() -> ()

func.func @main(%x: tensor<4x16xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %w0 = arith.constant dense<1.0> : tensor<8x16xf32>
  %w1 = arith.constant dense<1.0> : tensor<8x16xf32>
  %c = tensor.cast %x : tensor<4x16xf32> to tensor<4x16xf32>
  %y0 = sqz.linear %c, %w0 : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
  %y1 = sqz.linear %x, %w1 : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
  return %y0, %y1 : tensor<4x8xf32>, tensor<4x8xf32>
}
