// RUN: sqz-opt %s --split-input-file --sqz-materialize="isa=avx512" --verify-diagnostics | FileCheck %s
// RUN: sqz-opt %s --split-input-file --sqz-materialize="isa=avx2 formats=f32,ternary16,int8" 2>/dev/null | FileCheck %s --check-prefix=FMT
// RUN: sqz-opt %s --split-input-file --sqz-materialize="isa=avx2 formats=int4" 2>/dev/null | FileCheck %s --check-prefix=NOF32
// RUN: sqz-opt %s --split-input-file --sqz-materialize="isa=avx2 formats=f32,ternary16,int8" 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK

// sqz-materialize{target=cpu}: the linears a CPU microkernel reads become sqz.packed_linear
// with one packed blob (header checked by the op's verifier); the others stay, with a remark
// for a compressed one.

// int4, symmetric, group 32: the codes, scales and their constants are replaced.
// CHECK-LABEL: func.func @int4_sym
// CHECK-NOT: sqz.quant_linear
// CHECK: %[[BLOB:.*]] = arith.constant dense_resource<{{.*}}> : tensor<{{[0-9]+}}xi8>
// CHECK: %{{.*}} = sqz.packed_linear %arg0, %[[BLOB]] {isa = "avx512", kernel = "int4"} : tensor<2x64xf32>, tensor<{{[0-9]+}}xi8> -> tensor<2x32xf32>
// CHECK-NOT: tensor<32x64xi8>
// FMT-LABEL: func.func @int4_sym
// FMT: sqz.quant_linear
func.func @int4_sym(%x: tensor<2x64xf32>) -> tensor<2x32xf32> {
  %c = arith.constant dense<3> : tensor<32x64xi8>
  %s = arith.constant dense<0.5> : tensor<32x2xf32>
  // REMARK: materialize.mlir:[[@LINE+1]]:{{[0-9]+}}: remark: stays on the run-time dequantization path: format 'int4' is not in sqz-materialize's formats
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = 32, symmetric = true>} : tensor<2x64xf32>, tensor<32x64xi8>, tensor<32x2xf32> -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// -----

