// RUN: sqz-opt %s --split-input-file --sqz-cpu-prepare-entry --verify-diagnostics | FileCheck %s

// Inputs are caller-owned: bufferization must not write them in place.
// CHECK-LABEL: func.func @main
// CHECK-SAME: %{{.*}}: tensor<4xf32> {bufferization.writable = false, sqz.name = "a"}
// CHECK-SAME: %{{.*}}: tensor<4xf32> {bufferization.writable = false}
func.func @main(%a: tensor<4xf32> {sqz.name = "a"}, %b: tensor<4xf32>) -> tensor<4xf32> {
  return %a : tensor<4xf32>
}

// -----

// expected-error @+1 {{entry function 'main' not found}}
module {
  func.func @other() {
    return
  }
}

// -----

// expected-error @+1 {{entry function argument #0 must be a statically shaped tensor, got 'tensor<?x4xf32>'}}
func.func @main(%a: tensor<?x4xf32>) -> tensor<?x4xf32> {
  return %a : tensor<?x4xf32>
}

// -----

// expected-error @+1 {{entry function result #0 must be a statically shaped tensor, got 'f32'}}
func.func @main(%a: tensor<4xf32>) -> f32 {
  %c = arith.constant 0 : index
  %e = tensor.extract %a[%c] : tensor<4xf32>
  return %e : f32
}

// -----

// expected-error @+1 {{entry function argument #0 has no elements ('tensor<0x4xf32>'); empty inputs and outputs are not supported}}
func.func @main(%a: tensor<0x4xf32>) -> tensor<0x4xf32> {
  return %a : tensor<0x4xf32>
}
