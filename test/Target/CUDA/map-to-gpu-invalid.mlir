// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cuda-map-to-gpu))' --verify-diagnostics

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

// -----

// The kernel that uses the scalar also writes the buffer it comes from (in place): inside
// the kernel a thread could read an element another thread has already written.
#id2 = affine_map<(d0) -> (d0)>
func.func @host_load_written_by_user(%x: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{the CUDA target cannot run 'memref.load' on the host: every buffer is in device memory}}
  %s = memref.load %x[%c0] : memref<4xf32>
  linalg.generic {indexing_maps = [#id2], iterator_types = ["parallel"]} outs(%x : memref<4xf32>) {
  ^bb0(%o: f32):
    %d = arith.subf %o, %s : f32
    linalg.yield %d : f32
  }
  return
}

// -----

func.func private @k(i64)
func.func @launch_without_kernel(%a: i64) {
  // expected-error @+1 {{malformed CUDA kernel launch (expected sqz.cuda_kernel and, with a grid x of -1, grid x as the first operand)}}
  call @k(%a) {sqz.cuda_launch = array<i64: 3, 2, 1, 128, 1, 1, 64>} : (i64) -> ()
  return
}
