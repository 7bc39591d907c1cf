// RUN: sqz-opt %s --split-input-file --sqz-materialize="isa=avx512" --sqz-cpu-lower-ukernels | FileCheck %s
// RUN: sqz-opt %s --split-input-file --sqz-lower-to-cpu="target-cpu=x86-64-v4 ukernels=true" | FileCheck %s --check-prefix=LLVM
// RUN: sqz-opt %s --split-input-file --sqz-lower-to-cpu="target-cpu=x86-64-v3 ukernels=true" | FileCheck %s --check-prefix=AVX2
// RUN: sqz-opt %s --split-input-file --sqz-lower-to-cpu="target-cpu=x86-64 ukernels=true" | FileCheck %s --check-prefix=GENERIC
// RUN: sqz-opt %s --split-input-file --sqz-lower-to-cpu="target-cpu=x86-64-v4" | FileCheck %s --check-prefix=NOUK
// RUN: sqz-opt %s --split-input-file --sqz-materialize="isa=avx512" --sqz-cpu-lower-ukernels --cse | FileCheck %s --check-prefix=CSE

// sqz-cpu-lower-ukernels: a packed linear becomes calls of sqz_uk_<kernel>_<isa> on raw
// pointers over column chunks (multiples of 64) in an scf.parallel, between to_buffer of the
// input and to_tensor of a fresh output buffer; the blob is a 64-byte-aligned global.

// A GEMV over a 2048x512 int4 weight (2^20 multiply-adds: min-parallel-work): 8 blocks of
// 64 columns, one chunk each (fewer than `chunks` = 32 blocks), so every thread of 2..8 gets
// work.
// CHECK: module attributes {sqz.ukernel_isa = "avx512"}
// CHECK-DAG: func.func private @sqz_uk_int4_avx512(!llvm.ptr, !llvm.ptr, i64, i64, !llvm.ptr, !llvm.ptr, i64, i64, i64)
// CHECK-DAG: memref.global "private" constant @__sqz_uk_blob : memref<{{[0-9]+}}xi8> = dense_resource<{{.*}}> {alignment = 64 : i64}
// CHECK-LABEL: func.func @main(%arg0: tensor<1x2048xf32>)
// CHECK: %[[XB:.*]] = bufferization.to_buffer %{{.*}} read_only {sqz.ukernel_call = 0 : i64} : tensor<1x2048xf32> to memref<1x2048xf32, strided<[?, 1], offset: ?>>
// CHECK: memref.extract_aligned_pointer_as_index %[[XB]]
// CHECK: %[[X:.*]] = llvm.inttoptr %{{.*}} : i64 to !llvm.ptr
// CHECK: %[[W:.*]] = memref.get_global @__sqz_uk_blob
// CHECK: %[[BIAS:.*]] = bufferization.to_buffer %{{.*}} read_only {sqz.ukernel_call = 0 : i64} : tensor<512xf32> to memref<512xf32, strided<[1], offset: ?>>
// CHECK: %[[Y:.*]] = memref.alloc() : memref<1x512xf32>
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK-DAG: %[[C64:.*]] = arith.constant 64 : index
// CHECK-DAG: %[[C512:.*]] = arith.constant 512 : index
// CHECK: scf.parallel (%[[C:.*]]) = (%{{.*}}) to (%[[C8]]) step
// CHECK:   %[[B:.*]] = arith.muli %[[C]], %[[C64]] : index
// CHECK:   %[[E:.*]] = arith.minsi %{{.*}}, %[[C512]] : index
// CHECK:   func.call @sqz_uk_int4_avx512(%{{.*}}, %[[X]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, i64, i64, !llvm.ptr, !llvm.ptr, i64, i64, i64) -> ()
// CHECK: bufferization.to_tensor %[[Y]] restrict writable : memref<1x512xf32> to tensor<1x512xf32>
// CHECK-NOT: sqz.packed_linear
// CHECK-NOT: sqz.quant_linear

