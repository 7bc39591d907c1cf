module attributes {gpu.container_module} {
  gpu.module @k2 {
    gpu.func @nop(%a: memref<16xf32>) kernel attributes {known_cluster_size = array<i32: 1, 1, 1>} {
      gpu.return
    }
  }
  func.func @ev(%in: memref<16xf32>) {
    %c1 = arith.constant 1 : index
    %t0 = gpu.wait async
    %t1 = gpu.wait async
    %a = gpu.launch_func async [%t0] @k2::@nop blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%in : memref<16xf32>)
    %b = gpu.launch_func async [%t1] @k2::@nop blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%in : memref<16xf32>)
    %j = gpu.wait async [%a, %b]
    %c = gpu.launch_func async [%j] @k2::@nop clusters in (%c1, %c1, %c1) blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%in : memref<16xf32>)
    gpu.wait [%c]
    %t9 = gpu.wait async
    %d, %t10 = gpu.alloc async [%t9] () : memref<16xf32>
    %h = arith.constant 0 : i16
    %e, %t11 = gpu.alloc async [%t10] () : memref<16xi16>
    %t12 = gpu.memset async [%t11] %e, %h : memref<16xi16>, i16
    gpu.wait [%t12]
    return
  }
}
