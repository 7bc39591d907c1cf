// RUN: sqz-opt %s --sqz-cuda-expand-math --verify-diagnostics

// The polynomials are f32 only and f64 has exp and log expansions only: another f64
// transcendental function would need libdevice (libdevice-calls.mlir: with
// libdevice-functions it stays).
func.func @f64_tanh(%x: f64) -> f64 {
  // expected-error @+1 {{the CUDA target has no libdevice-free code for 'math.tanh' on 'f64' (supported: f32, f16/bf16 computed in f32, and exp, log, log2, log10, exp2, pow, sinh, cosh, asinh, acosh and atanh on f64; docs/CUDA.md; libdevice would provide it: sqz-compile --libdevice=<CUDA>/nvvm/libdevice/libdevice.10.bc)}}
  %0 = math.tanh %x : f64
  return %0 : f64
}
