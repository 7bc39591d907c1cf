// RUN: sqz-opt %s --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(func.func(sqz-cuda-emulate-launches))'

func.func @nested_barrier(%a: memref<32xf32>, %p: i1) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    scf.if %p {
      // expected-error @+1 {{a block-wide synchronization inside 'scf.if' cannot be emulated (only at the top level of the gpu.launch body or in scf.for loops around it)}}
      gpu.barrier
    }
    gpu.terminator
  }
  return
}

// -----

func.func @shuffle(%a: memref<32xf32>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %w = arith.constant 32 : i32
  %o = arith.constant 1 : i32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<32xf32>
    // expected-error @+1 {{'gpu.shuffle' is not supported}}
    %s, %ok = gpu.shuffle xor %v, %o, %w : f32
    memref.store %s, %a[%tx] : memref<32xf32>
    gpu.terminator
  }
  return
}

// -----

func.func @region_reduce(%a: memref<32xf32>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<32xf32>
    // expected-error @+1 {{gpu.all_reduce with a custom combiner region is not supported}}
    %s = gpu.all_reduce %v {
    ^bb(%l: f32, %r: f32):
      %m = arith.addf %l, %r : f32
      gpu.yield %m : f32
    } : (f32) -> f32
    memref.store %s, %a[%tx] : memref<32xf32>
    gpu.terminator
  }
  return
}

// -----

func.func @memref_across(%a: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    // expected-error @+1 {{a value of type 'memref<32xf32, strided<[1], offset: ?>>' is used across a block-wide synchronization}}
    %view = memref.subview %a[%tx] [32] [1] : memref<64xf32> to memref<32xf32, strided<[1], offset: ?>>
    gpu.barrier
    %v = memref.load %view[%tx] : memref<32xf32, strided<[1], offset: ?>>
    memref.store %v, %a[%tx] : memref<64xf32>
    gpu.terminator
  }
  return
}

// -----

func.func @thread_bound_loop(%a: memref<32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    // expected-error @+1 {{a loop that contains a block-wide synchronization must have bounds that are the same for every thread}}
    scf.for %i = %c0 to %tx step %c1 {
      gpu.barrier
    }
    gpu.terminator
  }
  return
}

// -----

func.func @memref_iter(%a: memref<32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    // expected-error @+1 {{a value of type 'memref<32xf32>' is used across a block-wide synchronization}}
    %r = scf.for %i = %c0 to %c32 step %c1 iter_args(%m = %a) -> (memref<32xf32>) {
      gpu.barrier
      scf.yield %m : memref<32xf32>
    }
    gpu.terminator
  }
  return
}

// -----

func.func @bad_intrinsic(%x: f32) -> f32 {
  // expected-error @+1 {{no host equivalent of 'llvm.nvvm.ex2.approx.f'}}
  %y = llvm.call_intrinsic "llvm.nvvm.ex2.approx.f"(%x) : (f32) -> f32
  return %y : f32
}
