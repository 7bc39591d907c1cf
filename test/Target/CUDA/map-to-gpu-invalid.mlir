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


// -----

// A scalar read on the host for a kernel, but the buffer is written between the read and the
// kernel: the read cannot move into the kernel (it would see the new value).
#id = affine_map<(d0) -> (d0)>
func.func @host_load_clobbered(%a: memref<4xf32>, %b: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f32
  // expected-error @+1 {{the CUDA target cannot run 'memref.load' on the host: every buffer is in device memory}}
  %v = memref.load %a[%c0] : memref<4xf32>
  linalg.fill ins(%one : f32) outs(%a : memref<4xf32>)
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel"]} outs(%b : memref<4xf32>) {
  ^bb0(%o: f32):
    linalg.yield %v : f32
  }
  return
}
