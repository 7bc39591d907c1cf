// RUN: sqz-opt %s --pass-pipeline='builtin.module(func.func(sqz-cuda-expand-math{libdevice-functions}),gpu.module(func.func(sqz-cuda-expand-math{libdevice-functions})),gpu.module(sqz-cuda-libdevice-calls))' | FileCheck %s

// sqz-cuda-expand-math{libdevice-functions} expands what it can (f32 tanh, f64 exp, f64
// sqrt) and leaves the f64 functions it has no code for; sqz-cuda-libdevice-calls makes
// those libdevice calls and leaves fma (an instruction) alone, f32 and f64.
// CHECK-LABEL: gpu.module @k
// CHECK-DAG: llvm.func @__nv_tanh(f64) -> f64
// CHECK-DAG: llvm.func @__nv_sin(f64) -> f64
// CHECK-DAG: llvm.func @__nv_erf(f64) -> f64
// CHECK-DAG: llvm.func @__nv_atan2(f64, f64) -> f64
// CHECK-LABEL: func.func @f
// CHECK-NOT: math.tanh
// CHECK: llvm.call @__nv_tanh(%arg0) : (f64) -> f64
// CHECK: llvm.call @__nv_sin(%arg0) : (f64) -> f64
// CHECK: llvm.call @__nv_erf(%arg0) : (f64) -> f64
// CHECK: llvm.call @__nv_atan2(%arg0, %arg0) : (f64, f64) -> f64
// CHECK: math.fma %arg0, %arg0, %arg0 : f64
// CHECK: math.fma %arg1, %arg1, %arg1 : f32
// CHECK-NOT: __nv_exp
// CHECK-NOT: __nv_sqrt
// CHECK-NOT: __nv_tanhf
// CHECK: return
gpu.module @k {
  func.func @f(%x: f64, %y: f32) -> (f64, f64, f64, f64, f64, f32, f32, f64, f64) {
    %a = math.tanh %x : f64
    %b = math.sin %x : f64
    %c = math.erf %x : f64
    %d = math.atan2 %x, %x : f64
    %e = math.fma %x, %x, %x : f64
    %f = math.fma %y, %y, %y : f32
    %g = math.tanh %y : f32
    %h = math.exp %x : f64
    %i = math.sqrt %x : f64
    return %a, %b, %c, %d, %e, %f, %g, %h, %i : f64, f64, f64, f64, f64, f32, f32, f64, f64
  }
}

