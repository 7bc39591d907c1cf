// RUN: sqz-opt %s --split-input-file --sqz-materialize="target=cuda arch=sm_80" --verify-diagnostics | FileCheck %s
// RUN: sqz-opt %s --split-input-file --sqz-materialize="target=cuda arch=sm_90a formats=int4" 2>/dev/null | FileCheck %s --check-prefix=FMT
// RUN: not sqz-opt %s --split-input-file --sqz-materialize="target=cuda arch=sm_75" 2>&1 | FileCheck %s --check-prefix=ARCH
// RUN: not sqz-opt %s --split-input-file --sqz-materialize="target=cuda formats=nf5" 2>&1 | FileCheck %s --check-prefix=BADFMT
// RUN: sqz-opt %s --split-input-file --sqz-materialize="target=cuda arch=sm_80 formats=int4,nf4" 2>/dev/null | FileCheck %s --check-prefix=NF4

// sqz-materialize{target=cuda}: the linears the CUDA kernels read (lib/Kernels/CUDA,
// sqz_cuk_can_pack) become sqz.packed_linear with a CUDA blob (isa = the architecture; the
// op's verifier checks the header); the others stay on the generic path with a remark.

// ARCH: error: sqz-materialize: unknown arch 'sm_75' for target cuda (expected sm_80, sm_90 or sm_90a)
// BADFMT: error: sqz-materialize: unknown CUDA format 'nf5' in formats (expected f16, int8, int4, nf4, ternary2, sp24_f16, sp24_int4)

// int4, symmetric, group 32: the logical constants are replaced by one blob, a multiple of
// 256 bytes.
// CHECK-LABEL: func.func @int4_sym
// CHECK-NOT: sqz.quant_linear
// CHECK: %[[BLOB:.*]] = arith.constant dense_resource<{{.*}}.cuda_int4> : tensor<{{[0-9]+}}xi8>
// CHECK: sqz.packed_linear %arg0, %[[BLOB]] {isa = "sm_80", kernel = "int4"} : tensor<2x64xf32>, tensor<{{[0-9]+}}xi8> -> tensor<2x32xf32>
// CHECK-NOT: tensor<32x64xi8>
// FMT-LABEL: func.func @int4_sym
// FMT: sqz.packed_linear %arg0, %{{.*}} {isa = "sm_90a", kernel = "int4"}
func.func @int4_sym(%x: tensor<2x64xf32>) -> tensor<2x32xf32> {
  %c = arith.constant dense<3> : tensor<32x64xi8>
  %s = arith.constant dense<0.5> : tensor<32x2xf32>
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = 32, symmetric = true>} : tensor<2x64xf32>, tensor<32x64xi8>, tensor<32x2xf32> -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// -----

