// RUN: sqz-opt %s --sqz-cuda-expand-math --verify-diagnostics

// The polynomials are f32 only: an f64 transcendental function would need libdevice.
func.func @f64_exp(%x: f64) -> f64 {
  // expected-error @+1 {{the CUDA target has no libdevice-free code for 'math.exp' on 'f64' (supported: f32, and f16/bf16 computed in f32; docs/CUDA.md)}}
  %0 = math.exp %x : f64
  return %0 : f64
}
