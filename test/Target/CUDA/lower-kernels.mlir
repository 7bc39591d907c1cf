// The blobs are 256-byte-aligned resources; --verify-roundtrip's bytecode round trip reads them
// back from a buffer MLIR only aligns to 16 bytes ("expected section alignment 256 but bytecode
// buffer ... is not aligned"), so this file does not run in the lit-roundtrip pass.
// UNSUPPORTED: verify-roundtrip
// RUN: sqz-opt %s --split-input-file --sqz-materialize="target=cuda arch=sm_80" --sqz-cuda-lower-kernels | FileCheck %s
// RUN: sqz-opt %s --split-input-file --sqz-materialize="target=cuda arch=sm_90a" --sqz-cuda-lower-kernels | FileCheck %s --check-prefix=SM90
// RUN: sqz-opt %s --split-input-file --sqz-materialize="target=cuda arch=sm_80" --sqz-cuda-lower-kernels | not sqz-opt --split-input-file --pass-pipeline="builtin.module(func.func(sqz-cuda-map-to-gpu))" 2>&1 | FileCheck %s --check-prefix=HOSTBLOB

// sqz-cuda-lower-kernels: each CUDA packed linear becomes a launch of a wrapper gpu.func that
// calls the kernel sqz_cuk_plan names (an llvm.func declaration, linked by
// sqz-cuda-serialize), with the plan's grid, block and dynamic shared memory: a call marked
// sqz.cuda_launch until sqz-cuda-map-to-gpu (after bufferization) makes it a gpu.launch_func. The blob is a
// 256-byte-aligned constant global; x and the bias enter through read-only to_buffers, y is a
// fresh buffer.

// M = 2 (<= 8): the gemv kernel, one 8-row m-tile per block: grid (1, ceil(32 / 16), 1).
// CHECK-LABEL: module attributes {gpu.container_module}
// CHECK: gpu.module @sqz_cuda_kernels
// CHECK: llvm.func @sqz_cuk_int4_gemv_sm80(!llvm.ptr, !llvm.ptr, i64, i64, !llvm.ptr, !llvm.ptr, i64)
// CHECK: gpu.func @sqz_cuk_int4_gemv_sm80_kernel(%[[B:.*]]: i64, %[[X:.*]]: i64, %[[M:.*]]: i64, %[[LDX:.*]]: i64, %[[BIAS:.*]]: i64, %[[Y:.*]]: i64, %[[LDY:.*]]: i64) kernel
// CHECK: %[[BP:.*]] = llvm.inttoptr %[[B]] : i64 to !llvm.ptr
// CHECK: llvm.call @sqz_cuk_int4_gemv_sm80(%[[BP]], %{{.*}}, %[[M]], %[[LDX]], %{{.*}}, %{{.*}}, %[[LDY]]) : (!llvm.ptr, !llvm.ptr, i64, i64, !llvm.ptr, !llvm.ptr, i64) -> ()
// CHECK: gpu.return
// CHECK: func.func @int4_gemv(%[[ARG:.*]]: tensor<2x64xf32>)
// CHECK: %[[XB:.*]] = bufferization.to_buffer %[[ARG]] read_only {sqz.ukernel_call = 0 : i64} : tensor<2x64xf32> to memref<2x64xf32, strided<[?, 1], offset: ?>>
// CHECK: memref.get_global @__sqz_cuk_blob : memref<{{[0-9]+}}xi8>
// CHECK: %[[YB:.*]] = memref.alloc() : memref<2x32xf32>
// CHECK: call @sqz_cuk_int4_gemv_sm80_kernel(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) {sqz.cuda_kernel = @sqz_cuk_int4_gemv_sm80_kernel, sqz.cuda_launch = array<i64: 1, 2, 1, 128, 1, 1, [[SMEM:[0-9]+]]>} : (i64, i64, i64, i64, i64, i64, i64) -> ()
// CHECK: bufferization.to_tensor %[[YB]] restrict writable : memref<2x32xf32> to tensor<2x32xf32>
// CHECK: memref.global "private" constant @__sqz_cuk_blob : memref<{{[0-9]+}}xi8> = dense_resource<{{.*}}> {alignment = 256 : i64}
// CHECK: func.func private @sqz_cuk_int4_gemv_sm80_kernel(i64, i64, i64, i64, i64, i64, i64)
// sqz-cuda-map-to-gpu makes the marked call a gpu.launch_func (lower-to-cuda.mlir, KERNELS)
// once the blob is in the weights buffer; a blob still a host global is an error.
// HOSTBLOB: error: the CUDA kernel's packed weight is a host global: the kernels read their weights from the weights buffer (a weights file; with embedded weights use --no-ukernels / kernels=false)
// SM90: gpu.func @sqz_cuk_int4_gemv_sm90_kernel
// SM90: llvm.call @sqz_cuk_int4_gemv_sm90(
func.func @int4_gemv(%x: tensor<2x64xf32>) -> tensor<2x32xf32> {
  %c = arith.constant dense<3> : tensor<32x64xi8>
  %s = arith.constant dense<0.5> : tensor<32x2xf32>
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = 32, symmetric = true>} : tensor<2x64xf32>, tensor<32x64xi8>, tensor<32x2xf32> -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// -----

