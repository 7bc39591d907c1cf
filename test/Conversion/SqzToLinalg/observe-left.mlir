// RUN: sqz-opt %s --convert-sqz-to-linalg --verify-diagnostics

// Taps must be stripped (or calibrated) before lowering.
func.func @tap(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{failed to legalize operation 'sqz.observe' that was explicitly marked illegal}}
  %t = sqz.observe %x tap "fc" stats [sumsq] : tensor<4x16xf32>
  return %t : tensor<4x16xf32>
}
