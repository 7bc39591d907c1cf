// RUN: sqz-opt %s --allow-unregistered-dialect | FileCheck %s
// RUN: sqz-opt %s --allow-unregistered-dialect --mlir-print-op-generic | sqz-opt --allow-unregistered-dialect | FileCheck %s

// CHECK: "test.scheme"() {a = #sqz.quant<format = int4, group = 32, symmetric = true>
// CHECK-SAME: b = #sqz.quant<format = int8, group = -1, symmetric = false>
// CHECK-SAME: c = #sqz.quant<format = nf4, group = 64, symmetric = true>
// CHECK-SAME: d = #sqz.quant<format = ternary, group = -1, symmetric = true>
// CHECK-SAME: e = #sqz.sparsity<2:4>
// CHECK-SAME: f = #sqz.sparsity<4:8>
"test.scheme"() {
  a = #sqz.quant<format = int4, group = 32, symmetric = true>,
  b = #sqz.quant<format = int8, group = -1, symmetric = false>,
  c = #sqz.quant<format = nf4, group = 64, symmetric = true>,
  d = #sqz.quant<format = ternary, group = -1, symmetric = true>,
  e = #sqz.sparsity<2:4>,
  f = #sqz.sparsity<4:8>
} : () -> ()
