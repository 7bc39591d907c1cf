// RUN: sqz-opt %s --split-input-file --sqz-cpu-prepare-entry --verify-diagnostics | FileCheck %s

// Inputs are caller-owned: bufferization must not write them in place. A static model gets
// no output-shape function (ABI 1/2).
// CHECK-NOT: sqz.dynamic_shapes
// CHECK-LABEL: func.func @main
// CHECK-SAME: %{{.*}}: tensor<4xf32> {bufferization.writable = false, sqz.name = "a"}
// CHECK-SAME: %{{.*}}: tensor<4xf32> {bufferization.writable = false}
// CHECK-NOT: sqz_model_output_shapes
func.func @main(%a: tensor<4xf32> {sqz.name = "a"}, %b: tensor<4xf32>) -> tensor<4xf32> {
  return %a : tensor<4xf32>
}

// -----

// A dynamic model (ABI 3): the output-shape function reads the input dims it needs from
// input_shapes (a: dims 0-1, b: dims 2-3) once each, computes the concatenation's rows and
// the collapsed size, and writes every output dim (static ones as constants).
// CHECK-DAG: #[[$SUM:.*]] = affine_map<()[s0, s1] -> (s0 + s1)>
// CHECK-DAG: #[[$MUL:.*]] = affine_map<()[s0] -> (s0 * 2)>
// CHECK: module attributes {sqz.dynamic_shapes, sqz.output_max_shapes = [array<i64: -1, 4>, array<i64: -1>, array<i64: 3>]}
// CHECK-LABEL: func.func @main
// CHECK-SAME: tensor<?x4xf32> {bufferization.writable = false, sqz.name = "a"}
// CHECK: tensor.concat
// CHECK-LABEL: func.func @sqz_model_output_shapes
// CHECK-SAME: (%[[IN:.*]]: !llvm.ptr, %[[OUT:.*]]: !llvm.ptr)
// CHECK-NOT: tensor.
// CHECK-DAG: %[[P0:.*]] = llvm.getelementptr %[[IN]][0] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK-DAG: %[[A0:.*]] = llvm.load %[[P0]] : !llvm.ptr -> i64
// CHECK-DAG: %[[A0I:.*]] = arith.index_cast %[[A0]] : i64 to index
// CHECK-DAG: %[[P3:.*]] = llvm.getelementptr %[[IN]][3] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK-DAG: %[[B1:.*]] = llvm.load %[[P3]] : !llvm.ptr -> i64
// CHECK-DAG: %[[B1I:.*]] = arith.index_cast %[[B1]] : i64 to index
// CHECK-DAG: %[[ROWS:.*]] = affine.apply #[[$SUM]]()[%[[A0I]], %[[A0I]]]
// CHECK-DAG: %[[FLAT:.*]] = affine.apply #[[$MUL]]()[%[[B1I]]]
// CHECK: %[[ROWS64:.*]] = arith.index_cast %[[ROWS]] : index to i64
// CHECK: %[[Q0:.*]] = llvm.getelementptr %[[OUT]][0]
// CHECK: llvm.store %[[ROWS64]], %[[Q0]]
// CHECK: %[[C4:.*]] = arith.constant 4 : i64
// CHECK: %[[Q1:.*]] = llvm.getelementptr %[[OUT]][1]
// CHECK: llvm.store %[[C4]], %[[Q1]]
// CHECK: %[[FLAT64:.*]] = arith.index_cast %[[FLAT]] : index to i64
// CHECK: %[[Q2:.*]] = llvm.getelementptr %[[OUT]][2]
// CHECK: llvm.store %[[FLAT64]], %[[Q2]]
// CHECK: %[[C3:.*]] = arith.constant 3 : i64
// CHECK: %[[Q3:.*]] = llvm.getelementptr %[[OUT]][3]
// CHECK: llvm.store %[[C3]], %[[Q3]]
// CHECK: return
func.func @main(%a: tensor<?x4xf32> {sqz.name = "a"}, %b: tensor<2x?xf32> {sqz.name = "b"})
    -> (tensor<?x4xf32> {sqz.name = "y"}, tensor<?xf32> {sqz.name = "z"}, tensor<3xf32>) {
  %c = tensor.concat dim(0) %a, %a : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %col = tensor.collapse_shape %b [[0, 1]] : tensor<2x?xf32> into tensor<?xf32>
  %k = arith.constant dense<1.0> : tensor<3xf32>
  return %c, %col, %k : tensor<?x4xf32>, tensor<?xf32>, tensor<3xf32>
}

// -----

