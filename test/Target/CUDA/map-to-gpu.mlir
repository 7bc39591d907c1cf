// RUN: sqz-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sqz-cuda-map-to-gpu))' | FileCheck %s

// Elementwise: one thread per output element, 256 threads a block, a bounds check, the
// payload between the loads and the store.
// CHECK-LABEL: func.func @add
// CHECK-DAG: %[[C3:.*]] = arith.constant 3 : index
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C3]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256]],
// CHECK: %[[LIN:.*]] = arith.addi %{{.*}}, %[[TX]] : index
// CHECK: %[[IN:.*]] = arith.cmpi ult, %[[LIN]], %{{.*}} : index
// CHECK: scf.if %[[IN]] {
// CHECK: memref.load %arg0
// CHECK: memref.load %arg1
// CHECK: arith.addf
// CHECK: memref.store
// CHECK: gpu.terminator
// CHECK-NOT: linalg.
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @add(%a: memref<20x33xf32>, %b: memref<20x33xf32>, %c: memref<20x33xf32>) {
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : memref<20x33xf32>, memref<20x33xf32>) outs(%c : memref<20x33xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A row reduction (softmax's max): one block per row, 64 threads (the next power of two of
// the 33 points), strided partial maxima from -inf, a block-wide gpu.all_reduce and thread 0
// folding the total into the output.
// CHECK-LABEL: func.func @row_max
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK-DAG: %[[C64:.*]] = arith.constant 64 : index
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C8]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C64]],
// CHECK: %[[NEG:.*]] = arith.constant 0xFF800000 : f32
// CHECK: %[[PART:.*]] = scf.for %{{.*}} = %[[TX]] to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %[[NEG]]) -> (f32) {
// CHECK: memref.load %arg0
// CHECK: arith.maximumf
// CHECK: %[[TOT:.*]] = gpu.all_reduce maximumf %[[PART]] uniform
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[TX]]
// CHECK: scf.if %[[FIRST]] {
// CHECK: %[[OLD:.*]] = memref.load %arg1
// CHECK: %[[NEW:.*]] = arith.maximumf %[[TOT]], %[[OLD]] : f32
// CHECK: memref.store %[[NEW]], %arg1
func.func @row_max(%a: memref<8x33xf32>, %out: memref<8xf32>) {
  linalg.reduce ins(%a : memref<8x33xf32>) outs(%out : memref<8xf32>) dimensions = [1]
    (%in: f32, %init: f32) {
      %m = arith.maximumf %in, %init : f32
      linalg.yield %m : f32
    }
  return
}

// -----

// A batch matmul: a block per output element reduces over k (a dot product) with adds.
// CHECK-LABEL: func.func @bmm
// CHECK: gpu.launch
// CHECK: scf.for
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: gpu.all_reduce add
func.func @bmm(%a: memref<2x4x64xf32>, %b: memref<2x64x8xf32>, %c: memref<2x4x8xf32>) {
  linalg.batch_matmul ins(%a, %b : memref<2x4x64xf32>, memref<2x64x8xf32>)
                      outs(%c : memref<2x4x8xf32>)
  return
}

// -----

