// RUN: sqz-opt %s --sqz-quantize="method=rtn bits=4 group=4" | FileCheck %s
// RUN: sqz-opt %s --sqz-quantize="method=nf4 group=4" | FileCheck %s --check-prefix=NF4
// Reading an erased op rarely crashes; memcheck sees it (valgrind exits 9 on any error).
// RUN: %if valgrind %{ valgrind -q --error-exitcode=9 sqz-opt %s --sqz-quantize="method=rtn bits=4 group=4" -o /dev/null %}

// sqz-quantize on a block with an n:m-sparse linear before a dense one: both are quantized
// (the sparse one is replaced first; the dense ones are taken before that, so no erased op
// is read). The dense one has 2 input columns: one group per row.
// CHECK-LABEL: func.func @main
// CHECK: sqz.sparse_linear {{.*}} {quant = #sqz.quant<format = int4, group = 4, symmetric = true>, sparsity = #sqz.sparsity<2:4>}
// CHECK: sqz.quant_linear {{.*}} {quant = #sqz.quant<format = int4, group = -1, symmetric = true>}
// CHECK-NOT: sqz.linear
// NF4: sqz.sparse_linear {{.*}} {quant = #sqz.quant<format = nf4, group = 4, symmetric = true>, sparsity = #sqz.sparsity<2:4>}
// NF4: sqz.quant_linear {{.*}} {quant = #sqz.quant<format = nf4, group = -1, symmetric = true>}
func.func @main(%x: tensor<3x8xf32> {sqz.name = "x"}) -> (tensor<3x8xf32> {sqz.name = "y"}) {
  %v = arith.constant dense<[[1.0, -2.0, 3.0, -4.0], [0.5, 0.25, -0.125, 2.0]]> : tensor<2x4xf32> loc("layers.0/q")
  %i = arith.constant dense<[[-36], [-36]]> : tensor<2x1xi8> loc("layers.0/q")
  %h = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<2:4>} : tensor<3x8xf32>, tensor<2x4xf32>, tensor<2x1xi8> -> tensor<3x2xf32> loc("layers.0/q")
  %w = arith.constant dense<[[1.0, -1.0], [0.5, 2.0], [3.0, -0.25], [1.5, 1.0], [-2.0, 0.75], [0.125, -3.0], [2.5, 0.5], [-1.0, 1.25]]> : tensor<8x2xf32> loc("layers.0/o")
  %y = sqz.linear %h, %w : tensor<3x2xf32>, tensor<8x2xf32> -> tensor<3x8xf32> loc("layers.0/o")
  return %y : tensor<3x8xf32>
}
