// RUN: sqz-opt %s --split-input-file --sqz-cuda-check-entry --verify-diagnostics

// A statically shaped entry passes.
func.func @main(%a: tensor<1x4xf32> {sqz.name = "x"}) -> (tensor<1x4xf32> {sqz.name = "y"}) {
  return %a : tensor<1x4xf32>
}

// -----

// expected-error @+2 {{the CUDA target does not support dynamic shapes yet: input 'input_ids' has type 'tensor<1x?xi64>' (pin the shapes of an ONNX model's inputs with --input-shape)}}
// expected-error @+1 {{output #0 has type 'tensor<1x?xi64>'}}
func.func @main(%a: tensor<1x?xi64> {sqz.name = "input_ids"}) -> tensor<1x?xi64> {
  return %a : tensor<1x?xi64>
}

// -----

// expected-error @+1 {{entry function 'main' not found}}
module {
  func.func @other() {
    return
  }
}