// A fill (scalar input), a copy (strided source) and linalg.index all map per element; a
// reduction over fewer than min-block-reduce points, or with two outputs, is sequential in
// each thread.
// CHECK-LABEL: func.func @misc
// CHECK: gpu.launch
// CHECK: memref.store %arg2, %arg1
// CHECK: gpu.launch
// CHECK: memref.load %{{.*}} : memref<4x4xf32, strided<[8, 1]>>
// CHECK: gpu.launch
// CHECK: arith.index_cast
// CHECK: gpu.launch
// CHECK: scf.for {{.*}} iter_args
// CHECK-NOT: gpu.all_reduce
// CHECK: return
#r = affine_map<(d0, d1) -> (d0)>
#i2 = affine_map<(d0, d1) -> (d0, d1)>
func.func @misc(%a: memref<4x8xf32>, %b: memref<4x4xf32>, %v: f32, %s: memref<4xf32>) {
  linalg.fill ins(%v : f32) outs(%b : memref<4x4xf32>)
  %sub = memref.subview %a[0, 0] [4, 4] [1, 1] : memref<4x8xf32> to memref<4x4xf32, strided<[8, 1]>>
  memref.copy %sub, %b : memref<4x4xf32, strided<[8, 1]>> to memref<4x4xf32>
  linalg.generic {indexing_maps = [#i2], iterator_types = ["parallel", "parallel"]}
      outs(%b : memref<4x4xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 1 : index
    %ii = arith.index_cast %i : index to i32
    %f = arith.sitofp %ii : i32 to f32
    linalg.yield %f : f32
  }
  linalg.generic {indexing_maps = [#i2, #r], iterator_types = ["parallel", "reduction"]}
      ins(%b : memref<4x4xf32>) outs(%s : memref<4xf32>) {
  ^bb0(%x: f32, %o: f32):
    %t = arith.addf %x, %o : f32
    linalg.yield %t : f32
  }
  return
}

// -----

// A full reduction to a rank-0 buffer is one block; a transpose iterates over its output
// (contiguous stores) and reads the input through the permuted map.
// CHECK-LABEL: func.func @full_and_transpose
// CHECK: %[[G1:.*]] = arith.constant 1 : index
// CHECK: %[[C128:.*]] = arith.constant 128 : index
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[G1]]{{(_[0-9]+)?}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C128]],
// CHECK: gpu.all_reduce add
// CHECK: memref.load %arg1[] : memref<f32>
// CHECK: memref.store %{{.*}}, %arg1[] : memref<f32>
// CHECK: gpu.launch
// CHECK: %[[J:.*]] = arith.remui
// CHECK: %[[I:.*]] = arith.divui
// CHECK: %[[V:.*]] = memref.load %arg0[%[[J]], %[[I]]] : memref<10x12xf32>
// CHECK: memref.store %[[V]], %arg2[%[[I]], %[[J]]] : memref<12x10xf32>
func.func @full_and_transpose(%a: memref<10x12xf32>, %s: memref<f32>, %t: memref<12x10xf32>) {
  linalg.reduce ins(%a : memref<10x12xf32>) outs(%s : memref<f32>) dimensions = [0, 1]
    (%in: f32, %init: f32) {
      %x = arith.addf %in, %init : f32
      linalg.yield %x : f32
    }
  linalg.transpose ins(%a : memref<10x12xf32>) outs(%t : memref<12x10xf32>) permutation = [1, 0]
  return
}

// -----

// A sequential loop left on the host (a scatter's in-order updates) runs on one thread.
// CHECK-LABEL: func.func @serial
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[ONE:.*]], %{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]]) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]]) {
// CHECK-NEXT: scf.for
// CHECK: memref.load %arg1
// CHECK: memref.store %{{.*}}, %arg0
// CHECK: gpu.terminator
func.func @serial(%data: memref<8xf32>, %idx: memref<4xindex>, %upd: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.for %i = %c0 to %c4 step %c1 {
    %j = memref.load %idx[%i] : memref<4xindex>
    %u = memref.load %upd[%i] : memref<4xf32>
    %d = memref.load %data[%j] : memref<8xf32>
    %s = arith.addf %d, %u : f32
    memref.store %s, %data[%j] : memref<8xf32>
  }
  return
}

// -----

// A scalar a payload captures, read from a buffer on the host (OneHot's on/off values): each
// kernel that uses it reads it itself; reads of the same buffer in between do not stop that.
// CHECK-LABEL: func.func @captured_scalar
// CHECK-NOT: memref.load
// CHECK: gpu.launch
// CHECK: memref.load %arg0[%{{.*}}] : memref<2xf32>
// CHECK: memref.load %arg0[%{{.*}}] : memref<2xf32>
// CHECK: arith.select
// CHECK: memref.store
// CHECK: gpu.terminator
#id1 = affine_map<(d0) -> (d0)>
func.func @captured_scalar(%values: memref<2xf32>, %flags: memref<4xi1>, %out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %off = memref.load %values[%c0] : memref<2xf32>
  %on = memref.load %values[%c1] : memref<2xf32>
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%flags : memref<4xi1>) outs(%out : memref<4xf32>) {
  ^bb0(%f: i1, %o: f32):
    %s = arith.select %f, %on, %off : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Attention's Q K^T with 512 x 16 scores per head (8 heads: 4096 4x4 tiles, at least
// min-tiled-threads; 16 keys, fewer than min-shared-tile): one 4x4 register tile per
// thread. The thread's tile index splits into (head, row tile, column tile); 16
// accumulators start from the output; each reduction point loads 4 elements of each input
// and adds 16 products; 16 guarded stores.
// CHECK-LABEL: func.func @qk_tiled
// CHECK-DAG: %[[C16:.*]] = arith.constant 16 : index
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C16]],
// CHECK-COUNT-16: memref.load %arg2
// CHECK: scf.for %{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK-COUNT-8: memref.load %arg{{[01]}}[
// CHECK-COUNT-16: arith.addf
// CHECK: scf.yield
// CHECK-COUNT-16: memref.store
// CHECK-NOT: gpu.all_reduce
#q4 = affine_map<(h, i, j, d) -> (h, i, d)>
#k4 = affine_map<(h, i, j, d) -> (h, j, d)>
#s4 = affine_map<(h, i, j, d) -> (h, i, j)>
func.func @qk_tiled(%q: memref<8x512x64xf32>, %k: memref<8x16x64xf32>, %s: memref<8x512x16xf32>) {
  linalg.generic {indexing_maps = [#q4, #k4, #s4],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<8x512x64xf32>, memref<8x16x64xf32>) outs(%s : memref<8x512x16xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %p = arith.mulf %x, %y : f32
    %r = arith.addf %o, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A 128x96 * 96x80 matmul (m and n at least min-shared-tile): 64x64 block tiles staged in
// shared memory, 2 x 2 blocks of 256 threads, each thread a 4x4 register tile. Per depth tile
// of 16 reduction points (6 of them) each thread copies 4 elements of A (point-fastest: A is
// K-contiguous) and 4 of B (column-fastest) into the padded 16x65 tiles, the block waits,
// each thread adds up to 16 points' products from shared memory, and the block waits again;
// 16 guarded stores.
// CHECK-LABEL: func.func @matmul_shared
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C4]], {{.*}} threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256]], {{.*}} workgroup(%[[AT:.*]] : memref<16x65xf32, #gpu.address_space<workgroup>>, %[[BT:.*]] : memref<16x65xf32, #gpu.address_space<workgroup>>)
// CHECK-NOT: scf.if
// CHECK-COUNT-16: memref.load %arg2
// CHECK: %[[C6:.*]] = arith.constant 6 : index
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[C6]] step %{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK-COUNT-4: memref.store %{{.*}}, %[[AT]]
// CHECK-COUNT-4: memref.store %{{.*}}, %[[BT]]
// CHECK: gpu.barrier
// CHECK: %[[DEPTH:.*]] = arith.minsi
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[DEPTH]] step
// CHECK-COUNT-4: memref.load %[[AT]]
// CHECK-COUNT-16: arith.addf
// CHECK: scf.yield
// CHECK: gpu.barrier
// CHECK: scf.yield
// CHECK-COUNT-16: memref.store %{{.*}}, %arg2
// CHECK-NOT: gpu.all_reduce
func.func @matmul_shared(%a: memref<128x96xf32>, %b: memref<96x80xf32>, %c: memref<128x80xf32>) {
  linalg.matmul ins(%a, %b : memref<128x96xf32>, memref<96x80xf32>) outs(%c : memref<128x80xf32>)
  return
}

