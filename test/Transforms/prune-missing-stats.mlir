// A selected linear absent from the statistics (or with malformed statistics) is an error that
// names it.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_calib_stats.py %t/s.safetensors --diag layers.0/q=1,2,3,4
// RUN: sqz-opt %s --sqz-prune="method=wanda stats=%t/s.safetensors" --split-input-file --verify-diagnostics
// RUN: %python %S/Inputs/make_calib_stats.py %t/noxtx.safetensors --diag layers.0/q=1,2,3,4 --diag layers.0/k=1,2,3,4 --omit layers.0/k/xtx
// RUN: not sqz-opt %s --split-input-file --sqz-prune="method=sparsegpt stats=%t/noxtx.safetensors" 2>&1 | FileCheck %s --check-prefix=NOXTX
// RUN: %python %S/Inputs/make_calib_stats.py %t/f32.safetensors --diag layers.0/q=1,2,3,4 --sumsq-dtype F32
// RUN: not sqz-opt %s --split-input-file --sqz-prune="method=wanda stats=%t/f32.safetensors" 2>&1 | FileCheck %s --check-prefix=F32
// RUN: %python %S/Inputs/make_calib_stats.py %t/notokens.safetensors --diag layers.0/q=1,2,3,4 --tokens-override 0
// RUN: not sqz-opt %s --split-input-file --sqz-prune="method=wanda stats=%t/notokens.safetensors" 2>&1 | FileCheck %s --check-prefix=NOTOKENS

// NOXTX: error: {{.*}}layer 'layers.0/k' has no 'layers.0/k/xtx' in '{{.*}}noxtx.safetensors'
// F32: error: {{.*}}'layers.0/q/sumsq' in '{{.*}}f32.safetensors' must be F64 [4], got F32 [4]
// NOTOKENS: error: {{.*}}layer 'layers.0/q' saw no calibration tokens ('layers.0/q/tokens' is 0 in '{{.*}}notokens.safetensors')

func.func @present(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %wq = arith.constant dense<[[1.0, -4.0, 2.0, 3.0], [0.5, 0.25, -8.0, 1.0]]> : tensor<2x4xf32>
  %q = sqz.linear %x, %wq : tensor<3x4xf32>, tensor<2x4xf32> -> tensor<3x2xf32> loc("layers.0/q")
  return %q : tensor<3x2xf32>
}

// -----

func.func @missing(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %wk = arith.constant dense<[[1.0, -4.0, 2.0, 3.0], [0.5, 0.25, -8.0, 1.0]]> : tensor<2x4xf32>
  // The linear's location is only its name: the diagnostic has no line.
  // expected-error @unknown {{layer 'layers.0/k' has no statistics in}}
  %k = sqz.linear %x, %wk : tensor<3x4xf32>, tensor<2x4xf32> -> tensor<3x2xf32> loc("layers.0/k")
  return %k : tensor<3x2xf32>
}
