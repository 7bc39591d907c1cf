// RUN: sqz-opt %s --split-input-file --sqz-lower-to-cpu --verify-diagnostics | FileCheck %s
// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(sqz-lower-to-cpu{emit-c-abi=false})' --mlir-print-ir-after=sqz-cpu-convert-func-to-llvm --verify-diagnostics -o /dev/null 2>&1 | FileCheck %s --check-prefix=SHAPES

// A model with a dynamic dim lowers to ABI 3: the entry takes memref descriptors, the result
// is computed in the caller's buffer (no malloc, no memcpy), the output-shape function reads
// the input dim, and sqz_model_invoke takes (buffers, shapes).
// CHECK: module attributes {{{.*}}sqz.dynamic_shapes
// CHECK-SAME: sqz.entry_arg_shapes = [array<i64: -1, 4>, array<i64: -1, 4>]
// CHECK-NOT: @malloc
// CHECK-LABEL: llvm.func internal @main
// CHECK-SAME: (%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64)
// CHECK-NOT: memcpy
// CHECK-LABEL: llvm.func @sqz_model_output_shapes
// CHECK-SAME: (%[[IN:.*]]: !llvm.ptr, %[[OUT:.*]]: !llvm.ptr)
// CHECK: %[[N:.*]] = llvm.load %[[IN]] : !llvm.ptr -> i64
// CHECK: llvm.store %[[N]], %[[OUT]] : i64, !llvm.ptr
// CHECK-LABEL: llvm.func @sqz_abi_version
// CHECK: llvm.mlir.constant(3 : i32)
// CHECK-LABEL: llvm.func @sqz_model_invoke
// CHECK-SAME: (%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// SHAPES: IR Dump After SqzCPUConvertFuncToLLVM
// SHAPES: sqz.entry_arg_shapes = [array<i64: -1, 4>, array<i64: -1, 4>]
func.func @main(%x: tensor<?x4xf32> {sqz.name = "x"}) -> (tensor<?x4xf32> {sqz.name = "y"}) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x4xf32>
  %e = tensor.empty(%n) : tensor<?x4xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<?x4xf32>) outs(%e : tensor<?x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.negf %a : f32
    linalg.yield %r : f32
  } -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// sqz.moe is only lowered on static shapes.
func.func @main(%x: tensor<?x4xf32>, %logits: tensor<?x2xf32>) -> tensor<?x4xf32> {
  %w1 = arith.constant dense<0.5> : tensor<2x8x4xf32>
  %w2 = arith.constant dense<0.5> : tensor<2x4x8xf32>
  // expected-error @+1 {{sqz-lower-moe: only statically shaped sqz.moe can be lowered}}
  %y = sqz.moe %x, %logits, %w1, %w2 {top_k = 1, activation = #sqz<moe_activation relu>} : (tensor<?x4xf32>, tensor<?x2xf32>, tensor<2x8x4xf32>, tensor<2x4x8xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
