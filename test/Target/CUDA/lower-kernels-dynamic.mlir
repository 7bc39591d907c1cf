// RUN: sqz-opt %s --split-input-file --sqz-materialize="target=cuda arch=sm_80" --sqz-cuda-lower-kernels | FileCheck %s
// RUN: sqz-opt %s --split-input-file --sqz-materialize="target=cuda arch=sm_90a" --sqz-cuda-lower-kernels | FileCheck %s --check-prefix=SM90A

// A dynamic number of rows M (here 5 * batch): one launch per range of M with its kernel
// variant — gemv for M <= 8, gemm for 9..127, gemm64 (sm_90a: wgmma) from 128 — each with
// grid x = ceil(M / rows per block) when M is in its range, else 0 (the launch runs
// nothing). The output is allocated with M rows; M goes to the kernels as an argument.
// CHECK-LABEL: func.func @dynamic_rows
// CHECK: %[[X:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<?x5x64xf32> into tensor<?x64xf32>
// CHECK: %[[M:.*]] = tensor.dim %[[X]], %c0
// CHECK: memref.alloc(%[[M]]) : memref<?x32xf32>
// CHECK: %[[M64:.*]] = arith.index_cast %[[M]] : index to i64
// CHECK: %[[G1:.*]] = arith.divui
// CHECK: %[[LO1:.*]] = arith.cmpi uge, %[[M]], %c1
// CHECK: %[[HI1:.*]] = arith.cmpi ule, %[[M]], %c8
// CHECK: %[[IN1:.*]] = arith.andi %[[LO1]], %[[HI1]]
// CHECK: %[[GX1:.*]] = arith.select %[[IN1]], %[[G1]], %c0
// CHECK: call @sqz_cuk_int4_gemv_sm80_kernel_dynamic_grid(%[[GX1]], %{{.*}}, %{{.*}}, %[[M64]], {{.*}}) {sqz.cuda_kernel = @sqz_cuk_int4_gemv_sm80_kernel, sqz.cuda_launch = array<i64: -1, 2, 1, 128, 1, 1, {{[0-9]+}}>} : (index, i64, i64, i64, i64, i64, i64, i64) -> ()
// CHECK: arith.cmpi uge, %[[M]], %c9
// CHECK: arith.cmpi ule, %[[M]], %c127
// CHECK: call @sqz_cuk_int4_gemm_sm80_kernel_dynamic_grid({{.*}}) {sqz.cuda_kernel = @sqz_cuk_int4_gemm_sm80_kernel, sqz.cuda_launch = array<i64: -1, 2, 1,
// CHECK: %[[G3:.*]] = arith.divui %{{.*}}, %c64
// CHECK: arith.cmpi uge, %[[M]], %c128
// CHECK: %[[IN3:.*]] = arith.andi
// CHECK: %[[GX3:.*]] = arith.select %[[IN3]], %[[G3]], %c0
// CHECK: call @sqz_cuk_int4_gemm64_sm80_kernel_dynamic_grid(%[[GX3]], {{.*}}) {sqz.cuda_kernel = @sqz_cuk_int4_gemm64_sm80_kernel, sqz.cuda_launch = array<i64: -1, 1, 1,
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0, 1], [2]] output_shape [%{{.*}}, 5, 32] : tensor<?x32xf32> into tensor<?x5x32xf32>
// CHECK: func.func private @sqz_cuk_int4_gemv_sm80_kernel_dynamic_grid(index, i64, i64, i64, i64, i64, i64, i64)
// SM90A: call @sqz_cuk_int4_gemv_sm90_kernel_dynamic_grid(
// SM90A: call @sqz_cuk_int4_gemm_sm90_kernel_dynamic_grid(
// SM90A: call @sqz_cuk_int4_wgmma_sm90a_kernel_dynamic_grid(
func.func @dynamic_rows(%x: tensor<?x5x64xf32>) -> tensor<?x5x32xf32> {
  %c = arith.constant dense<3> : tensor<32x64xi8>
  %s = arith.constant dense<0.5> : tensor<32x2xf32>
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = 32, symmetric = true>} : tensor<?x5x64xf32>, tensor<32x64xi8>, tensor<32x2xf32> -> tensor<?x5x32xf32>
  return %y : tensor<?x5x32xf32>
}
