// sqz-quantize-outliers: LLM.int8() decomposition from calibration absmax, and its errors.
// layers.0/q: absmax [1, 7, 1, 1, 6, 1, 1, 1] -> input columns 1 and 4 are outliers at the
// default threshold 6 (>=); layers.0/k has none and becomes an int8 sqz.quant_linear.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_calib_stats.py %t/s.safetensors --diag layers.0/q=1,49,1,1,36,1,1,1 --diag layers.0/k=1,1
// RUN: sqz-opt %s --sqz-quantize-outliers="stats=%t/s.safetensors" | FileCheck %s
// RUN: sqz-opt %s --sqz-quantize-outliers="threshold=6.5 stats=%t/s.safetensors" | FileCheck %s --check-prefix=HIGH
// RUN: sqz-opt %s --sqz-quantize-outliers="threshold=8 stats=%t/s.safetensors targets=q$" | FileCheck %s --check-prefix=NONE
// RUN: not sqz-opt %s --sqz-quantize-outliers="threshold=0 stats=%t/s.safetensors" 2>&1 | FileCheck %s --check-prefix=ZERO
// RUN: not sqz-opt %s --sqz-quantize-outliers="threshold=-1 stats=%t/s.safetensors" 2>&1 | FileCheck %s --check-prefix=NEG
// RUN: not sqz-opt %s --sqz-quantize-outliers 2>&1 | FileCheck %s --check-prefix=NOSTATS
// RUN: %python %S/Inputs/make_calib_stats.py %t/noabs.safetensors --diag layers.0/q=1,49,1,1,36,1,1,1 --diag layers.0/k=1,1 --omit layers.0/q/absmax
// RUN: not sqz-opt %s --sqz-quantize-outliers="stats=%t/noabs.safetensors" 2>&1 | FileCheck %s --check-prefix=NOABS
// RUN: %python %S/Inputs/make_calib_stats.py %t/nok.safetensors --diag layers.0/q=1,49,1,1,36,1,1,1
// RUN: not sqz-opt %s --sqz-quantize-outliers="stats=%t/nok.safetensors" 2>&1 | FileCheck %s --check-prefix=NOLAYER

// Row 0 over its 6 int8 columns: absmax 4, scale 4/127; 2/(4/127) = 63.5 rounds half to even
// to 64 (code 192); outlier columns hold the zero point 128. Row 1: scale 7/127.
// CHECK-LABEL: func.func @main
// CHECK-DAG: %[[C:.*]] = arith.constant dense_resource<layers.0_q.int8_codes> : tensor<2x8xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense_resource<layers.0_q.int8_scales> : tensor<2x1xf32>
// CHECK-DAG: %[[I:.*]] = arith.constant dense<[1, 4]> : tensor<2xi64>
// CHECK-DAG: %[[F:.*]] = arith.constant dense_resource<layers.0_q.outlier_weights> : tensor<2x2xf32>
// CHECK: %[[H:.*]] = sqz.outlier_linear %arg0, %[[C]], %[[S]], %[[I]], %[[F]] bias %{{.*}} {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<3x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2xf32> -> tensor<3x2xf32>
// CHECK: sqz.quant_linear %[[H]], %{{.*}}, %{{.*}} {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<3x2xf32>, tensor<2x2xi8>, tensor<2x1xf32> -> tensor<3x2xf32>
// CHECK: sqz.linear {{.*}} : tensor<3x2xf32>, tensor<5x2xf32> -> tensor<3x5xf32>
// CHECK: layers.0_q.int8_codes: "0x08000000A080DF0180887CC0808080808001926E"
// CHECK: layers.0_q.int8_scales: "0x080000000402013D87C3613D"
// CHECK: layers.0_q.outlier_weights: "0x08000000000000C00000003F000000000000E040"

// Only column 1 (absmax 7) at threshold 6.5.
// HIGH: arith.constant dense<1> : tensor<1xi64>
// HIGH: sqz.outlier_linear {{.*}} : tensor<3x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>, tensor<1xi64>, tensor<2x1xf32>, tensor<2xf32> -> tensor<3x2xf32>

// NONE-NOT: sqz.outlier_linear
// NONE: sqz.quant_linear %arg0, {{.*}} {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<3x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>, tensor<2xf32> -> tensor<3x2xf32>
// NONE: sqz.linear {{.*}} : tensor<3x2xf32>, tensor<2x2xf32> -> tensor<3x2xf32>

// ZERO: error: sqz-quantize-outliers: threshold must be positive, got 0
// NEG: error: sqz-quantize-outliers: threshold must be positive, got -1
// NOSTATS: error: sqz-quantize-outliers: needs calibration statistics (stats=<file>, L/absmax per layer): the outlier channels are found from the calibration activations
// NOABS: error: {{.*}}layer 'layers.0/q' has no 'layers.0/q/absmax' in
// NOLAYER: error: {{.*}}layer 'layers.0/k' has no statistics in '{{.*}}nok.safetensors' (no 'layers.0/k/tokens')

func.func @main(%x: tensor<3x8xf32> {sqz.name = "x"}) -> (tensor<3x5xf32> {sqz.name = "y"}) {
  %w = arith.constant dense<[[1.0, -2.0, 3.0, -4.0, 0.5, 0.25, -0.125, 2.0],
                             [0.0, 0.0, 0.0, 0.0, 7.0, -7.0, 1.0, -1.0]]> : tensor<2x8xf32> loc("layers.0/q")
  %b = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %h = sqz.linear %x, %w, %b : tensor<3x8xf32>, tensor<2x8xf32>, tensor<2xf32> -> tensor<3x2xf32> loc("layers.0/q")
  %wk = arith.constant dense<[[1.0, -0.5], [0.25, 2.0]]> : tensor<2x2xf32>
  %k = sqz.linear %h, %wk : tensor<3x2xf32>, tensor<2x2xf32> -> tensor<3x2xf32> loc("layers.0/k")
  %w2 = arith.constant dense<1.0> : tensor<5x2xf32>
  %y = sqz.linear %k, %w2 : tensor<3x2xf32>, tensor<5x2xf32> -> tensor<3x5xf32> loc("lm_head")
  return %y : tensor<3x5xf32>
}