// -----

// The scalar comes from an intermediate buffer that is freed right after the host read (as
// the deallocation pipeline places it): the read moves into the kernel and the free after it.
// CHECK-LABEL: func.func @captured_scalar_freed
// CHECK: %[[TMP:.*]] = memref.alloc() : memref<2xf32>
// CHECK-NOT: memref.dealloc
// CHECK: gpu.launch
// CHECK: memref.load %[[TMP]]
// CHECK: gpu.terminator
// CHECK: memref.dealloc %[[TMP]]
#id3 = affine_map<(d0) -> (d0)>
func.func @captured_scalar_freed(%values: memref<2xf32>, %out: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  %tmp = memref.alloc() : memref<2xf32>
  memref.copy %values, %tmp : memref<2xf32> to memref<2xf32>
  %on = memref.load %tmp[%c1] : memref<2xf32>
  memref.dealloc %tmp : memref<2xf32>
  linalg.generic {indexing_maps = [#id3], iterator_types = ["parallel"]} outs(%out : memref<4xf32>) {
  ^bb0(%o: f32):
    linalg.yield %on : f32
  }
  return
}

// -----

// Dynamic sizes: read from the buffers on the host, the grid computed there (ceil divisions
// by the tile sizes), the kernels reading the sizes as values from above (arguments after
// outlining). The matmul counts as large: shared-memory tiles.
// CHECK-LABEL: func.func @dynamic
// CHECK-SAME: (%[[A:.*]]: memref<?x?xf32>, %[[B:.*]]: memref<?x?xf32>, %[[C:.*]]: memref<?x?xf32>, %[[E:.*]]: memref<?x?xf32>)
// CHECK-DAG: %[[M:.*]] = memref.dim %[[A]], %c0{{[_0-9]*}} :
// CHECK-DAG: %[[K:.*]] = memref.dim %[[A]], %c1{{[_0-9]*}} :
// CHECK-DAG: %[[N:.*]] = memref.dim %[[B]], %c1{{[_0-9]*}} :
// CHECK: %[[M63:.*]] = arith.addi %[[M]], %{{.*}} : index
// CHECK: %[[MT:.*]] = arith.divui %[[M63]], %{{.*}} : index
// CHECK: %[[N63:.*]] = arith.addi %[[N]], %{{.*}} : index
// CHECK: %[[NT:.*]] = arith.divui %[[N63]], %{{.*}} : index
// CHECK: %[[K15:.*]] = arith.addi %[[K]], %{{.*}} : index
// CHECK: %[[KT:.*]] = arith.divui %[[K15]], %{{.*}} : index
// CHECK: %[[BLOCKS:.*]] = arith.muli %[[MT]], %[[NT]] : index
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %[[BLOCKS]], {{.*}} threads({{.*}}) in (%{{.*}} = %c256{{.*}} workgroup(
// CHECK: arith.cmpi ult, %{{.*}}, %[[M]] : index
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[KT]] step
// CHECK: gpu.barrier
// The elementwise exp: rows * cols threads, 256 a block.
// CHECK: %[[R:.*]] = memref.dim %[[A]]
// CHECK: %[[CO:.*]] = memref.dim %[[A]]
// CHECK: %[[PTS:.*]] = arith.muli %[[R]], %[[CO]] : index
// CHECK: %[[P255:.*]] = arith.addi %[[PTS]], %{{.*}} : index
// CHECK: %[[G:.*]] = arith.divui %[[P255]], %{{.*}} : index
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %[[G]],
// CHECK: arith.cmpi ult, %{{.*}}, %[[PTS]] : index
// CHECK: math.exp
func.func @dynamic(%a: memref<?x?xf32>, %b: memref<?x?xf32>, %c: memref<?x?xf32>, %e: memref<?x?xf32>) {
  linalg.matmul ins(%a, %b : memref<?x?xf32>, memref<?x?xf32>) outs(%c : memref<?x?xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x?xf32>) outs(%e : memref<?x?xf32>) {
  ^bb0(%x: f32, %o: f32):
    %v = math.exp %x : f32
    linalg.yield %v : f32
  }
  return
}

// -----

// A CUDA kernel's launch (sqz-cuda-lower-kernels): static, and with a dynamic grid x (its
// first operand, a dynamic M) — both launch the wrapper sqz.cuda_kernel names.
// CHECK-LABEL: func.func @kernel_launches
// CHECK-SAME: (%[[GX:.*]]: index, %[[A:.*]]: i64)
// CHECK: gpu.launch_func @sqz_cuda_kernels::@k blocks in (%c3{{.*}}, %c2{{.*}}, %c1{{.*}}) threads in (%c128{{.*}}, %c1{{.*}}, %c1{{.*}}) dynamic_shared_memory_size %c64_i32 args(%[[A]] : i64)
// CHECK: gpu.launch_func @sqz_cuda_kernels::@k blocks in (%[[GX]], %c2{{.*}}, %c1{{.*}}) threads in (%c128{{.*}}, %c1{{.*}}, %c1{{.*}}) dynamic_shared_memory_size %c64_i32{{.*}} args(%[[A]] : i64)
// CHECK-NOT: call
module attributes {gpu.container_module} {
  gpu.module @sqz_cuda_kernels {
    gpu.func @k(%a: i64) kernel {
      gpu.return
    }
  }
  func.func private @k(i64)
  func.func private @k_dynamic_grid(index, i64)
  func.func @kernel_launches(%gx: index, %a: i64) {
    call @k(%a) {sqz.cuda_kernel = @k, sqz.cuda_launch = array<i64: 3, 2, 1, 128, 1, 1, 64>} : (i64) -> ()
    call @k_dynamic_grid(%gx, %a) {sqz.cuda_kernel = @k, sqz.cuda_launch = array<i64: -1, 2, 1, 128, 1, 1, 64>} : (index, i64) -> ()
    return
  }
}
