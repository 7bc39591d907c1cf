// sqz-quantize: the quantized form each method produces, layer selection, and bad options.
// RUN: sqz-opt %s --sqz-quantize="method=rtn bits=4 group=4" | FileCheck %s --check-prefix=RTN
// RUN: sqz-opt %s --sqz-quantize="method=rtn bits=8 group=-1 symmetric=false" | FileCheck %s --check-prefix=ASYM
// RUN: sqz-opt %s --sqz-quantize="method=nf4 group=4" | FileCheck %s --check-prefix=NF4
// RUN: sqz-opt %s --sqz-quantize="method=ternary group=-1" | FileCheck %s --check-prefix=TERN
// RUN: not sqz-opt %s --sqz-quantize="method=gptq" 2>&1 | FileCheck %s --check-prefix=NOSTATS
// RUN: not sqz-opt %s --sqz-quantize="method=fp8" 2>&1 | FileCheck %s --check-prefix=METHOD
// RUN: not sqz-opt %s --sqz-quantize="bits=5" 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not sqz-opt %s --sqz-quantize="group=48" 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not sqz-opt %s --sqz-quantize="group=0" 2>&1 | FileCheck %s --check-prefix=GROUP0
// RUN: not sqz-opt %s --sqz-quantize="group=-2" 2>&1 | FileCheck %s --check-prefix=GROUPNEG
// RUN: not sqz-opt %s --sqz-quantize="method=ternary group=32" 2>&1 | FileCheck %s --check-prefix=TGROUP
// An n:m-sparse linear keeps its form with quantized kept values (joint prune + quantize):
// RUN: sqz-opt %s --sqz-sparsify-nm --sqz-quantize="method=rtn bits=4 group=4" | FileCheck %s --check-prefix=SPARSE
// RUN: sqz-opt %s --sqz-sparsify-nm --sqz-quantize="method=nf4 group=4" | FileCheck %s --check-prefix=SPNF4
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_calib_stats.py %t/s.safetensors --layer layers.0/q:8 --tokens 64 --seed 4
// RUN: sqz-opt %s --sqz-sparsify-nm --sqz-quantize="method=gptq bits=3 group=-1 symmetric=false stats=%t/s.safetensors" | FileCheck %s --check-prefix=SPGPTQ
// RUN: not sqz-opt %s --sqz-sparsify-nm --sqz-quantize="group=2" 2>&1 | FileCheck %s --check-prefix=SPGROUP
// RUN: not sqz-opt %s --sqz-sparsify-nm --sqz-quantize="method=ternary group=-1" 2>&1 | FileCheck %s --check-prefix=SPTERN

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

// 2:4 keeps columns {2, 3}, {4, 7} of row 0 (nibbles 0xE, 0xC) and {2, 3}, {4, 5} of row 1
// (its all-zero group keeps the last two); groups of 4 dense columns, codes of the kept values:
// row 0 scales 8/15, 4/15 (3 -> 14, -4 -> 1 (float −7.4999995), 0.5 -> 10, 2 -> 15); row 1's
// first group is all zero (scale 0, code 8), its second has scale 14/15 (7 -> 15, -7 -> 0).
// SPARSE-LABEL: func.func @main
// SPARSE-DAG: %[[I:.*]] = arith.constant dense_resource<layers.0_q.nm_indices> : tensor<2x1xi8>
// SPARSE-DAG: %[[C:.*]] = arith.constant dense_resource<layers.0_q.nm_values.codes> : tensor<2x4xi8>
// SPARSE-DAG: %[[S:.*]] = arith.constant dense_resource<layers.0_q.nm_values.scales> : tensor<2x2xf32>
// SPARSE: sqz.sparse_linear %arg0, %[[C]], %[[I]] scales %[[S]], %{{.*}} {quant = #sqz.quant<format = int4, group = 4, symmetric = true>, sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf32>, tensor<2x4xi8>, tensor<2x1xi8> scales tensor<2x2xf32>, tensor<2xf32> -> tensor<3x2xf32>
// SPARSE: sqz.linear {{.*}} : tensor<3x2xf32>, tensor<5x2xf32> -> tensor<3x5xf32>
// SPARSE: layers.0_q.nm_indices: "0x08000000CE4E"
// SPARSE: layers.0_q.nm_values.codes: "0x080000000E010A0F08080F00"

// SPNF4: sqz.sparse_linear {{.*}} {quant = #sqz.quant<format = nf4, group = 4, symmetric = true>, sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf32>, tensor<2x4xi8>, tensor<2x1xi8> scales tensor<2x2xf32>, tensor<2xf32> -> tensor<3x2xf32>

// SPGPTQ: sqz.sparse_linear {{.*}} zeros {{.*}} {quant = #sqz.quant<format = int3, group = -1, symmetric = false>, sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf32>, tensor<2x4xi8>, tensor<2x1xi8> scales tensor<2x1xf32> zeros tensor<2x1xi8>, tensor<2xf32> -> tensor<3x2xf32>

// SPGROUP: error: {{.*}}layer 'layers.0/q': the group (2 input columns) must be a multiple of m = 4 (the linear is 2:4-sparse)
// SPTERN: error: {{.*}}layer 'layers.0/q': method 'ternary' does not quantize n:m-sparse linears (use rtn, gptq or nf4)

// NOSTATS: error: sqz-quantize: method 'gptq' needs calibration statistics (stats=<file>, L/xtx per layer)
// METHOD: error: sqz-quantize: unknown method 'fp8' (expected rtn, gptq, awq, nf4 or ternary)
// BITS: error: sqz-quantize: bits must be 8, 4, 3 or 2 for rtn, got 5
// GROUP: error: sqz-quantize: group must be -1 or a power of two, got 48
// GROUP0: error: sqz-quantize: group must be -1 or a power of two, got 0
// GROUPNEG: error: sqz-quantize: group must be -1 or a power of two, got -2
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
