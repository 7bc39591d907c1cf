// REQUIRES: mlir-runner
// sqz-cuda-expand-math's f64 exp and log (no libdevice: range reduction and series in f64)
// against the host's libm, bit for bit within 1 unit in the last place, on 4100 inputs: a
// linear sweep of [-750, 715] (exp's underflow to subnormals and 0, and overflow to inf) and
// a sweep of the positive doubles' bit patterns from 0 through the subnormals to inf, plus
// -1, -0, -inf and NaN. NaNs are compared as one canonical NaN. The NVVM floor intrinsic the
// expansion leaves becomes the host's (sqz-cuda-emulate-launches).
//
// DEFINE: %{lower} = convert-scf-to-cf,finalize-memref-to-llvm,convert-math-to-llvm,convert-arith-to-llvm,convert-index-to-llvm,convert-func-to-llvm,convert-cf-to-llvm,reconcile-unrealized-casts
// RUN: sqz-opt %s --pass-pipeline='builtin.module(func.func(sqz-cuda-expand-math,sqz-cuda-emulate-launches),%{lower})' \
// RUN:   | mlir-runner -e main -entry-point-result=void %mlir_runner_libs > %t.dev
// RUN: sqz-opt %s --pass-pipeline='builtin.module(%{lower})' \
// RUN:   | mlir-runner -e main -entry-point-result=void %mlir_runner_libs > %t.ref
// RUN: %python %S/Inputs/allclose.py %t.dev %t.ref --rtol 0 --atol 1 | FileCheck %s
// CHECK: allclose: 8208 numbers match

func.func private @printMemrefI64(memref<*xi64>)

func.func @apply(%x: memref<4100xf64>, %e: memref<4100xi64>, %l: memref<4100xi64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant 4100 : index
  %nan = arith.constant 0x7FF8000000000000 : f64
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %x[%i] : memref<4100xf64>
    %ex = math.exp %v : f64
    %lg = math.log %v : f64
    %exn = arith.cmpf uno, %ex, %ex : f64
    %lgn = arith.cmpf uno, %lg, %lg : f64
    %ex1 = arith.select %exn, %nan, %ex : f64
    %lg1 = arith.select %lgn, %nan, %lg : f64
    %exb = arith.bitcast %ex1 : f64 to i64
    %lgb = arith.bitcast %lg1 : f64 to i64
    memref.store %exb, %e[%i] : memref<4100xi64>
    memref.store %lgb, %l[%i] : memref<4100xi64>
  }
  return
}

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2048 = arith.constant 2048 : index
  %c4096 = arith.constant 4096 : index
  %x = memref.alloc() : memref<4100xf64>
  // [-750, 715] in 2048 steps.
  %lo = arith.constant -750.0 : f64
  %step = arith.constant 0.7153320312 : f64
  scf.for %i = %c0 to %c2048 step %c1 {
    %ii = arith.index_cast %i : index to i64
    %f = arith.sitofp %ii : i64 to f64
    %v = math.fma %f, %step, %lo : f64
    memref.store %v, %x[%i] : memref<4100xf64>
  }
  // Bit patterns 0, d, 2d, ... up to 0x7FF0000000000000 (inf), d = 0x7FF0000000000000 / 2047.
  %d = arith.constant 4501987289530225 : i64
  scf.for %i = %c0 to %c2048 step %c1 {
    %ii = arith.index_cast %i : index to i64
    %b = arith.muli %ii, %d : i64
    %j = arith.addi %i, %c2048 : index
    %v = arith.bitcast %b : i64 to f64
    memref.store %v, %x[%j] : memref<4100xf64>
  }
  %inf = arith.constant 0x7FF0000000000000 : f64
  %c4095 = arith.constant 4095 : index
  memref.store %inf, %x[%c4095] : memref<4100xf64>
  %m1 = arith.constant -1.0 : f64
  %m0 = arith.constant -0.0 : f64
  %minf = arith.constant 0xFFF0000000000000 : f64
  %nan = arith.constant 0x7FF8000000000000 : f64
  %c4097 = arith.constant 4097 : index
  %c4098 = arith.constant 4098 : index
  %c4099 = arith.constant 4099 : index
  memref.store %m1, %x[%c4096] : memref<4100xf64>
  memref.store %m0, %x[%c4097] : memref<4100xf64>
  memref.store %minf, %x[%c4098] : memref<4100xf64>
  memref.store %nan, %x[%c4099] : memref<4100xf64>
  %e = memref.alloc() : memref<4100xi64>
  %l = memref.alloc() : memref<4100xi64>
  call @apply(%x, %e, %l) : (memref<4100xf64>, memref<4100xi64>, memref<4100xi64>) -> ()
  %eu = memref.cast %e : memref<4100xi64> to memref<*xi64>
  %lu = memref.cast %l : memref<4100xi64> to memref<*xi64>
  call @printMemrefI64(%eu) : (memref<*xi64>) -> ()
  call @printMemrefI64(%lu) : (memref<*xi64>) -> ()
  return
}
