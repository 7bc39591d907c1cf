// RUN: sqz-opt %s --split-input-file --sqz-cuda-expand-math --verify-diagnostics

// Every scalar f64 function has code of its own (expand-math-f64-*-run.mlir); an op no
// expansion knows (math.sincos, f64 vectors) is an error naming it.
func.func @f64_sincos(%x: f64) -> (f64, f64) {
  // expected-error @+1 {{the CUDA target has no device code for 'math.sincos' on 'f64' (supported: f32, f16/bf16 computed in f32, and scalar f64 functions; docs/CUDA.md, "Math functions")}}
  %s, %c = math.sincos %x : f64
  return %s, %c : f64, f64
}

// -----

// f64 vectors: the f64 code is scalar.
func.func @f64_vector_tanh(%x: vector<4xf64>) -> vector<4xf64> {
  // expected-error @+1 {{no device code for 'math.tanh' on 'vector<4xf64>'}}
  %0 = math.tanh %x : vector<4xf64>
  return %0 : vector<4xf64>
}
