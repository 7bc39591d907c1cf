// RUN: sqz-opt %s --sqz-lower-to-cuda="kernels=false" | FileCheck %s
// RUN: sqz-opt %s --sqz-lower-to-cuda="chip=sm_90 serialize=false kernels=false" | FileCheck %s --check-prefix=NVVM
// RUN: sqz-opt %s --sqz-lower-to-cuda="weights-file=%t.safetensors" | FileCheck %s --check-prefix=KERNELS
// RUN: not sqz-opt %s --sqz-lower-to-cuda="chip=sm_70" 2>&1 | FileCheck %s --check-prefix=BADCHIP

// A linear, erf and a softmax end as host code in the LLVM dialect that allocates on the
// device, launches the kernels of one PTX module and has the artifact C ABI; the linear's
// dot products and the softmax's row max and sum are block reductions. The call runs on one
// stream (gpu-async-region): allocations, launches and frees are queued on it in order and it
// is synchronized once, at the end.
// CHECK-NOT: linalg.
// CHECK-NOT: memref.
// CHECK-LABEL: llvm.func internal @main(
// CHECK-SAME: %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// CHECK: %[[S:.*]] = llvm.call @mgpuStreamCreate()
// CHECK-NOT: mgpuStreamCreate
// CHECK-NOT: mgpuStreamSynchronize
// CHECK: llvm.call @mgpuMemAlloc(%{{.*}}, %[[S]], %{{.*}})
// CHECK-NOT: mgpuStreamSynchronize
// CHECK: gpu.launch_func <%[[S]] : !llvm.ptr> @main_kernel::@main_kernel
// CHECK-NOT: mgpuStreamSynchronize
// CHECK: llvm.call @mgpuMemFree(%{{.*}}, %[[S]])
// CHECK: llvm.call @mgpuStreamSynchronize(%[[S]])
// CHECK-NEXT: llvm.call @mgpuStreamDestroy(%[[S]])
// CHECK-NOT: mgpuStreamCreate
// CHECK: llvm.return
// CHECK: gpu.binary @main_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_80", features = "+ptx78">, assembly = "
// CHECK-SAME: .entry main_kernel(
// CHECK-SAME: shfl.sync.bfly.b32
// CHECK-DAG: llvm.func @mgpuMemAlloc(i64, !llvm.ptr, i8) -> !llvm.ptr
// CHECK-DAG: llvm.func @mgpuMemFree(!llvm.ptr, !llvm.ptr)
// CHECK-LABEL: llvm.func @sqz_model_invoke(
// CHECK-NOT: __nv_

// NVVM: gpu.module @main_kernel
// NVVM: llvm.func @main_kernel(
// NVVM-SAME: gpu.kernel
// NVVM: nvvm.shfl.sync bfly
// NVVM: nvvm.barrier

// With the CUDA kernels (the default) the linear is packed to fp16 and launched as the f16
// kernel, whose bitcode is linked into the one PTX module (PTX ISA 8.0).
// KERNELS: gpu.binary @sqz_cuda_kernels {{ *}}[#gpu.object<#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">, assembly = "
// KERNELS-SAME: .entry sqz_cuda_kernels(
// KERNELS-SAME: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// KERNELS: gpu.launch_func <%{{.*}} : !llvm.ptr> @sqz_cuda_kernels::@sqz_cuda_kernels blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) : i64 dynamic_shared_memory_size %{{.*}} args(%{{.*}} : i64, %{{.*}} : i64, %{{.*}} : i64, %{{.*}} : i64, %{{.*}} : i64, %{{.*}} : i64, %{{.*}} : i64)

// BADCHIP: error: unknown GPU architecture 'sm_70' (expected one of sm_80, sm_90, sm_90a)
#x3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#r3 = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @main(%x: tensor<2x3x16xf32> {sqz.name = "x"}) -> (tensor<2x3x8xf32> {sqz.name = "y"}) {
  %w = arith.constant dense<0.5> : tensor<8x16xf32>
  %b = arith.constant dense<1.0> : tensor<8xf32>
  %y = sqz.linear %x, %w, %b : tensor<2x3x16xf32>, tensor<8x16xf32>, tensor<8xf32> -> tensor<2x3x8xf32>
  %e = math.erf %y : tensor<2x3x8xf32>
  // softmax over the last dim
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x3xf32>
  %mfill = linalg.fill ins(%ninf : f32) outs(%empty : tensor<2x3xf32>) -> tensor<2x3xf32>
  %max = linalg.reduce ins(%e : tensor<2x3x8xf32>) outs(%mfill : tensor<2x3xf32>) dimensions = [2]
    (%in: f32, %acc: f32) {
      %m = arith.maximumf %in, %acc : f32
      linalg.yield %m : f32
    }
  %eempty = tensor.empty() : tensor<2x3x8xf32>
  %ex = linalg.generic {indexing_maps = [#x3, #r3, #x3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%e, %max : tensor<2x3x8xf32>, tensor<2x3xf32>) outs(%eempty : tensor<2x3x8xf32>) {
  ^bb0(%v: f32, %mx: f32, %o: f32):
    %d = arith.subf %v, %mx : f32
    %t = math.exp %d : f32
    linalg.yield %t : f32
  } -> tensor<2x3x8xf32>
  %sfill = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x3xf32>) -> tensor<2x3xf32>
  %sum = linalg.reduce ins(%ex : tensor<2x3x8xf32>) outs(%sfill : tensor<2x3xf32>) dimensions = [2]
    (%in: f32, %acc: f32) {
      %a = arith.addf %in, %acc : f32
      linalg.yield %a : f32
    }
  %s = linalg.generic {indexing_maps = [#x3, #r3, #x3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ex, %sum : tensor<2x3x8xf32>, tensor<2x3xf32>) outs(%eempty : tensor<2x3x8xf32>) {
  ^bb0(%v: f32, %sm: f32, %o: f32):
    %q = arith.divf %v, %sm : f32
    linalg.yield %q : f32
  } -> tensor<2x3x8xf32>
  return %s : tensor<2x3x8xf32>
}
