// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cpu-legalize-memrefs))' | FileCheck %s

// A copy into a strided slice becomes linalg.copy (loops, not the memrefCopy runtime call);
// a copy between contiguous buffers stays memref.copy (llvm.memcpy).
// CHECK-LABEL: func.func @copies
// CHECK: linalg.copy ins(%{{.*}} : memref<1x2x?x8xf32>) outs(%{{.*}} : memref<1x2x?x8xf32, strided<[?, ?, 8, 1], offset: ?>>)
// CHECK: memref.copy %{{.*}}, %{{.*}} : memref<1x2x?x8xf32> to memref<1x2x?x8xf32>
func.func @copies(%src: memref<1x2x?x8xf32>, %dst: memref<1x2x?x8xf32>, %at: index, %n: index) {
  %view = memref.subview %dst[0, 0, %at, 0] [1, 2, %n, 8] [1, 1, 1, 1]
      : memref<1x2x?x8xf32> to memref<1x2x?x8xf32, strided<[?, ?, 8, 1], offset: ?>>
  memref.copy %src, %view : memref<1x2x?x8xf32> to memref<1x2x?x8xf32, strided<[?, ?, 8, 1], offset: ?>>
  memref.copy %src, %dst : memref<1x2x?x8xf32> to memref<1x2x?x8xf32>
  return
}

// -----

// A dynamic expand_shape of an identity-layout buffer becomes a reinterpret_cast with
// row-major strides; a static one is left to expand-strided-metadata.
// CHECK-LABEL: func.func @expand
// CHECK-SAME: (%[[A:.*]]: memref<?x48xf32>, %[[D0:.*]]: index, %[[D1:.*]]: index, %[[S:.*]]: memref<6x48xf32>)
// CHECK: %[[STRIDE:.*]] = affine.apply #{{.*}}()[%[[D1]]]
// CHECK: %[[R:.*]] = memref.reinterpret_cast %[[A]] to offset: [0], sizes: [%[[D0]], %[[D1]], 48], strides: [%[[STRIDE]], 48, 1] : memref<?x48xf32> to memref<?x?x48xf32>
// CHECK: memref.expand_shape %[[S]]
// CHECK: return %[[R]]
func.func @expand(%a: memref<?x48xf32>, %d0: index, %d1: index, %s: memref<6x48xf32>) -> (memref<?x?x48xf32>, memref<2x3x48xf32>) {
  %e = memref.expand_shape %a [[0, 1], [2]] output_shape [%d0, %d1, 48] : memref<?x48xf32> into memref<?x?x48xf32>
  %f = memref.expand_shape %s [[0, 1], [2]] output_shape [2, 3, 48] : memref<6x48xf32> into memref<2x3x48xf32>
  return %e, %f : memref<?x?x48xf32>, memref<2x3x48xf32>
}
