// RUN: sqz-opt %s --split-input-file | FileCheck %s
// RUN: sqz-opt %s --split-input-file --mlir-print-op-generic | sqz-opt --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @linear_bias
// CHECK: %[[W:.*]] = arith.constant dense<{{.*}}> : tensor<8x16xf32>
// CHECK: %[[B:.*]] = arith.constant dense<{{.*}}> : tensor<8xf32>
// CHECK: sqz.linear %{{.*}}, %[[W]], %[[B]] : tensor<4x16xf32>, tensor<8x16xf32>, tensor<8xf32> -> tensor<4x8xf32>
func.func @linear_bias(%x: tensor<4x16xf32>) -> tensor<4x8xf32> {
  %w = arith.constant dense<0.25> : tensor<8x16xf32>
  %b = arith.constant dense<1.0> : tensor<8xf32>
  %y = sqz.linear %x, %w, %b : tensor<4x16xf32>, tensor<8x16xf32>, tensor<8xf32> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// CHECK-LABEL: func.func @linear_no_bias_rank3
// CHECK: sqz.linear %{{.*}}, %{{.*}} : tensor<2x5x16xf16>, tensor<3x16xf16> -> tensor<2x5x3xf16>
func.func @linear_no_bias_rank3(%x: tensor<2x5x16xf16>) -> tensor<2x5x3xf16> {
  %w = arith.constant dense<1.0> : tensor<3x16xf16>
  %y = sqz.linear %x, %w : tensor<2x5x16xf16>, tensor<3x16xf16> -> tensor<2x5x3xf16>
  return %y : tensor<2x5x3xf16>
}

// -----

// CHECK-LABEL: func.func @linear_vector_dynamic_rows
// CHECK: sqz.linear %{{.*}}, %{{.*}} : tensor<?x4xf32>, tensor<2x4xf32> -> tensor<?x2xf32>
func.func @linear_vector_dynamic_rows(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 2.0, 0.0], [0.0, 3.0, 0.0, 4.0]]> : tensor<2x4xf32>
  %y = sqz.linear %x, %w : tensor<?x4xf32>, tensor<2x4xf32> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// A 2:4 pattern the verifier checks against the constant.
// CHECK-LABEL: func.func @linear_sparse_2_4
// CHECK: sqz.linear %{{.*}}, %{{.*}} {sparsity = #sqz.sparsity<2:4>} : tensor<4xf32>, tensor<2x4xf32> -> tensor<2xf32>
func.func @linear_sparse_2_4(%x: tensor<4xf32>) -> tensor<2xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 2.0, 0.0], [0.0, 3.0, 0.0, 4.0]]> : tensor<2x4xf32>
  %y = sqz.linear %x, %w {sparsity = #sqz.sparsity<2:4>} : tensor<4xf32>, tensor<2x4xf32> -> tensor<2xf32>
  return %y : tensor<2xf32>
}

// -----

// Weights held in a dense_resource blob (how the importer stores them).
// CHECK-LABEL: func.func @linear_resource
// CHECK: arith.constant dense_resource<fc_w> : tensor<2x4xf32>
// CHECK: sqz.linear
func.func @linear_resource(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense_resource<fc_w> : tensor<2x4xf32>
  %y = sqz.linear %x, %w {sparsity = #sqz.sparsity<2:4>} : tensor<1x4xf32>, tensor<2x4xf32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      fc_w: "0x040000000000803F000000000000004000000000000000000000404000000000"
    }
  }
#-}

// -----

// CHECK-LABEL: func.func @observe
// CHECK: %[[T:.*]] = sqz.observe %{{.*}} tap "layers.0/mlp/up" stats [sumsq, absmax] : tensor<1x8x64xf32>
// CHECK: sqz.observe %[[T]] tap "xtx" stats [xtx] : tensor<1x8x64xf32>
func.func @observe(%x: tensor<1x8x64xf32>) -> tensor<1x8x64xf32> {
  %t = sqz.observe %x tap "layers.0/mlp/up" stats [sumsq, absmax] : tensor<1x8x64xf32>
  %u = sqz.observe %t tap "xtx" stats [xtx] : tensor<1x8x64xf32>
  return %u : tensor<1x8x64xf32>
}

// -----

// Taps have a side effect: two identical taps are not merged by CSE.
// CHECK-LABEL: func.func @observe_not_csed
// CHECK-COUNT-2: sqz.observe
func.func @observe_not_csed(%x: tensor<4x4xf32>) -> (tensor<4x4xf32>, tensor<4x4xf32>) {
  %a = sqz.observe %x tap "t" stats [sumsq] : tensor<4x4xf32>
  %b = sqz.observe %x tap "t" stats [sumsq] : tensor<4x4xf32>
  return %a, %b : tensor<4x4xf32>, tensor<4x4xf32>
}

// -----

// A CUDA blob (magic SQZ_CUK_MAGIC, 0x43515a53): int4 and the dense f16 format for sm_80 / sm_90a.
// CHECK-LABEL: func.func @packed_cuda
// CHECK: sqz.packed_linear %{{.*}}, %{{.*}} {isa = "sm_80", kernel = "int4"}
// CHECK: sqz.packed_linear %{{.*}}, %{{.*}} {isa = "sm_90a", kernel = "f16"}
func.func @packed_cuda(%x: tensor<4x8xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>) {
  %w = arith.constant dense<[83, 90, 81, 67, 1, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  %y = sqz.packed_linear %x, %w {kernel = "int4", isa = "sm_80"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  %d = arith.constant dense<[83, 90, 81, 67, 1, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]> : tensor<64xi8>
  %z = sqz.packed_linear %x, %d {kernel = "f16", isa = "sm_90a"} : tensor<4x8xf32>, tensor<64xi8> -> tensor<4x2xf32>
  return %y, %z : tensor<4x2xf32>, tensor<4x2xf32>
}
