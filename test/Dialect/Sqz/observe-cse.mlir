// RUN: sqz-opt %s --cse | FileCheck %s

// Calibration taps record statistics, so CSE must keep both and canonicalization must not
// drop an unused one.
// CHECK-LABEL: func.func @taps
// CHECK-COUNT-3: sqz.observe
func.func @taps(%x: tensor<4x4xf32>) -> (tensor<4x4xf32>, tensor<4x4xf32>) {
  %a = sqz.observe %x tap "t" stats [sumsq] : tensor<4x4xf32>
  %b = sqz.observe %x tap "t" stats [sumsq] : tensor<4x4xf32>
  %unused = sqz.observe %x tap "u" stats [absmax] : tensor<4x4xf32>
  return %a, %b : tensor<4x4xf32>, tensor<4x4xf32>
}
