// RUN: sqz-opt %s --sqz-lower-to-cpu="target-cpu=x86-64-v4" | FileCheck %s
// RUN: sqz-opt %s --sqz-lower-to-cpu="target-cpu=x86-64-v3" | FileCheck %s --check-prefix=AVX2
// RUN: sqz-opt %s --pass-pipeline='builtin.module(sqz-lower-to-cpu{target-cpu=x86-64-v4 emit-c-abi=false})' --mlir-print-ir-after=sqz-cpu-optimize-vectors -o /dev/null 2>&1 | FileCheck %s --check-prefix=HOIST

// The contraction kernel of a linear: its (m, n) blocks run as an OpenMP loop, its register
// tile is FMAs (llvm.intr.fmuladd, vfmadd on x86) on rows of 32 lanes (two AVX-512
// registers), or 16 lanes (two AVX2 registers), and the C ABI has the thread-count entry
// point.
// CHECK-LABEL: llvm.func internal @main(
// CHECK: omp.parallel
// CHECK: omp.wsloop
// CHECK: omp.loop_nest
// CHECK: llvm.intr.fmuladd({{.*}}) : (vector<32xf32>, vector<32xf32>, vector<32xf32>) -> vector<32xf32>
// CHECK-LABEL: llvm.func @sqz_model_set_num_threads(
// CHECK-SAME: %[[N:.*]]: i32)
// CHECK: llvm.store %{{.*}}, %{{.*}} : i32, !llvm.ptr
// CHECK-LABEL: llvm.func @sqz_model_invoke(
// CHECK: %[[T:.*]] = llvm.load %{{.*}} : !llvm.ptr -> i32
// CHECK: llvm.call @omp_set_num_threads(%[[T]])
// CHECK: llvm.call @main(

// AVX2: omp.parallel
// AVX2: llvm.intr.fmuladd({{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>

// After bufferization the accumulator is read before the k loop, carried by it, and written
// after it; the loop body only loads A and B.
// HOIST-LABEL: func.func @main(
// HOIST: scf.forall
// HOIST: %[[ACC:.*]] = vector.transfer_read %{{.*}} : memref<16x512xf32>, vector<8x32xf32>
// HOIST: %[[R:.*]] = scf.for %{{.*}} iter_args(%[[IT:.*]] = %[[ACC]]) -> (vector<8x32xf32>)
// HOIST: vector.fma %{{.*}}, %{{.*}}, %[[IT]] : vector<8x32xf32>
// HOIST: vector.transfer_write %[[R]], %{{.*}} : vector<8x32xf32>, memref<16x512xf32>
#x = affine_map<(m, k, n) -> (m, k)>
#w = affine_map<(m, k, n) -> (k, n)>
#y = affine_map<(m, k, n) -> (m, n)>
func.func @main(%a: tensor<16x256xf32> {sqz.name = "x"}, %w: tensor<256x512xf32> {sqz.name = "w"}) -> (tensor<16x512xf32> {sqz.name = "y"}) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x512xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<16x512xf32>) -> tensor<16x512xf32>
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "reduction", "parallel"]} ins(%a, %w : tensor<16x256xf32>, tensor<256x512xf32>) outs(%acc : tensor<16x512xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<16x512xf32>
  return %y : tensor<16x512xf32>
}
