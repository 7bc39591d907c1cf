module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @add(%a: memref<16xf32>, %b: memref<16xf32>) kernel {
      %tid = gpu.thread_id x
      %x = memref.load %a[%tid] : memref<16xf32>
      memref.store %x, %b[%tid] : memref<16xf32>
      gpu.return
    }
  }
  func.func @entry(%in: memref<16xf32>, %out: memref<16xf32>) {
    %c1 = arith.constant 1 : index
    %c16 = arith.constant 16 : index
    %t = gpu.wait async
    %buf, %t2 = gpu.alloc async [%t] () : memref<16xf32>
    %t3 = gpu.memcpy async [%t2] %buf, %in : memref<16xf32>, memref<16xf32>
    %t4 = gpu.launch_func async [%t3] @kernels::@add blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%buf : memref<16xf32>, %out : memref<16xf32>)
    %t5 = gpu.dealloc async [%t4] %buf : memref<16xf32>
    gpu.wait [%t5]
    return
  }
  func.func @sync(%in: memref<16xf32>, %out: memref<16xf32>) {
    %c1 = arith.constant 1 : index
    %c16 = arith.constant 16 : index
    %buf = gpu.alloc () : memref<16xf32>
    gpu.memcpy %buf, %in : memref<16xf32>, memref<16xf32>
    %c0 = arith.constant 0.0 : f32
    %s = arith.constant 64 : i32
    gpu.memset %buf, %c0 : memref<16xf32>, f32
    gpu.launch_func @kernels::@add blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) dynamic_shared_memory_size %s args(%buf : memref<16xf32>, %out : memref<16xf32>)
    gpu.dealloc %buf : memref<16xf32>
    return
  }
}
