// RUN: sqz-opt %s --sqz-lower-to-cpu | FileCheck %s
// RUN: sqz-opt %s --sqz-lower-to-cpu="emit-c-abi=false" | FileCheck %s --check-prefix=NOABI

// The whole graph ends in the LLVM dialect: the entry takes bare pointers (inputs, then the
// output out-parameter), erf becomes a libm call, temporaries are allocated and freed through
// MLIR's generic functions (the model library's buffer cache implements them), and the C ABI
// wrapper loads each buffer pointer from the array it is given.
// CHECK-NOT: sqz.
// CHECK-NOT: linalg.
// CHECK-NOT: memref.
// CHECK-DAG: llvm.func @erff(f32) -> f32
// CHECK-DAG: llvm.func @_mlir_memref_to_llvm_alloc(i64) -> !llvm.ptr
// CHECK-DAG: llvm.func @_mlir_memref_to_llvm_free(!llvm.ptr)
// CHECK-LABEL: llvm.func internal @main(
// CHECK-SAME: %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// CHECK: llvm.call @erff
// CHECK: llvm.call @_mlir_memref_to_llvm_free
// CHECK-LABEL: llvm.func @sqz_abi_version() -> i32
// CHECK: %[[V:.*]] = llvm.mlir.constant(1 : i32) : i32
// CHECK: llvm.return %[[V]] : i32
// CHECK-LABEL: llvm.func @sqz_model_invoke(
// CHECK-SAME: %[[BUF:.*]]: !llvm.ptr)
// CHECK: %[[P0:.*]] = llvm.getelementptr %[[BUF]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[A0:.*]] = llvm.load %[[P0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[P1:.*]] = llvm.getelementptr %[[BUF]][1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[A1:.*]] = llvm.load %[[P1]] : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.call @main(%[[A0]], %[[A1]]) : (!llvm.ptr, !llvm.ptr) -> ()

// NOABI: llvm.func @main(
// NOABI-NOT: sqz_model_invoke
func.func @main(%x: tensor<2x3x16xf32> {sqz.name = "x"}) -> (tensor<2x3x8xf32> {sqz.name = "y"}) {
  %w = arith.constant dense<0.5> : tensor<8x16xf32>
  %b = arith.constant dense<1.0> : tensor<8xf32>
  %t = sqz.observe %x tap "fc" stats [sumsq] : tensor<2x3x16xf32>
  %y = sqz.linear %t, %w, %b : tensor<2x3x16xf32>, tensor<8x16xf32>, tensor<8xf32> -> tensor<2x3x8xf32>
  %e = math.erf %y : tensor<2x3x8xf32>
  return %e : tensor<2x3x8xf32>
}
