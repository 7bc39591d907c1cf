// sqz-quantize: the quantized form each method produces, layer selection, and bad options.
// RUN: sqz-opt %s --sqz-quantize="method=rtn bits=4 group=4" | FileCheck %s --check-prefix=RTN
// RUN: sqz-opt %s --sqz-quantize="method=rtn bits=8 group=-1 symmetric=false" | FileCheck %s --check-prefix=ASYM
// RUN: sqz-opt %s --sqz-quantize="method=nf4 group=4" | FileCheck %s --check-prefix=NF4
// RUN: sqz-opt %s --sqz-quantize="method=ternary group=-1" | FileCheck %s --check-prefix=TERN
// RUN: not sqz-opt %s --sqz-quantize="method=gptq" 2>&1 | FileCheck %s --check-prefix=NOSTATS
// RUN: not sqz-opt %s --sqz-quantize="method=fp8" 2>&1 | FileCheck %s --check-prefix=METHOD
// RUN: not sqz-opt %s --sqz-quantize="bits=5" 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not sqz-opt %s --sqz-quantize="group=48" 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not sqz-opt %s --sqz-quantize="method=ternary group=32" 2>&1 | FileCheck %s --check-prefix=TGROUP

// Only the linear inside a numbered block is selected (lm_head is ignored by default).
// RTN-LABEL: func.func @main
// RTN: %[[C:.*]] = arith.constant dense_resource<layers.0_q.codes> : tensor<2x8xi8>
// RTN: %[[S:.*]] = arith.constant dense_resource<layers.0_q.scales> : tensor<2x2xf32>
// RTN: sqz.quant_linear %arg0, %[[C]], %[[S]] bias %{{.*}} {quant = #sqz.quant<format = int4, group = 4, symmetric = true>} : tensor<3x8xf32>, tensor<2x8xi8>, tensor<2x2xf32>, tensor<2xf32> -> tensor<3x2xf32>
// RTN: sqz.linear {{.*}} : tensor<3x2xf32>, tensor<5x2xf32> -> tensor<3x5xf32>

// ASYM: %[[C:.*]] = arith.constant dense_resource<layers.0_q.codes> : tensor<2x8xi8>
// ASYM: %[[S:.*]] = arith.constant dense_resource<layers.0_q.scales> : tensor<2x1xf32>
// ASYM: %[[Z:.*]] = arith.constant dense_resource<layers.0_q.zeros> : tensor<2x1xi8>
// ASYM: sqz.quant_linear %arg0, %[[C]], %[[S]] zeros %[[Z]] bias %{{.*}} {quant = #sqz.quant<format = int8, group = -1, symmetric = false>}

// NF4: sqz.quant_linear {{.*}} {quant = #sqz.quant<format = nf4, group = 4, symmetric = true>} : tensor<3x8xf32>, tensor<2x8xi8>, tensor<2x2xf32>

// TERN: sqz.quant_linear {{.*}} {quant = #sqz.quant<format = ternary, group = -1, symmetric = true>} : tensor<3x8xf32>, tensor<2x8xi8>, tensor<2x1xf32>

// NOSTATS: error: sqz-quantize: method 'gptq' needs calibration statistics (stats=<file>, L/xtx per layer)
// METHOD: error: sqz-quantize: unknown method 'fp8' (expected rtn, gptq, awq, nf4 or ternary)
// BITS: error: sqz-quantize: bits must be 8, 4, 3 or 2 for rtn, got 5
// GROUP: error: sqz-quantize: group must be -1 or a power of two, got 48
// TGROUP: error: sqz-quantize: ternary scales each output row (group=-1), got group=32

func.func @main(%x: tensor<3x8xf32> {sqz.name = "x"}) -> (tensor<3x5xf32> {sqz.name = "y"}) {
  %w = arith.constant dense<[[1.0, -2.0, 3.0, -4.0, 0.5, 0.25, -0.125, 2.0],
                             [0.0, 0.0, 0.0, 0.0, 7.0, -7.0, 1.0, -1.0]]> : tensor<2x8xf32> loc("layers.0/q")
  %b = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %h = sqz.linear %x, %w, %b : tensor<3x8xf32>, tensor<2x8xf32>, tensor<2xf32> -> tensor<3x2xf32> loc("layers.0/q")
  %w2 = arith.constant dense<1.0> : tensor<5x2xf32>
  %y = sqz.linear %h, %w2 : tensor<3x2xf32>, tensor<5x2xf32> -> tensor<3x5xf32> loc("lm_head")
  return %y : tensor<3x5xf32>
}
