// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cuda-map-to-gpu))' --verify-diagnostics

func.func @dynamic(%a: memref<?xf32>, %b: memref<?xf32>) {
  // expected-error @+1 {{the CUDA target does not support dynamic shapes yet}}
  linalg.copy ins(%a : memref<?xf32>) outs(%b : memref<?xf32>)
  return
}

// -----

func.func @host_load(%a: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{the CUDA target cannot run 'memref.load' on the host: every buffer is in device memory}}
  %v = memref.load %a[%c0] : memref<4xf32>
  return %v : f32
}