// int4 asymmetric with a ragged last group (K = 72, group 32: 3 groups), dynamic rows and a
// bias.
// CHECK-LABEL: func.func @int4_asym_ragged
// CHECK: sqz.packed_linear %arg0, %{{[^,]*}}, %{{[^ ]*}} {isa = "avx512", kernel = "int4"} : tensor<?x3x72xf32>, tensor<{{[0-9]+}}xi8>, tensor<16xf32> -> tensor<?x3x16xf32>
func.func @int4_asym_ragged(%x: tensor<?x3x72xf32>) -> tensor<?x3x16xf32> {
  %c = arith.constant dense<9> : tensor<16x72xi8>
  %s = arith.constant dense<0.25> : tensor<16x3xf32>
  %z = arith.constant dense<7> : tensor<16x3xi8>
  %b = arith.constant dense<1.0> : tensor<16xf32>
  %y = sqz.quant_linear %x, %c, %s zeros %z bias %b {quant = #sqz.quant<format = int4, group = 32, symmetric = false>} : tensor<?x3x72xf32>, tensor<16x72xi8>, tensor<16x3xf32> zeros tensor<16x3xi8>, tensor<16xf32> -> tensor<?x3x16xf32>
  return %y : tensor<?x3x16xf32>
}

// -----

// CHECK-LABEL: func.func @int8_per_channel
// CHECK: sqz.packed_linear {{.*}} {isa = "avx512", kernel = "int8"}
// FMT-LABEL: func.func @int8_per_channel
// FMT: sqz.packed_linear {{.*}} {isa = "avx2", kernel = "int8"}
func.func @int8_per_channel(%x: tensor<64xf32>) -> tensor<8xf32> {
  %c = arith.constant dense<200> : tensor<8x64xi8>
  %s = arith.constant dense<0.01> : tensor<8x1xf32>
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<64xf32>, tensor<8x64xi8>, tensor<8x1xf32> -> tensor<8xf32>
  return %y : tensor<8xf32>
}

// -----

// CHECK-LABEL: func.func @nf4
// CHECK: sqz.packed_linear {{.*}} {isa = "avx512", kernel = "nf4"}
func.func @nf4(%x: tensor<1x128xf32>) -> tensor<1x4xf32> {
  %c = arith.constant dense<15> : tensor<4x128xi8>
  %s = arith.constant dense<2.0> : tensor<4x2xf32>
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = nf4, group = 64, symmetric = true>} : tensor<1x128xf32>, tensor<4x128xi8>, tensor<4x2xf32> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// Ternary: the 2-bit packing by default, the 1.6-bit one when only it is allowed.
// CHECK-LABEL: func.func @ternary
// CHECK: sqz.packed_linear {{.*}} {isa = "avx512", kernel = "ternary2"}
// FMT-LABEL: func.func @ternary
// FMT: sqz.packed_linear {{.*}} {isa = "avx2", kernel = "ternary16"}
func.func @ternary(%x: tensor<3x40xf32>) -> tensor<3x8xf32> {
  %c = arith.constant dense<2> : tensor<8x40xi8>
  %s = arith.constant dense<0.125> : tensor<8x1xf32>
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = ternary, group = -1, symmetric = true>} : tensor<3x40xf32>, tensor<8x40xi8>, tensor<8x1xf32> -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

// int3 (and int2) have no kernel: the dequantization path stays.
// CHECK-LABEL: func.func @int3_stays
// CHECK: sqz.quant_linear
// CHECK-NOT: sqz.packed_linear
func.func @int3_stays(%x: tensor<2x64xf32>) -> tensor<2x8xf32> {
  %c = arith.constant dense<5> : tensor<8x64xi8>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  // REMARK: materialize.mlir:[[@LINE+2]]:{{[0-9]+}}: remark: stays on the run-time dequantization path: there is no int3 microkernel
  // expected-remark @+1 {{stays on the run-time dequantization path: there is no int3 microkernel}}
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int3, group = 32, symmetric = true>} : tensor<2x64xf32>, tensor<8x64xi8>, tensor<8x2xf32> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// 2:4 with f32 values (nibble 0x4 = columns 0 and 1 of every group), with a bias.
// CHECK-LABEL: func.func @sparse24_f32
// CHECK: sqz.packed_linear %arg0, %{{.*}}, %{{.*}} {isa = "avx512", kernel = "sp24_f32"} : tensor<2x16xf32>, tensor<{{[0-9]+}}xi8>, tensor<8xf32> -> tensor<2x8xf32>
func.func @sparse24_f32(%x: tensor<2x16xf32>) -> tensor<2x8xf32> {
  %v = arith.constant dense<1.5> : tensor<8x8xf32>
  %i = arith.constant dense<68> : tensor<8x2xi8>
  %b = arith.constant dense<0.5> : tensor<8xf32>
  // REMARK: materialize.mlir:[[@LINE+1]]:{{[0-9]+}}: remark: stays on the run-time dequantization path: format 'sp24_f32' is not in sqz-materialize's formats
  %y = sqz.sparse_linear %x, %v, %i, %b {sparsity = #sqz.sparsity<2:4>} : tensor<2x16xf32>, tensor<8x8xf32>, tensor<8x2xi8>, tensor<8xf32> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// 2:4 with int4 kept values (joint sparse + quantized form), groups of 8 dense columns.
// CHECK-LABEL: func.func @sparse24_int4
// CHECK: sqz.packed_linear {{.*}} {isa = "avx512", kernel = "sp24_int4"} : tensor<2x16xf32>, tensor<{{[0-9]+}}xi8> -> tensor<2x8xf32>
func.func @sparse24_int4(%x: tensor<2x16xf32>) -> tensor<2x8xf32> {
  %v = arith.constant dense<11> : tensor<8x8xi8>
  %i = arith.constant dense<-36> : tensor<8x2xi8>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  // REMARK: materialize.mlir:[[@LINE+1]]:{{[0-9]+}}: remark: stays on the run-time dequantization path: format 'sp24_int4' is not in sqz-materialize's formats
  %y = sqz.sparse_linear %x, %v, %i scales %s {quant = #sqz.quant<format = int4, group = 8, symmetric = true>, sparsity = #sqz.sparsity<2:4>} : tensor<2x16xf32>, tensor<8x8xi8>, tensor<8x2xi8> scales tensor<8x2xf32> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// 4:8 has no kernel.
// CHECK-LABEL: func.func @sparse48_stays
// CHECK: sqz.sparse_linear
func.func @sparse48_stays(%x: tensor<2x16xf32>) -> tensor<2x4xf32> {
  %v = arith.constant dense<1.0> : tensor<4x8xf32>
  %i = arith.constant dense<[[-120, -122, 104], [-120, -122, 104], [-120, -122, 104], [-120, -122, 104]]> : tensor<4x3xi8>
  // REMARK: materialize.mlir:[[@LINE+2]]:{{[0-9]+}}: remark: stays on the run-time dequantization path: there is no 4:8 sparse microkernel (2:4 only)
  // expected-remark @+1 {{stays on the run-time dequantization path: there is no 4:8 sparse microkernel (2:4 only)}}
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<4:8>} : tensor<2x16xf32>, tensor<4x8xf32>, tensor<4x3xi8> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// A dense f32 linear takes the f32 kernel (default, and FMT which names f32); without f32 in
// formats it stays, with no remark. A narrow one (N = 16: padded to the kernel's 64-column
// panel it would grow 4x) stays too.
// CHECK-LABEL: func.func @dense
// CHECK: sqz.packed_linear {{.*}} {isa = "avx512", kernel = "f32"} : tensor<4x32xf32>, tensor<{{[0-9]+}}xi8>, tensor<64xf32> -> tensor<4x64xf32>
// CHECK: sqz.linear {{.*}} : tensor<4x64xf32>, tensor<16x64xf32> -> tensor<4x16xf32>
// NOF32-LABEL: func.func @dense
// NOF32: sqz.linear
// NOF32-NOT: sqz.packed_linear
// FMT-LABEL: func.func @dense
// FMT: sqz.packed_linear {{.*}} {isa = "avx2", kernel = "f32"} : tensor<4x32xf32>, tensor<{{[0-9]+}}xi8>, tensor<64xf32> -> tensor<4x64xf32>
// FMT: sqz.linear {{.*}} : tensor<4x64xf32>, tensor<16x64xf32> -> tensor<4x16xf32>
func.func @dense(%x: tensor<4x32xf32>) -> tensor<4x16xf32> {
  %w = arith.constant dense<0.25> : tensor<64x32xf32>
  %b = arith.constant dense<1.0> : tensor<64xf32>
  %h = sqz.linear %x, %w, %b : tensor<4x32xf32>, tensor<64x32xf32>, tensor<64xf32> -> tensor<4x64xf32>
  %w2 = arith.constant dense<0.5> : tensor<16x64xf32>
  %y = sqz.linear %h, %w2 : tensor<4x64xf32>, tensor<16x64xf32> -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// f16 activations: the kernels take f32.
// CHECK-LABEL: func.func @f16_stays
// CHECK: sqz.quant_linear
func.func @f16_stays(%x: tensor<2x64xf16>) -> tensor<2x8xf16> {
  %c = arith.constant dense<5> : tensor<8x64xi8>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  // REMARK: materialize.mlir:[[@LINE+2]]:{{[0-9]+}}: remark: stays on the run-time dequantization path: the microkernels take f32 activations
  // expected-remark @+1 {{stays on the run-time dequantization path: the microkernels take f32 activations}}
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = 32, symmetric = true>} : tensor<2x64xf16>, tensor<8x64xi8>, tensor<8x2xf32> -> tensor<2x8xf16>
  return %y : tensor<2x8xf16>
}