// M = 1x64 rows (3-D input): the gemm kernel (32 rows per block): grid (2, ceil(48 / 16), 1);
// the bias is passed, the result reshaped back.
// CHECK-LABEL: module attributes {gpu.container_module}
// CHECK: gpu.func @sqz_cuk_f16_gemm_sm80_kernel
// CHECK: llvm.call @sqz_cuk_f16_gemm_sm80(
// CHECK: func.func @dense_gemm
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<1x64x64xf32> into tensor<64x64xf32>
// CHECK: bufferization.to_buffer %{{.*}} read_only {sqz.ukernel_call = 0 : i64} : tensor<48xf32>
// CHECK: call @sqz_cuk_f16_gemm_sm80_kernel({{.*}}) {sqz.cuda_kernel = @sqz_cuk_f16_gemm_sm80_kernel, sqz.cuda_launch = array<i64: 2, 3, 1, 128, 1, 1, {{[0-9]+}}>}
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1], [2]] output_shape [1, 64, 48] : tensor<64x48xf32> into tensor<1x64x48xf32>
func.func @dense_gemm(%x: tensor<1x64x64xf32>) -> tensor<1x64x48xf32> {
  %w = arith.constant dense<0.125> : tensor<48x64xf32>
  %b = arith.constant dense<1.0> : tensor<48xf32>
  %y = sqz.linear %x, %w, %b : tensor<1x64x64xf32>, tensor<48x64xf32>, tensor<48xf32> -> tensor<1x64x48xf32>
  return %y : tensor<1x64x48xf32>
}

// -----

// M = 130 (>= 128): gemm64 (64 rows x 4 n-tiles per block): grid (3, ceil(80 / 64), 1), 41 KiB
// of shared memory; on sm_90a the wgmma kernel with the same grid and no row padding in shared
// memory (64 * 256 * 2 + 4 * 4 * 512 = 40960 bytes).
// CHECK-LABEL: module attributes {gpu.container_module}
// CHECK: gpu.func @sqz_cuk_int4_gemm64_sm80_kernel
// CHECK: call @sqz_cuk_int4_gemm64_sm80_kernel({{.*}}) {sqz.cuda_kernel = @sqz_cuk_int4_gemm64_sm80_kernel, sqz.cuda_launch = array<i64: 3, 2, 1, 128, 1, 1, 41984>}
// SM90: llvm.func @sqz_cuk_int4_wgmma_sm90a(!llvm.ptr, !llvm.ptr, i64, i64, !llvm.ptr, !llvm.ptr, i64)
// SM90: gpu.func @sqz_cuk_int4_wgmma_sm90a_kernel
// SM90: llvm.call @sqz_cuk_int4_wgmma_sm90a(
// SM90: call @sqz_cuk_int4_wgmma_sm90a_kernel({{.*}}) {sqz.cuda_kernel = @sqz_cuk_int4_wgmma_sm90a_kernel, sqz.cuda_launch = array<i64: 3, 2, 1, 128, 1, 1, 40960>}
func.func @int4_m130(%x: tensor<130x64xf32>) -> tensor<130x80xf32> {
  %c = arith.constant dense<3> : tensor<80x64xi8>
  %s = arith.constant dense<0.5> : tensor<80x2xf32>
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = 32, symmetric = true>} : tensor<130x64xf32>, tensor<80x64xi8>, tensor<80x2xf32> -> tensor<130x80xf32>
  return %y : tensor<130x80xf32>
}
