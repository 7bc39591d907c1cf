// RUN: sqz-opt %s --split-input-file --sqz-cuda-expand-math --verify-diagnostics

// Every scalar f64 function has code of its own (expand-math-f64-*-run.mlir); an op the
// expansions do not know (math.sincos) would need libdevice (libdevice-calls.mlir: with
// libdevice-functions it stays).
func.func @f64_sincos(%x: f64) -> (f64, f64) {
  // expected-error @+1 {{the CUDA target has no libdevice-free code for 'math.sincos' on 'f64' (supported: f32, f16/bf16 computed in f32, and scalar f64 functions; docs/CUDA.md; libdevice would provide it: sqz-compile --libdevice=<CUDA>/nvvm/libdevice/libdevice.10.bc)}}
  %s, %c = math.sincos %x : f64
  return %s, %c : f64, f64
}

// -----

// f64 vectors: the f64 code is scalar.
func.func @f64_vector_tanh(%x: vector<4xf64>) -> vector<4xf64> {
  // expected-error @+1 {{no libdevice-free code for 'math.tanh' on 'vector<4xf64>'}}
  %0 = math.tanh %x : vector<4xf64>
  return %0 : vector<4xf64>
}
