// RUN: sqz-opt --sqz-expose-taps --split-input-file --verify-diagnostics %s | FileCheck %s

// Each tap's input, flattened to [tokens, channels], becomes an extra result named
// __tap__/<tap>, after the model's own results; the taps are gone.
// CHECK-LABEL: func.func @main
// CHECK-SAME:    -> (tensor<2x3x8xf32> {sqz.name = "y"}, tensor<6x4xf32> {sqz.name = "__tap__/fc1"}, tensor<1x8xf32> {sqz.name = "__tap__/fc2"})
// CHECK-NOT:     sqz.observe
// CHECK:         %[[L1:.*]] = sqz.linear %arg0
// CHECK:         %[[FLAT:.*]] = tensor.collapse_shape %arg0 {{\[}}[0, 1], [2]] : tensor<2x3x4xf32> into tensor<6x4xf32>
// CHECK:         %[[EXP:.*]] = tensor.expand_shape %arg1 {{\[}}[0, 1]] output_shape [1, 8] : tensor<8xf32> into tensor<1x8xf32>
// CHECK:         return %[[L1]], %[[FLAT]], %[[EXP]]
func.func @main(%x: tensor<2x3x4xf32> {sqz.name = "x"}, %v: tensor<8xf32> {sqz.name = "v"})
    -> (tensor<2x3x8xf32> {sqz.name = "y"}) {
  %w = arith.constant dense<1.0> : tensor<8x4xf32>
  %t = sqz.observe %x tap "fc1" stats [sumsq, xtx] : tensor<2x3x4xf32>
  %y = sqz.linear %t, %w : tensor<2x3x4xf32>, tensor<8x4xf32> -> tensor<2x3x8xf32>
  %u = sqz.observe %v tap "fc2" stats [absmax] : tensor<8xf32>
  return %y : tensor<2x3x8xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %a = sqz.observe %x tap "same" stats [sumsq] : tensor<4xf32>
  // expected-error @below {{two calibration taps are named 'same'}}
  %b = sqz.observe %a tap "same" stats [sumsq] : tensor<4xf32>
  return %b : tensor<4xf32>
}

// -----

func.func @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{calibration tap 'h' is outside the entry function 'main'}}
  %a = sqz.observe %x tap "h" stats [sumsq] : tensor<4xf32>
  return %a : tensor<4xf32>
}
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
