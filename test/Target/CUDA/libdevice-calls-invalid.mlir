// RUN: sqz-opt %s --verify-diagnostics --pass-pipeline='builtin.module(gpu.module(sqz-cuda-libdevice-calls))'

// A math op on f64 with no libdevice function (sqz-cuda-expand-math turns trunc into an
// NVVM intrinsic first in the pipeline).
gpu.module @k {
  func.func @f(%x: f64) -> f64 {
    // expected-error @+2 {{no libdevice function for 'math.trunc' on f64}}
    // expected-error @+1 {{failed to legalize operation 'math.trunc'}}
    %a = math.trunc %x : f64
    return %a : f64
  }
}