// int8 per channel with a bias.
// CHECK-LABEL: func.func @int8_bias
// CHECK: sqz.packed_linear %arg0, %{{[^,]*}}, %{{[^ ]*}} {isa = "sm_80", kernel = "int8"} : tensor<1x64xf32>, tensor<{{[0-9]+}}xi8>, tensor<16xf32> -> tensor<1x16xf32>
func.func @int8_bias(%x: tensor<1x64xf32>) -> tensor<1x16xf32> {
  %c = arith.constant dense<200> : tensor<16x64xi8>
  %s = arith.constant dense<0.01> : tensor<16x1xf32>
  %b = arith.constant dense<1.0> : tensor<16xf32>
  %y = sqz.quant_linear %x, %c, %s bias %b {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<1x64xf32>, tensor<16x64xi8>, tensor<16x1xf32>, tensor<16xf32> -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

// Dense f32 → fp16 weights for the tensor cores (not with formats=int4).
// CHECK-LABEL: func.func @dense
// CHECK: sqz.packed_linear %arg0, %{{.*}} {isa = "sm_80", kernel = "f16"} : tensor<4x64xf32>, tensor<{{[0-9]+}}xi8> -> tensor<4x32xf32>
// FMT-LABEL: func.func @dense
// FMT: sqz.linear
func.func @dense(%x: tensor<4x64xf32>) -> tensor<4x32xf32> {
  %w = arith.constant dense<0.125> : tensor<32x64xf32>
  %y = sqz.linear %x, %w : tensor<4x64xf32>, tensor<32x64xf32> -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// 2:4 with f32 values → sp24_f16 (mma.sp).
// CHECK-LABEL: func.func @sp24
// CHECK: sqz.packed_linear %arg0, %{{.*}} {isa = "sm_80", kernel = "sp24_f16"}
func.func @sp24(%x: tensor<2x64xf32>) -> tensor<2x16xf32> {
  %v = arith.constant dense<0.5> : tensor<16x32xf32>
  %i = arith.constant dense<68> : tensor<16x8xi8>
  %y = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<2:4>} : tensor<2x64xf32>, tensor<16x32xf32>, tensor<16x8xi8> -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// nf4 → the nf4 kernel (codebook lookup by prmt); its blob carries the 32-byte lookup table
// after the scales.
// CHECK-LABEL: func.func @nf4
// CHECK: sqz.packed_linear %arg0, %{{.*}} {isa = "sm_80", kernel = "nf4"} : tensor<3x128xf32>, tensor<{{[0-9]+}}xi8> -> tensor<3x16xf32>
// NF4-LABEL: func.func @nf4
// NF4: sqz.packed_linear %arg0, %{{.*}} {isa = "sm_80", kernel = "nf4"}
func.func @nf4(%x: tensor<3x128xf32>) -> tensor<3x16xf32> {
  %c = arith.constant dense<15> : tensor<16x128xi8>
  %s = arith.constant dense<2.0> : tensor<16x2xf32>
  %a = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = nf4, group = 64, symmetric = true>} : tensor<3x128xf32>, tensor<16x128xi8>, tensor<16x2xf32> -> tensor<3x16xf32>
  return %a : tensor<3x16xf32>
}

// -----

// What the kernels do not take stays, with the reason: nf4 with a group that is not a multiple
// of the kernels' k step, the same for int4, a dense weight out of the fp16 range.
// CHECK-LABEL: func.func @stays
// CHECK-NOT: sqz.packed_linear
func.func @stays(%x: tensor<1x128xf32>) -> (tensor<1x16xf32>, tensor<1x16xf32>, tensor<1x16xf32>) {
  %c = arith.constant dense<15> : tensor<16x128xi8>
  %s = arith.constant dense<2.0> : tensor<16x16xf32>
  // expected-remark @+1 {{stays on the run-time dequantization path: the CUDA nf4 kernel cannot take it: nf4 (CUDA): group = 8 must be a multiple of 16}}
  %a = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = nf4, group = 8, symmetric = true>} : tensor<1x128xf32>, tensor<16x128xi8>, tensor<16x16xf32> -> tensor<1x16xf32>
  %s8 = arith.constant dense<2.0> : tensor<16x16xf32>
  // expected-remark @+1 {{stays on the run-time dequantization path: the CUDA int4 kernel cannot take it: int4 (CUDA): group = 8 must be a multiple of}}
  %b = sqz.quant_linear %x, %c, %s8 {quant = #sqz.quant<format = int4, group = 8, symmetric = true>} : tensor<1x128xf32>, tensor<16x128xi8>, tensor<16x16xf32> -> tensor<1x16xf32>
  %w = arith.constant dense<1.0e+06> : tensor<16x128xf32>
  // expected-remark @+1 {{stays on the generated code: the CUDA f16 kernel cannot take it: f16 (CUDA): weight[0, 0] = 1e+06 is not a finite fp16 value}}
  %d = sqz.linear %x, %w : tensor<1x128xf32>, tensor<16x128xf32> -> tensor<1x16xf32>
  return %a, %b, %d : tensor<1x16xf32>, tensor<1x16xf32>, tensor<1x16xf32>
}

// -----

// Ternary (per-row scales) → the ternary2 kernel (2-bit codes).
// CHECK-LABEL: func.func @ternary
// CHECK: sqz.packed_linear %arg0, %{{.*}} {isa = "sm_80", kernel = "ternary2"} : tensor<3x64xf32>, tensor<{{[0-9]+}}xi8> -> tensor<3x8xf32>
// NF4-LABEL: func.func @ternary
// NF4: sqz.quant_linear
func.func @ternary(%x: tensor<3x64xf32>) -> tensor<3x8xf32> {
  %c = arith.constant dense<2> : tensor<8x64xi8>
  %s = arith.constant dense<0.125> : tensor<8x1xf32>
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = ternary, group = -1, symmetric = true>} : tensor<3x64xf32>, tensor<8x64xi8>, tensor<8x1xf32> -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

// 2:4 with int4 kept values (groups of 32 dense columns) → sp24_int4 (mma.sp on dequantized
// fp16 values).
// CHECK-LABEL: func.func @sp24_int4
// CHECK: sqz.packed_linear %arg0, %{{.*}} {isa = "sm_80", kernel = "sp24_int4"} : tensor<2x64xf32>, tensor<{{[0-9]+}}xi8> -> tensor<2x8xf32>
// FMT-LABEL: func.func @sp24_int4
// FMT: sqz.sparse_linear
func.func @sp24_int4(%x: tensor<2x64xf32>) -> tensor<2x8xf32> {
  %v = arith.constant dense<11> : tensor<8x32xi8>
  %i = arith.constant dense<-36> : tensor<8x8xi8>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  %y = sqz.sparse_linear %x, %v, %i scales %s {quant = #sqz.quant<format = int4, group = 32, symmetric = true>, sparsity = #sqz.sparsity<2:4>} : tensor<2x64xf32>, tensor<8x32xi8>, tensor<8x8xi8> scales tensor<8x2xf32> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// Formats without a CUDA kernel stay, with the reason: int3 codes, 4:8 sparsity.
// CHECK-LABEL: func.func @no_kernel
// CHECK-NOT: sqz.packed_linear
func.func @no_kernel(%x: tensor<1x64xf32>) -> (tensor<1x8xf32>, tensor<1x8xf32>) {
  %c = arith.constant dense<3> : tensor<8x64xi8>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  // expected-remark @+1 {{stays on the run-time dequantization path: there is no int3 CUDA kernel}}
  %a = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int3, group = 32, symmetric = true>} : tensor<1x64xf32>, tensor<8x64xi8>, tensor<8x2xf32> -> tensor<1x8xf32>
  %v = arith.constant dense<0.5> : tensor<8x32xf32>
  %i = arith.constant dense<[[-120, -122, 104, -120, -122, 104, -120, -122, 104, -120, -122, 104], [-120, -122, 104, -120, -122, 104, -120, -122, 104, -120, -122, 104], [-120, -122, 104, -120, -122, 104, -120, -122, 104, -120, -122, 104], [-120, -122, 104, -120, -122, 104, -120, -122, 104, -120, -122, 104], [-120, -122, 104, -120, -122, 104, -120, -122, 104, -120, -122, 104], [-120, -122, 104, -120, -122, 104, -120, -122, 104, -120, -122, 104], [-120, -122, 104, -120, -122, 104, -120, -122, 104, -120, -122, 104], [-120, -122, 104, -120, -122, 104, -120, -122, 104, -120, -122, 104]]> : tensor<8x12xi8>
  // expected-remark @+1 {{there is no 4:8 sparse CUDA kernel (2:4 only)}}
  %b = sqz.sparse_linear %x, %v, %i {sparsity = #sqz.sparsity<4:8>} : tensor<1x64xf32>, tensor<8x32xf32>, tensor<8x12xi8> -> tensor<1x8xf32>
  return %a, %b : tensor<1x8xf32>, tensor<1x8xf32>
}