// Dims resolve through linalg ops (their inits) and tensor.empty; zero-size static dims are
// allowed in ABI 3.
// CHECK-LABEL: func.func @sqz_model_output_shapes
// CHECK-SAME: (%[[IN:.*]]: !llvm.ptr, %[[OUT:.*]]: !llvm.ptr)
// CHECK: %[[P:.*]] = llvm.getelementptr %[[IN]][1]
// CHECK: %[[D:.*]] = llvm.load %[[P]]
// CHECK: %[[DI:.*]] = arith.index_cast %[[D]] : i64 to index
// CHECK: %[[Z:.*]] = arith.constant 0 : i64
// CHECK: %[[Q0:.*]] = llvm.getelementptr %[[OUT]][0]
// CHECK: llvm.store %[[Z]], %[[Q0]]
// CHECK: %[[D64:.*]] = arith.index_cast %[[DI]] : index to i64
// CHECK: %[[Q1:.*]] = llvm.getelementptr %[[OUT]][1]
// CHECK: llvm.store %[[D64]], %[[Q1]]
func.func @main(%x: tensor<0x?xf32> {sqz.name = "x"}) -> (tensor<0x?xf32> {sqz.name = "y"}) {
  %c1 = arith.constant 1 : index
  %n = tensor.dim %x, %c1 : tensor<0x?xf32>
  %e = tensor.empty(%n) : tensor<0x?xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<0x?xf32>) outs(%e : tensor<0x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.negf %a : f32
    linalg.yield %r : f32
  } -> tensor<0x?xf32>
  return %y : tensor<0x?xf32>
}

// -----

// Output dims are bounded from the inputs' sqz.max_shape bounds and static dims (the
// manifest's max_shape): present = past (<= 64) + new (<= 16), flat = 2 * n (n unbounded),
// row = new flattened (<= 16 * 8).
// CHECK: module attributes {sqz.dynamic_shapes, sqz.output_max_shapes = [array<i64: 1, 80, 8>, array<i64: -1>, array<i64: 128>]}
func.func @main(%past: tensor<1x?x8xf32> {sqz.name = "past", sqz.max_shape = array<i64: 1, 64, 8>},
                %new: tensor<1x?x8xf32> {sqz.name = "new", sqz.max_shape = array<i64: 1, 16, 8>},
                %b: tensor<2x?xf32> {sqz.name = "b"})
    -> (tensor<1x?x8xf32> {sqz.name = "present"}, tensor<?xf32> {sqz.name = "flat"},
        tensor<?xf32> {sqz.name = "row"}) {
  %p = tensor.concat dim(1) %past, %new : (tensor<1x?x8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  %flat = tensor.collapse_shape %b [[0, 1]] : tensor<2x?xf32> into tensor<?xf32>
  %row = tensor.collapse_shape %new [[0, 1, 2]] : tensor<1x?x8xf32> into tensor<?xf32>
  return %p, %flat, %row : tensor<1x?x8xf32>, tensor<?xf32>, tensor<?xf32>
}

// -----

// An output whose size is read from an input tensor cannot get an output-shape function.
// expected-error @+1 {{output 'y' dim 0 depends on input values; dynamic output shapes must follow from input shapes (it is computed by 'tensor.extract')}}
func.func @main(%n: tensor<1xi64> {sqz.name = "n"}, %x: tensor<?xf32> {sqz.name = "x"})
    -> (tensor<?xf32> {sqz.name = "y"}, tensor<?xf32> {sqz.name = "x_out"}) {
  %c0 = arith.constant 0 : index
  %v = tensor.extract %n[%c0] : tensor<1xi64>
  %i = arith.index_cast %v : i64 to index
  %e = tensor.empty(%i) : tensor<?xf32>
  %z = arith.constant 0.0 : f32
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  return %f, %x : tensor<?xf32>, tensor<?xf32>
}

// -----

// expected-error @+1 {{entry function 'main' not found}}
module {
  func.func @other() {
    return
  }
}

// -----

// expected-error @+1 {{entry function argument #0 must be a ranked tensor, got 'tensor<*xf32>'}}
func.func @main(%a: tensor<*xf32>) -> tensor<4xf32> {
  %c = tensor.cast %a : tensor<*xf32> to tensor<4xf32>
  return %c : tensor<4xf32>
}

// -----

// expected-error @+1 {{entry function result #0 must be a ranked tensor, got 'f32'}}
func.func @main(%a: tensor<4xf32>) -> f32 {
  %c = arith.constant 0 : index
  %e = tensor.extract %a[%c] : tensor<4xf32>
  return %e : f32
}

// -----

// expected-error @+1 {{entry function argument #0 has no elements ('tensor<0x4xf32>'); empty inputs and outputs of statically shaped models are not supported}}
func.func @main(%a: tensor<0x4xf32>) -> tensor<0x4xf32> {
  return %a : tensor<0x4xf32>
}
