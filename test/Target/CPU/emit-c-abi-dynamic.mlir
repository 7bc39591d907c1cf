// RUN: sqz-opt %s --split-input-file --sqz-cpu-emit-c-abi --verify-diagnostics | FileCheck %s

// ABI 3: sqz_model_invoke(buffers, shapes) builds the memref descriptor of each argument from
// its buffer pointer (allocated = aligned, offset 0), the dims in `shapes` (x: [?, 4] at
// shapes[0..1], y: [?, 4] at shapes[2..3]; static dims are constants, not loads) and
// row-major strides. The weights buffer (after the outputs) has no entry in `shapes`.
// CHECK-LABEL: llvm.func internal @main
// CHECK-LABEL: llvm.func @sqz_abi_version() -> i32
// CHECK: %[[V:.*]] = llvm.mlir.constant(3 : i32) : i32
// CHECK: llvm.return %[[V]]
// CHECK-LABEL: llvm.func @sqz_model_invoke
// CHECK-SAME: (%[[BUFS:.*]]: !llvm.ptr, %[[SHAPES:.*]]: !llvm.ptr)
// CHECK: llvm.call @omp_set_num_threads
// CHECK: %[[S0:.*]] = llvm.getelementptr %[[BUFS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[X:.*]] = llvm.load %[[S0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[D0:.*]] = llvm.getelementptr %[[SHAPES]][0] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK: %[[M:.*]] = llvm.load %[[D0]] : !llvm.ptr -> i64
// CHECK: %[[C4:.*]] = llvm.mlir.constant(4 : i64) : i64
// CHECK: %[[ONE:.*]] = llvm.mlir.constant(1 : i64) : i64
// CHECK: %[[XS0:.*]] = llvm.mul %[[ONE]], %[[C4]] : i64
// CHECK: %[[ZERO:.*]] = llvm.mlir.constant(0 : i64) : i64
// CHECK: %[[S1:.*]] = llvm.getelementptr %[[BUFS]][1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[Y:.*]] = llvm.load %[[S1]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[D2:.*]] = llvm.getelementptr %[[SHAPES]][2] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK: %[[N:.*]] = llvm.load %[[D2]] : !llvm.ptr -> i64
// CHECK: %[[S2:.*]] = llvm.getelementptr %[[BUFS]][2] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[W:.*]] = llvm.load %[[S2]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[WN:.*]] = llvm.mlir.constant(2048 : i64) : i64
// CHECK: llvm.call @main(%[[X]], %[[X]], %[[ZERO]], %[[M]], %[[C4]], %[[XS0]], %[[ONE]], %[[Y]], %[[Y]], %{{.*}}, %[[N]], %{{.*}}, %{{.*}}, %{{.*}}, %[[W]], %[[W]], %{{.*}}, %[[WN]], %{{.*}})
// CHECK-NEXT: llvm.return
module attributes {sqz.dynamic_shapes, sqz.weights_file,
                   sqz.entry_arg_shapes = [array<i64: -1, 4>, array<i64: -1, 4>, array<i64: 2048>]} {
  llvm.func @main(%xa: !llvm.ptr, %xb: !llvm.ptr, %xo: i64, %xs0: i64, %xs1: i64, %xt0: i64, %xt1: i64,
                  %ya: !llvm.ptr, %yb: !llvm.ptr, %yo: i64, %ys0: i64, %ys1: i64, %yt0: i64, %yt1: i64,
                  %wa: !llvm.ptr, %wb: !llvm.ptr, %wo: i64, %ws0: i64, %wt0: i64) {
    llvm.return
  }
  llvm.func @sqz_model_output_shapes(%in: !llvm.ptr, %out: !llvm.ptr) {
    llvm.return
  }
}

// -----

// A rank-0 argument is (allocated, aligned, offset) and takes no dims from `shapes`.
// CHECK-LABEL: llvm.func @sqz_model_invoke
// CHECK-SAME: (%[[BUFS:.*]]: !llvm.ptr, %[[SHAPES:.*]]: !llvm.ptr)
// CHECK: %[[S:.*]] = llvm.load %{{.*}} : !llvm.ptr -> !llvm.ptr
// CHECK: %[[ZERO:.*]] = llvm.mlir.constant(0 : i64) : i64
// CHECK: %[[D:.*]] = llvm.getelementptr %[[SHAPES]][0] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK: %[[N:.*]] = llvm.load %[[D]]
// CHECK: llvm.call @main(%[[S]], %[[S]], %[[ZERO]], %{{.*}}, %{{.*}}, %{{.*}}, %[[N]], %{{.*}})
module attributes {sqz.dynamic_shapes, sqz.entry_arg_shapes = [array<i64>, array<i64: -1>]} {
  llvm.func @main(%sa: !llvm.ptr, %sb: !llvm.ptr, %so: i64,
                  %ya: !llvm.ptr, %yb: !llvm.ptr, %yo: i64, %ys0: i64, %yt0: i64) {
    llvm.return
  }
  llvm.func @sqz_model_output_shapes(%in: !llvm.ptr, %out: !llvm.ptr) {
    llvm.return
  }
}

// -----

// expected-error @+1 {{dynamic model without the 'sqz.entry_arg_shapes' shapes of its entry arguments}}
module attributes {sqz.dynamic_shapes} {
  llvm.func @main(%a: !llvm.ptr) {
    llvm.return
  }
}

// -----

module attributes {sqz.dynamic_shapes, sqz.entry_arg_shapes = [array<i64: -1>]} {
  // expected-error @+1 {{entry function must take the memref descriptors of 1 arguments (5 pointers and i64 values) and return nothing}}
  llvm.func @main(%a: !llvm.ptr) {
    llvm.return
  }
  llvm.func @sqz_model_output_shapes(%in: !llvm.ptr, %out: !llvm.ptr) {
    llvm.return
  }
}

// -----

// expected-error @+1 {{dynamic model without its 'sqz_model_output_shapes(ptr, ptr)' function}}
module attributes {sqz.dynamic_shapes, sqz.entry_arg_shapes = [array<i64: -1>]} {
  llvm.func @main(%a: !llvm.ptr, %b: !llvm.ptr, %o: i64, %s: i64, %t: i64) {
    llvm.return
  }
}

// -----

module attributes {sqz.dynamic_shapes, sqz.weights_file, sqz.entry_arg_shapes = [array<i64: -1>, array<i64: -1>]} {
  // expected-error @+1 {{entry function argument #1 (the weights buffer) must have a static shape}}
  llvm.func @main(%a: !llvm.ptr, %b: !llvm.ptr, %o: i64, %s: i64, %t: i64,
                  %c: !llvm.ptr, %d: !llvm.ptr, %p: i64, %q: i64, %r: i64) {
    llvm.return
  }
  llvm.func @sqz_model_output_shapes(%in: !llvm.ptr, %out: !llvm.ptr) {
    llvm.return
  }
}
