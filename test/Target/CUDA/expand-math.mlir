// RUN: sqz-opt %s --sqz-cuda-expand-math | FileCheck %s
// RUN: sqz-opt %s --sqz-cuda-expand-math | FileCheck %s --check-prefix=LEFT

// Only fma is left of the math dialect (llvm.fma: fma.rn.f32).
// LEFT-NOT: math.{{[a-eg-z]}}

// Transcendental functions become polynomials and arithmetic (no libdevice call can be
// needed later); sqrt becomes the NVVM intrinsic (sqrt.rn.f32), fabs a sign-bit mask, and
// f16 is computed in f32.
// CHECK-LABEL: func.func @math
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK-NOT: math.erf
// CHECK-NOT: math.log
// CHECK-NOT: math.powf
// CHECK-NOT: math.rsqrt
// CHECK-NOT: math.sin
// CHECK-NOT: math.cos
// CHECK-NOT: math.sqrt
// CHECK-NOT: math.absf
// CHECK-DAG: llvm.call_intrinsic "llvm.nvvm.sqrt.rn.f"(%arg0) : (f32) -> f32
// CHECK-DAG: arith.andi %{{.*}}, %{{.*}} : i32
// CHECK-DAG: arith.extf %arg1 : f16 to f32
// CHECK-DAG: arith.ori %{{.*}}, %{{.*}} : i32
// CHECK-DAG: llvm.call_intrinsic "llvm.nvvm.trunc.f"
// CHECK-NOT: math.log10
// CHECK-NOT: math.copysign
// CHECK-NOT: arith.remf
// CHECK: return
func.func @math(%x: f32, %h: f16) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f16, f32, f32, f32) {
  %0 = math.exp %x : f32
  %1 = math.tanh %x : f32
  %2 = math.erf %x : f32
  %3 = math.log %x : f32
  %4 = math.powf %x, %x : f32
  %5 = math.rsqrt %x : f32
  %6 = math.sin %x : f32
  %7 = math.cos %x : f32
  %8 = math.sqrt %x : f32
  %9 = math.absf %x : f32
  %10 = math.exp %h : f16
  %11 = math.log10 %x : f32
  %12 = math.copysign %x, %x : f32
  %13 = arith.remf %x, %x : f32
  return %0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13 : f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f16, f32, f32, f32
}

// f64 sqrt, floor and fabs have PTX instructions.
// CHECK-LABEL: func.func @f64
// CHECK-DAG: llvm.call_intrinsic "llvm.nvvm.sqrt.rn.d"(%arg0) : (f64) -> f64
// CHECK-DAG: llvm.call_intrinsic "llvm.nvvm.floor.d"(%arg0) : (f64) -> f64
// CHECK-DAG: arith.andi %{{.*}}, %{{.*}} : i64
func.func @f64(%x: f64) -> (f64, f64, f64) {
  %0 = math.sqrt %x : f64
  %1 = math.floor %x : f64
  %2 = math.absf %x : f64
  return %0, %1, %2 : f64, f64, f64
}

// f64 exp, log, log2, log10, exp2 and pow: range reduction and series in f64 (fma chains, the
// exponent through the i64 bits), no math function left (expand-math-f64-run.mlir checks the
// values against libm).
// CHECK-LABEL: func.func @f64_exp_log
// CHECK-DAG: math.fma %{{.*}} : f64
// CHECK-DAG: arith.shli %{{.*}} : i64
// CHECK-DAG: arith.shrui %{{.*}} : i64
// CHECK-DAG: arith.divf %{{.*}} : f64
// CHECK-NOT: math.exp
// CHECK-NOT: math.log
// CHECK-NOT: math.powf
// CHECK: return
func.func @f64_exp_log(%x: f64, %y: f64) -> (f64, f64, f64, f64, f64, f64) {
  %0 = math.exp %x : f64
  %1 = math.log %x : f64
  %2 = math.log2 %x : f64
  %3 = math.log10 %x : f64
  %4 = math.exp2 %x : f64
  %5 = math.powf %x, %y : f64
  return %0, %1, %2, %3, %4, %5 : f64, f64, f64, f64, f64, f64
}