// After the whole pipeline the chunks are an OpenMP loop calling the kernel.
// LLVM: module attributes {{{.*}}sqz.ukernel_isa = "avx512"
// LLVM: llvm.func @sqz_uk_int4_avx512(!llvm.ptr, !llvm.ptr, i64, i64, !llvm.ptr, !llvm.ptr, i64, i64, i64)
// LLVM-LABEL: llvm.func internal @main(
// LLVM: omp.parallel
// LLVM: omp.wsloop
// LLVM: llvm.call @sqz_uk_int4_avx512(
// AVX2: llvm.call @sqz_uk_int4_avx2(
// GENERIC: llvm.call @sqz_uk_int4_generic(
// NOUK-NOT: sqz_uk_
func.func @main(%x: tensor<1x2048xf32>) -> tensor<1x512xf32> {
  %c = arith.constant dense<3> : tensor<512x2048xi8>
  %s = arith.constant dense<0.5> : tensor<512x16xf32>
  %z = arith.constant dense<8> : tensor<512x16xi8>
  %b = arith.constant dense<1.0> : tensor<512xf32>
  %y = sqz.quant_linear %x, %c, %s zeros %z bias %b {quant = #sqz.quant<format = int4, group = 128, symmetric = false>} : tensor<1x2048xf32>, tensor<512x2048xi8>, tensor<512x16xf32> zeros tensor<512x16xi8>, tensor<512xf32> -> tensor<1x512xf32>
  return %y : tensor<1x512xf32>
}

// -----

// Dynamic rows: M is the product of the leading dims (read from the input's buffer), and a
// weight of 64x64 (k·n below min-parallel-work) is one call over all columns, no fork.
// CHECK-LABEL: func.func @main(%arg0: tensor<?x4x64xf32>)
// CHECK: %[[X2:.*]] = tensor.collapse_shape %arg0 {{\[}}[0, 1], [2]] : tensor<?x4x64xf32> into tensor<?x64xf32>
// CHECK: %[[M:.*]] = tensor.dim %[[X2]], %{{.*}} : tensor<?x64xf32>
// CHECK: %[[Y:.*]] = memref.alloc(%[[M]]) : memref<?x64xf32>
// CHECK-NOT: scf.parallel
// CHECK: call @sqz_uk_nf4_avx512(
// CHECK: %[[T:.*]] = bufferization.to_tensor %[[Y]] restrict writable : memref<?x64xf32> to tensor<?x64xf32>
// CHECK: tensor.expand_shape %[[T]] {{\[}}[0, 1], [2]] output_shape [%{{.*}}, 4, 64] : tensor<?x64xf32> into tensor<?x4x64xf32>
// LLVM: llvm.func @sqz_uk_nf4_avx512(
// LLVM-LABEL: llvm.func internal @main(
// LLVM-NOT: omp.parallel
// LLVM: llvm.call @sqz_uk_nf4_avx512(
func.func @main(%x: tensor<?x4x64xf32>) -> tensor<?x4x64xf32> {
  %c = arith.constant dense<3> : tensor<64x64xi8>
  %s = arith.constant dense<0.5> : tensor<64x1xf32>
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = nf4, group = 64, symmetric = true>} : tensor<?x4x64xf32>, tensor<64x64xi8>, tensor<64x1xf32> -> tensor<?x4x64xf32>
  return %y : tensor<?x4x64xf32>
}

// -----

// A large N: 14336 columns = 224 blocks of 64, in 32 chunks of 7 blocks (448 columns).
// (A 2x32 input would be below min-parallel-work: 917504 multiply-adds.)
// CHECK-LABEL: func.func @main(%arg0: tensor<4x32xf32>)
// CHECK-DAG: %[[C32:.*]] = arith.constant 32 : index
// CHECK-DAG: %[[C448:.*]] = arith.constant 448 : index
// CHECK: scf.parallel (%[[C:.*]]) = (%{{.*}}) to (%[[C32]]) step
// CHECK:   arith.muli %[[C]], %[[C448]] : index
// CHECK:   func.call @sqz_uk_int8_avx512(
func.func @main(%x: tensor<4x32xf32>) -> tensor<4x14336xf32> {
  %c = arith.constant dense<3> : tensor<14336x32xi8>
  %s = arith.constant dense<0.5> : tensor<14336x1xf32>
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<4x32xf32>, tensor<14336x32xi8>, tensor<14336x1xf32> -> tensor<4x14336xf32>
  return %y : tensor<4x14336xf32>
}

// -----

// Two kernels reading the same input keep one to_buffer each, right before their call (the
// read One-Shot Bufferize analyzes): CSE must not merge them, or an in-place write between
// the calls could overwrite the input of the second (`sqz.ukernel_call` numbers them).
// CSE-LABEL: func.func @main(%arg0: tensor<16x64xf32>)
// CSE: bufferization.to_buffer %arg0 read_only {sqz.ukernel_call = 0 : i64}
// CSE: call @sqz_uk_int8_avx512(
// CSE: linalg.generic
// CSE: bufferization.to_buffer %arg0 read_only {sqz.ukernel_call = 1 : i64}
// CSE: call @sqz_uk_int8_avx512(
func.func @main(%x: tensor<16x64xf32>) -> (tensor<16x64xf32>, tensor<16x64xf32>) {
  %c = arith.constant dense<3> : tensor<64x64xi8>
  %s = arith.constant dense<0.5> : tensor<64x1xf32>
  %q = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<16x64xf32>, tensor<64x64xi8>, tensor<64x1xf32> -> tensor<16x64xf32>
  %e = tensor.empty() : tensor<16x64xf32>
  %t = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%q : tensor<16x64xf32>) outs(%e : tensor<16x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = math.tanh %in : f32
    linalg.yield %m : f32
  } -> tensor<16x64xf32>
  %c2 = arith.constant dense<5> : tensor<64x64xi8>
  %k = sqz.quant_linear %x, %c2, %s {quant = #sqz.quant<format = int8, group = -1, symmetric = true>} : tensor<16x64xf32>, tensor<64x64xi8>, tensor<64x1xf32> -> tensor<16x64xf32>
  return %t, %k : tensor<16x64xf32>, tensor<16x64xf32>
}
