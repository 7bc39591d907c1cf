// RUN: sqz-opt %s --split-input-file --sqz-cpu-forward-outputs | FileCheck %s

// A dynamic model's result allocation becomes its out-parameter: no malloc, no copy. An
// out-parameter that receives an input (not an allocation) keeps its copy.
// CHECK-LABEL: func.func @main
// CHECK-SAME: (%[[X:.*]]: memref<?x4xf32>, %[[Y:.*]]: memref<?x4xf32>, %[[Z:.*]]: memref<?x4xf32>)
// CHECK-NOT: memref.alloc
// CHECK: linalg.generic {{.*}} ins(%[[X]] : memref<?x4xf32>) outs(%[[Y]] : memref<?x4xf32>)
// CHECK-NOT: memref.copy %{{.*}}, %[[Y]]
// CHECK: memref.copy %[[X]], %[[Z]]
module attributes {sqz.dynamic_shapes} {
  func.func @main(%x: memref<?x4xf32>, %y: memref<?x4xf32>, %z: memref<?x4xf32>) {
    %c0 = arith.constant 0 : index
    %n = memref.dim %x, %c0 : memref<?x4xf32>
    %a = memref.alloc(%n) : memref<?x4xf32>
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                    iterator_types = ["parallel", "parallel"]}
        ins(%x : memref<?x4xf32>) outs(%a : memref<?x4xf32>) {
    ^bb0(%i: f32, %o: f32):
      %r = arith.negf %i : f32
      linalg.yield %r : f32
    }
    memref.copy %a, %y : memref<?x4xf32> to memref<?x4xf32>
    memref.copy %x, %z : memref<?x4xf32> to memref<?x4xf32>
    return
  }
}

// -----

// Static models (no sqz.dynamic_shapes) are not changed.
// CHECK-LABEL: func.func @main
// CHECK: memref.alloc
// CHECK: memref.copy
module {
  func.func @main(%x: memref<?x4xf32>, %y: memref<?x4xf32>) {
    %c0 = arith.constant 0 : index
    %n = memref.dim %x, %c0 : memref<?x4xf32>
    %a = memref.alloc(%n) : memref<?x4xf32>
    memref.copy %a, %y : memref<?x4xf32> to memref<?x4xf32>
    return
  }
}
