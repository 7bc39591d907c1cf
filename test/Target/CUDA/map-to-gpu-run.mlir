// REQUIRES: mlir-runner
// The kernels sqz-cuda-map-to-gpu generates, run on the host (sqz-cuda-emulate-launches)
// after the device math expansion (sqz-cuda-expand-math), against the same functions lowered
// as plain loops (libm math): one thread per element over several blocks, block reductions
// of every kind it generates (max, add, a matmul's dot products, integer max, two reduced
// dims), a small reduction kept in the thread, permuted and broadcast operands,
// linalg.index, softmax / GELU with exp, erf and tanh, and contractions (a matmul, attention's
// Q K^T, f16 operands, a 1-D convolution with two reduced dims) on blocks and on 4x4 register
// tiles whose sizes are not multiples of 4; the same with dynamic sizes, also 0 rows.
//
// DEFINE: %{lower} = convert-scf-to-cf,expand-strided-metadata,lower-affine,finalize-memref-to-llvm,convert-math-to-llvm,convert-math-to-libm,convert-arith-to-llvm,convert-index-to-llvm,convert-func-to-llvm,convert-cf-to-llvm,reconcile-unrealized-casts
// RUN: sqz-opt %s --pass-pipeline='builtin.module(func.func(sqz-cuda-map-to-gpu,sqz-cuda-expand-math,sqz-cuda-emulate-launches),%{lower})' \
// RUN:   | mlir-runner -e main -entry-point-result=void %mlir_runner_libs > %t.gpu
// The same with every contraction on register tiles (min-tiled-threads=1, shared-memory
// tiles off), and with every contraction on shared-memory tiles (min-shared-tile=1):
// RUN: sqz-opt %s --pass-pipeline='builtin.module(func.func(sqz-cuda-map-to-gpu{min-tiled-threads=1 min-shared-tile=1000000},sqz-cuda-expand-math,sqz-cuda-emulate-launches),%{lower})' \
// RUN:   | mlir-runner -e main -entry-point-result=void %mlir_runner_libs > %t.tiled
// RUN: sqz-opt %s --pass-pipeline='builtin.module(func.func(sqz-cuda-map-to-gpu{min-shared-tile=1},sqz-cuda-expand-math,sqz-cuda-emulate-launches),%{lower})' \
// RUN:   | mlir-runner -e main -entry-point-result=void %mlir_runner_libs > %t.shared
// RUN: sqz-opt %s --pass-pipeline='builtin.module(func.func(convert-linalg-to-loops),%{lower})' \
// RUN:   | mlir-runner -e main -entry-point-result=void %mlir_runner_libs > %t.ref
// RUN: %python %S/Inputs/allclose.py %t.gpu %t.ref --rtol 2e-6 --atol 1e-6 | FileCheck %s --check-prefix=CMP
// RUN: %python %S/Inputs/allclose.py %t.tiled %t.ref --rtol 2e-6 --atol 1e-6 | FileCheck %s --check-prefix=CMP
// RUN: %python %S/Inputs/allclose.py %t.shared %t.ref --rtol 2e-6 --atol 1e-6 | FileCheck %s --check-prefix=CMP
// CMP: allclose: 14287 numbers match
//
// The emulated output itself (so that two equally wrong runs cannot pass), a few values:
// RUN: FileCheck %s --input-file=%t.gpu
// bcast, c[i][j] = a[i][j] * b[j] + 1:
// CHECK: sizes = [20, 33]
// CHECK-NEXT: {{\[}}[5,   2.5625,   1.0625,
// the softmax rows' sums:
// CHECK: sizes = [5, 37]
// CHECK: sizes = [5]
// CHECK-NEXT: [1,  1,  1,  1,  1]
// bmm:
// CHECK: sizes = [2, 5, 7]
// CHECK-NEXT: {{\[\[}}[2.625,    -4.0625,    6.25,
// the long rows' sums, the two-dim sums and the integer maxima:
// CHECK: sizes = [3]
// CHECK-NEXT: [-0.5,  0.5,  1.5]
// CHECK: sizes = [3]
// CHECK-NEXT: [-0.5,  -2.5,  4]
// CHECK: sizes = [4]
// CHECK-NEXT: [8,  8,  8,  8]
// The dynamic matmul equals the static one (same operands), every row maximum is 2 and
// exp(v(0, 0..1)) = exp(-2), exp(1.25):
// CHECK: sizes = [70, 45]
// CHECK-NEXT: {{\[\[}}2.1875,   -3.6875,   10.625,   -10.125,   12.6875,
// CHECK: sizes = [70, 45]
// CHECK-NEXT: {{\[\[}}2.1875,   -3.6875,   10.625,   -10.125,   12.6875,
// CHECK: sizes = [70]
// CHECK-NEXT: [2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
// CHECK: sizes = [70, 37]
// CHECK-NEXT: {{\[\[}}0.135335,   3.49034,

#id2 = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
#tr = affine_map<(d0, d1) -> (d1, d0)>
#id1 = affine_map<(d0) -> (d0)>

func.func private @printMemrefF32(memref<*xf32>)
func.func private @printMemrefI32(memref<*xi32>)

// v(i, j) = ((i * 7 + j * 13) mod 17) / 4 - 2 (exact in f32). Host loops: on the GPU target
// they run as one thread (sqz-cuda-map-to-gpu's serial launch).
func.func @fill2(%m: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %rows = memref.dim %m, %c0 : memref<?x?xf32>
  %cols = memref.dim %m, %c1 : memref<?x?xf32>
  scf.for %i = %c0 to %rows step %c1 {
    scf.for %j = %c0 to %cols step %c1 {
      %c7 = arith.constant 7 : index
      %c13 = arith.constant 13 : index
      %c17 = arith.constant 17 : index
      %a = arith.muli %i, %c7 : index
      %b = arith.muli %j, %c13 : index
      %s = arith.addi %a, %b : index
      %r = arith.remui %s, %c17 : index
      %ri = arith.index_cast %r : index to i32
      %f = arith.sitofp %ri : i32 to f32
      %q = arith.constant 0.25 : f32
      %two = arith.constant 2.0 : f32
      %t = arith.mulf %f, %q : f32
      %v = arith.subf %t, %two : f32
      memref.store %v, %m[%i, %j] : memref<?x?xf32>
    }
  }
  return
}

// One thread per element (660 points: 3 blocks of 256), a row-broadcast operand.
func.func @bcast(%a: memref<20x33xf32>, %b: memref<33xf32>, %c: memref<20x33xf32>) {
  linalg.generic {indexing_maps = [#id2, #col, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : memref<20x33xf32>, memref<33xf32>) outs(%c : memref<20x33xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %p, %one : f32
    linalg.yield %s : f32
  }
  return
}

// Softmax over rows: block max, exp(x - max) per element, block sum, division.
func.func @softmax(%x: memref<5x37xf32>, %y: memref<5x37xf32>, %sums: memref<5xf32>) {
  %max = memref.alloc() : memref<5xf32>
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%ninf : f32) outs(%max : memref<5xf32>)
  linalg.reduce ins(%x : memref<5x37xf32>) outs(%max : memref<5xf32>) dimensions = [1]
    (%in: f32, %init: f32) {
      %m = arith.maximumf %in, %init : f32
      linalg.yield %m : f32
    }
  linalg.generic {indexing_maps = [#id2, #row, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : memref<5x37xf32>, memref<5xf32>) outs(%y : memref<5x37xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  }
  %sum = memref.alloc() : memref<5xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<5xf32>)
  linalg.reduce ins(%y : memref<5x37xf32>) outs(%sum : memref<5xf32>) dimensions = [1]
    (%in: f32, %init: f32) {
      %s = arith.addf %in, %init : f32
      linalg.yield %s : f32
    }
  linalg.generic {indexing_maps = [#row, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%sum : memref<5xf32>) outs(%y : memref<5x37xf32>) {
  ^bb0(%s: f32, %o: f32):
    %q = arith.divf %o, %s : f32
    linalg.yield %q : f32
  }
  // The rows' sums again (1 each).
  linalg.fill ins(%zero : f32) outs(%sums : memref<5xf32>)
  linalg.reduce ins(%y : memref<5x37xf32>) outs(%sums : memref<5xf32>) dimensions = [1]
    (%in: f32, %init: f32) {
      %s = arith.addf %in, %init : f32
      linalg.yield %s : f32
    }
  memref.dealloc %max : memref<5xf32>
  memref.dealloc %sum : memref<5xf32>
  return
}

// GELU (erf) and tanh per element.
func.func @gelu_tanh(%x: memref<5x37xf32>, %g: memref<5x37xf32>, %t: memref<5x37xf32>) {
  linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<5x37xf32>) outs(%g, %t : memref<5x37xf32>, memref<5x37xf32>) {
  ^bb0(%a: f32, %o: f32, %p: f32):
    %half = arith.constant 0.5 : f32
    %one = arith.constant 1.0 : f32
    %rs2 = arith.constant 0.70710678 : f32
    %s = arith.mulf %a, %rs2 : f32
    %e = math.erf %s : f32
    %e1 = arith.addf %e, %one : f32
    %h = arith.mulf %a, %half : f32
    %r = arith.mulf %h, %e1 : f32
    %th = math.tanh %a : f32
    linalg.yield %r, %th : f32, f32
  }
  return
}

// A batch matmul (dot products of 19: block reductions), B read transposed through its map.
func.func @bmm(%a: memref<2x5x19xf32>, %b: memref<2x19x7xf32>, %c: memref<2x5x7xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<2x5x7xf32>)
  linalg.batch_matmul ins(%a, %b : memref<2x5x19xf32>, memref<2x19x7xf32>)
                      outs(%c : memref<2x5x7xf32>)
  return
}

// Sum over two reduced dims (45 points), a row sum longer than a block (700: 256 threads,
// each folding up to 3 points), and a small reduction (4: one thread each).
func.func @sums(%x: memref<3x5x9xf32>, %big: memref<3xf32>, %small: memref<5x4xf32>,
                %out: memref<5xf32>, %long: memref<3x700xf32>, %longsum: memref<3xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%longsum : memref<3xf32>)
  linalg.reduce ins(%long : memref<3x700xf32>) outs(%longsum : memref<3xf32>) dimensions = [1]
    (%in: f32, %init: f32) {
      %s = arith.addf %in, %init : f32
      linalg.yield %s : f32
    }
  linalg.fill ins(%zero : f32) outs(%big : memref<3xf32>)
  linalg.reduce ins(%x : memref<3x5x9xf32>) outs(%big : memref<3xf32>) dimensions = [1, 2]
    (%in: f32, %init: f32) {
      %s = arith.addf %in, %init : f32
      linalg.yield %s : f32
    }
  linalg.fill ins(%zero : f32) outs(%out : memref<5xf32>)
  linalg.generic {indexing_maps = [#id2, #row], iterator_types = ["parallel", "reduction"]}
      ins(%small : memref<5x4xf32>) outs(%out : memref<5xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sq = arith.mulf %a, %a : f32
    %s = arith.addf %sq, %o : f32
    linalg.yield %s : f32
  }
  return
}

// A transpose (permuted map) scaled by its row index, and an integer block max.
func.func @transpose_imax(%x: memref<20x33xf32>, %y: memref<33x20xf32>, %ix: memref<4x40xi32>,
                          %imax: memref<4xi32>) {
  linalg.generic {indexing_maps = [#tr, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<20x33xf32>) outs(%y : memref<33x20xf32>) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 0 : index
    %ii = arith.index_cast %i : index to i32
    %f = arith.sitofp %ii : i32 to f32
    %r = arith.mulf %a, %f : f32
    linalg.yield %r : f32
  }
  %lowest = arith.constant -2147483648 : i32
  linalg.fill ins(%lowest : i32) outs(%imax : memref<4xi32>)
  linalg.reduce ins(%ix : memref<4x40xi32>) outs(%imax : memref<4xi32>) dimensions = [1]
    (%in: i32, %init: i32) {
      %m = arith.maxsi %in, %init : i32
      linalg.yield %m : i32
    }
  return
}

// Contractions: a matmul, Q K^T per head (B indexed [h, j, d]), f16 operands converted in
// the payload, and a 1-D convolution (reduced over channels and taps).
#q = affine_map<(h, i, j, d) -> (h, i, d)>
#k = affine_map<(h, i, j, d) -> (h, j, d)>
#s = affine_map<(h, i, j, d) -> (h, i, j)>
#mk = affine_map<(i, j, k) -> (i, k)>
#kn = affine_map<(i, j, k) -> (k, j)>
#mn = affine_map<(i, j, k) -> (i, j)>
#cin = affine_map<(o, x, c, t) -> (c, x + t)>
#cw = affine_map<(o, x, c, t) -> (o, c, t)>
#cout = affine_map<(o, x, c, t) -> (o, x)>
func.func @contractions(%a: memref<9x13xf32>, %b: memref<13x6xf32>, %c: memref<9x6xf32>,
                        %q: memref<3x10x5xf32>, %k: memref<3x7x5xf32>, %s: memref<3x10x7xf32>,
                        %ah: memref<9x13xf16>, %ch: memref<9x6xf32>,
                        %in: memref<3x12xf32>, %w: memref<5x3x3xf32>, %conv: memref<5x10xf32>) {
  %zero = arith.constant 0.0 : f32
  %half = arith.constant 0.5 : f32
  linalg.fill ins(%half : f32) outs(%c : memref<9x6xf32>)
  linalg.matmul ins(%a, %b : memref<9x13xf32>, memref<13x6xf32>) outs(%c : memref<9x6xf32>)
  linalg.fill ins(%zero : f32) outs(%s : memref<3x10x7xf32>)
  linalg.generic {indexing_maps = [#q, #k, #s],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<3x10x5xf32>, memref<3x7x5xf32>) outs(%s : memref<3x10x7xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %p = arith.mulf %x, %y : f32
    %r = arith.addf %o, %p : f32
    linalg.yield %r : f32
  }
  linalg.fill ins(%zero : f32) outs(%ch : memref<9x6xf32>)
  linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%ah, %b : memref<9x13xf16>, memref<13x6xf32>) outs(%ch : memref<9x6xf32>) {
  ^bb0(%x: f16, %y: f32, %o: f32):
    %xf = arith.extf %x : f16 to f32
    %p = arith.mulf %xf, %y : f32
    %r = arith.addf %p, %o : f32
    linalg.yield %r : f32
  }
  linalg.fill ins(%zero : f32) outs(%conv : memref<5x10xf32>)
  linalg.generic {indexing_maps = [#cin, #cw, #cout],
                  iterator_types = ["parallel", "parallel", "reduction", "reduction"]}
      ins(%in, %w : memref<3x12xf32>, memref<5x3x3xf32>) outs(%conv : memref<5x10xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %p = arith.mulf %x, %y : f32
    %r = arith.addf %o, %p : f32
    linalg.yield %r : f32
  }
  return
}

// Contractions big enough for shared-memory block tiles (m, n >= min-shared-tile = 32): a
// 70x37 * 37x45 matmul (two 64-row blocks, the last 6 rows and the last 19 columns of a
// tile out of range, 3 depth tiles of which the last has 5 points; A's tile copied point-
// fastest, B's line-fastest) and attention's Q K^T with both operands K-contiguous (batch
// of 2 heads, 40 x 36 scores, d = 20).
func.func @big_contractions(%a: memref<70x37xf32>, %b: memref<37x45xf32>, %c: memref<70x45xf32>,
                            %q: memref<2x40x20xf32>, %k: memref<2x36x20xf32>,
                            %s: memref<2x40x36xf32>) {
  %zero = arith.constant 0.0 : f32
  %quarter = arith.constant 0.25 : f32
  linalg.fill ins(%quarter : f32) outs(%c : memref<70x45xf32>)
  linalg.matmul ins(%a, %b : memref<70x37xf32>, memref<37x45xf32>) outs(%c : memref<70x45xf32>)
  linalg.fill ins(%zero : f32) outs(%s : memref<2x40x36xf32>)
  linalg.generic {indexing_maps = [#q, #k, #s],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<2x40x20xf32>, memref<2x36x20xf32>) outs(%s : memref<2x40x36xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %p = arith.mulf %x, %y : f32
    %r = arith.addf %o, %p : f32
    linalg.yield %r : f32
  }
  return
}

// Dynamic shapes: the sizes are the buffers' dims, read on the host (a matmul, a row maximum
// over a dynamic reduction, an elementwise exp); run at 70x37x45 and with 0 rows (an empty
// grid).
func.func @dynamic(%a: memref<?x?xf32>, %b: memref<?x?xf32>, %c: memref<?x?xf32>,
                   %mx: memref<?xf32>, %e: memref<?x?xf32>) {
  %quarter = arith.constant 0.25 : f32
  %low = arith.constant -100.0 : f32
  linalg.fill ins(%quarter : f32) outs(%c : memref<?x?xf32>)
  linalg.matmul ins(%a, %b : memref<?x?xf32>, memref<?x?xf32>) outs(%c : memref<?x?xf32>)
  linalg.fill ins(%low : f32) outs(%mx : memref<?xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<?x?xf32>) outs(%mx : memref<?xf32>) {
  ^bb0(%x: f32, %o: f32):
    %m = arith.maximumf %o, %x : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x?xf32>) outs(%e : memref<?x?xf32>) {
  ^bb0(%x: f32, %o: f32):
    %v = math.exp %x : f32
    linalg.yield %v : f32
  }
  return
}

func.func @main() {
  %a = memref.alloc() : memref<20x33xf32>
  %b2 = memref.alloc() : memref<1x33xf32>
  %c = memref.alloc() : memref<20x33xf32>
  %ad = memref.cast %a : memref<20x33xf32> to memref<?x?xf32>
  call @fill2(%ad) : (memref<?x?xf32>) -> ()
  %b2d = memref.cast %b2 : memref<1x33xf32> to memref<?x?xf32>
  call @fill2(%b2d) : (memref<?x?xf32>) -> ()
  %b = memref.collapse_shape %b2 [[0, 1]] : memref<1x33xf32> into memref<33xf32>
  call @bcast(%a, %b, %c) : (memref<20x33xf32>, memref<33xf32>, memref<20x33xf32>) -> ()
  %cu = memref.cast %c : memref<20x33xf32> to memref<*xf32>
  call @printMemrefF32(%cu) : (memref<*xf32>) -> ()

  %x = memref.alloc() : memref<5x37xf32>
  %xd = memref.cast %x : memref<5x37xf32> to memref<?x?xf32>
  call @fill2(%xd) : (memref<?x?xf32>) -> ()
  %y = memref.alloc() : memref<5x37xf32>
  %rows = memref.alloc() : memref<5xf32>
  call @softmax(%x, %y, %rows) : (memref<5x37xf32>, memref<5x37xf32>, memref<5xf32>) -> ()
  %yu = memref.cast %y : memref<5x37xf32> to memref<*xf32>
  call @printMemrefF32(%yu) : (memref<*xf32>) -> ()
  %rowsu = memref.cast %rows : memref<5xf32> to memref<*xf32>
  call @printMemrefF32(%rowsu) : (memref<*xf32>) -> ()

  %g = memref.alloc() : memref<5x37xf32>
  %t = memref.alloc() : memref<5x37xf32>
  call @gelu_tanh(%x, %g, %t) : (memref<5x37xf32>, memref<5x37xf32>, memref<5x37xf32>) -> ()
  %gu = memref.cast %g : memref<5x37xf32> to memref<*xf32>
  call @printMemrefF32(%gu) : (memref<*xf32>) -> ()
  %tu = memref.cast %t : memref<5x37xf32> to memref<*xf32>
  call @printMemrefF32(%tu) : (memref<*xf32>) -> ()

  %ba = memref.alloc() : memref<2x5x19xf32>
  %bb = memref.alloc() : memref<2x19x7xf32>
  %bc = memref.alloc() : memref<2x5x7xf32>
  %baf = memref.collapse_shape %ba [[0, 1], [2]] : memref<2x5x19xf32> into memref<10x19xf32>
  %bad = memref.cast %baf : memref<10x19xf32> to memref<?x?xf32>
  call @fill2(%bad) : (memref<?x?xf32>) -> ()
  %bbf = memref.collapse_shape %bb [[0, 1], [2]] : memref<2x19x7xf32> into memref<38x7xf32>
  %bbd = memref.cast %bbf : memref<38x7xf32> to memref<?x?xf32>
  call @fill2(%bbd) : (memref<?x?xf32>) -> ()
  call @bmm(%ba, %bb, %bc) : (memref<2x5x19xf32>, memref<2x19x7xf32>, memref<2x5x7xf32>) -> ()
  %bcu = memref.cast %bc : memref<2x5x7xf32> to memref<*xf32>
  call @printMemrefF32(%bcu) : (memref<*xf32>) -> ()

  %s3 = memref.alloc() : memref<3x5x9xf32>
  %s3f = memref.collapse_shape %s3 [[0], [1, 2]] : memref<3x5x9xf32> into memref<3x45xf32>
  %s3d = memref.cast %s3f : memref<3x45xf32> to memref<?x?xf32>
  call @fill2(%s3d) : (memref<?x?xf32>) -> ()
  %big = memref.alloc() : memref<3xf32>
  %small = memref.alloc() : memref<5x4xf32>
  %smalld = memref.cast %small : memref<5x4xf32> to memref<?x?xf32>
  call @fill2(%smalld) : (memref<?x?xf32>) -> ()
  %out = memref.alloc() : memref<5xf32>
  %long = memref.alloc() : memref<3x700xf32>
  %longd = memref.cast %long : memref<3x700xf32> to memref<?x?xf32>
  call @fill2(%longd) : (memref<?x?xf32>) -> ()
  %longsum = memref.alloc() : memref<3xf32>
  call @sums(%s3, %big, %small, %out, %long, %longsum) : (memref<3x5x9xf32>, memref<3xf32>, memref<5x4xf32>, memref<5xf32>, memref<3x700xf32>, memref<3xf32>) -> ()
  %longsumu = memref.cast %longsum : memref<3xf32> to memref<*xf32>
  call @printMemrefF32(%longsumu) : (memref<*xf32>) -> ()
  %bigu = memref.cast %big : memref<3xf32> to memref<*xf32>
  call @printMemrefF32(%bigu) : (memref<*xf32>) -> ()
  %outu = memref.cast %out : memref<5xf32> to memref<*xf32>
  call @printMemrefF32(%outu) : (memref<*xf32>) -> ()

  %tr = memref.alloc() : memref<33x20xf32>
  %ix = memref.alloc() : memref<4x40xi32>
  %ixf = memref.alloc() : memref<4x40xf32>
  %ixfd = memref.cast %ixf : memref<4x40xf32> to memref<?x?xf32>
  call @fill2(%ixfd) : (memref<?x?xf32>) -> ()
  linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%ixf : memref<4x40xf32>) outs(%ix : memref<4x40xi32>) {
  ^bb0(%f: f32, %o: i32):
    %k = arith.constant 4.0 : f32
    %m = arith.mulf %f, %k : f32
    %i = arith.fptosi %m : f32 to i32
    linalg.yield %i : i32
  }
  %imax = memref.alloc() : memref<4xi32>
  call @transpose_imax(%a, %tr, %ix, %imax) : (memref<20x33xf32>, memref<33x20xf32>, memref<4x40xi32>, memref<4xi32>) -> ()
  %tru = memref.cast %tr : memref<33x20xf32> to memref<*xf32>
  call @printMemrefF32(%tru) : (memref<*xf32>) -> ()
  %imaxu = memref.cast %imax : memref<4xi32> to memref<*xi32>
  call @printMemrefI32(%imaxu) : (memref<*xi32>) -> ()

  %ma = memref.alloc() : memref<9x13xf32>
  %mad = memref.cast %ma : memref<9x13xf32> to memref<?x?xf32>
  call @fill2(%mad) : (memref<?x?xf32>) -> ()
  %mb = memref.alloc() : memref<13x6xf32>
  %mbd = memref.cast %mb : memref<13x6xf32> to memref<?x?xf32>
  call @fill2(%mbd) : (memref<?x?xf32>) -> ()
  %mc = memref.alloc() : memref<9x6xf32>
  %mq = memref.alloc() : memref<3x10x5xf32>
  %mqf = memref.collapse_shape %mq [[0, 1], [2]] : memref<3x10x5xf32> into memref<30x5xf32>
  %mqd = memref.cast %mqf : memref<30x5xf32> to memref<?x?xf32>
  call @fill2(%mqd) : (memref<?x?xf32>) -> ()
  %mk = memref.alloc() : memref<3x7x5xf32>
  %mkf = memref.collapse_shape %mk [[0], [1, 2]] : memref<3x7x5xf32> into memref<3x35xf32>
  %mkd = memref.cast %mkf : memref<3x35xf32> to memref<?x?xf32>
  call @fill2(%mkd) : (memref<?x?xf32>) -> ()
  %ms = memref.alloc() : memref<3x10x7xf32>
  %mah = memref.alloc() : memref<9x13xf16>
  linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%ma : memref<9x13xf32>) outs(%mah : memref<9x13xf16>) {
  ^bb0(%f: f32, %o: f16):
    %tr16 = arith.truncf %f : f32 to f16
    linalg.yield %tr16 : f16
  }
  %mch = memref.alloc() : memref<9x6xf32>
  %cin = memref.alloc() : memref<3x12xf32>
  %cind = memref.cast %cin : memref<3x12xf32> to memref<?x?xf32>
  call @fill2(%cind) : (memref<?x?xf32>) -> ()
  %cw = memref.alloc() : memref<5x3x3xf32>
  %cwf = memref.collapse_shape %cw [[0], [1, 2]] : memref<5x3x3xf32> into memref<5x9xf32>
  %cwd = memref.cast %cwf : memref<5x9xf32> to memref<?x?xf32>
  call @fill2(%cwd) : (memref<?x?xf32>) -> ()
  %cout = memref.alloc() : memref<5x10xf32>
  call @contractions(%ma, %mb, %mc, %mq, %mk, %ms, %mah, %mch, %cin, %cw, %cout)
    : (memref<9x13xf32>, memref<13x6xf32>, memref<9x6xf32>, memref<3x10x5xf32>, memref<3x7x5xf32>,
       memref<3x10x7xf32>, memref<9x13xf16>, memref<9x6xf32>, memref<3x12xf32>, memref<5x3x3xf32>,
       memref<5x10xf32>) -> ()
  %mcu = memref.cast %mc : memref<9x6xf32> to memref<*xf32>
  call @printMemrefF32(%mcu) : (memref<*xf32>) -> ()
  %msu = memref.cast %ms : memref<3x10x7xf32> to memref<*xf32>
  call @printMemrefF32(%msu) : (memref<*xf32>) -> ()
  %mchu = memref.cast %mch : memref<9x6xf32> to memref<*xf32>
  call @printMemrefF32(%mchu) : (memref<*xf32>) -> ()
  %coutu = memref.cast %cout : memref<5x10xf32> to memref<*xf32>
  call @printMemrefF32(%coutu) : (memref<*xf32>) -> ()

  %ga = memref.alloc() : memref<70x37xf32>
  %gad = memref.cast %ga : memref<70x37xf32> to memref<?x?xf32>
  call @fill2(%gad) : (memref<?x?xf32>) -> ()
  %gb = memref.alloc() : memref<37x45xf32>
  %gbd = memref.cast %gb : memref<37x45xf32> to memref<?x?xf32>
  call @fill2(%gbd) : (memref<?x?xf32>) -> ()
  %gc = memref.alloc() : memref<70x45xf32>
  %gq = memref.alloc() : memref<2x40x20xf32>
  %gqf = memref.collapse_shape %gq [[0, 1], [2]] : memref<2x40x20xf32> into memref<80x20xf32>
  %gqd = memref.cast %gqf : memref<80x20xf32> to memref<?x?xf32>
  call @fill2(%gqd) : (memref<?x?xf32>) -> ()
  %gk = memref.alloc() : memref<2x36x20xf32>
  %gkf = memref.collapse_shape %gk [[0], [1, 2]] : memref<2x36x20xf32> into memref<2x720xf32>
  %gkd = memref.cast %gkf : memref<2x720xf32> to memref<?x?xf32>
  call @fill2(%gkd) : (memref<?x?xf32>) -> ()
  %gs = memref.alloc() : memref<2x40x36xf32>
  call @big_contractions(%ga, %gb, %gc, %gq, %gk, %gs)
    : (memref<70x37xf32>, memref<37x45xf32>, memref<70x45xf32>, memref<2x40x20xf32>,
       memref<2x36x20xf32>, memref<2x40x36xf32>) -> ()
  %gcu = memref.cast %gc : memref<70x45xf32> to memref<*xf32>
  call @printMemrefF32(%gcu) : (memref<*xf32>) -> ()
  %gsu = memref.cast %gs : memref<2x40x36xf32> to memref<*xf32>
  call @printMemrefF32(%gsu) : (memref<*xf32>) -> ()

  %dc = memref.alloc() : memref<70x45xf32>
  %dcd = memref.cast %dc : memref<70x45xf32> to memref<?x?xf32>
  %dm = memref.alloc() : memref<70xf32>
  %dmd = memref.cast %dm : memref<70xf32> to memref<?xf32>
  %de = memref.alloc() : memref<70x37xf32>
  %ded = memref.cast %de : memref<70x37xf32> to memref<?x?xf32>
  call @dynamic(%gad, %gbd, %dcd, %dmd, %ded)
    : (memref<?x?xf32>, memref<?x?xf32>, memref<?x?xf32>, memref<?xf32>, memref<?x?xf32>) -> ()
  %dcu = memref.cast %dc : memref<70x45xf32> to memref<*xf32>
  call @printMemrefF32(%dcu) : (memref<*xf32>) -> ()
  %dmu = memref.cast %dm : memref<70xf32> to memref<*xf32>
  call @printMemrefF32(%dmu) : (memref<*xf32>) -> ()
  %deu = memref.cast %de : memref<70x37xf32> to memref<*xf32>
  call @printMemrefF32(%deu) : (memref<*xf32>) -> ()
  // No rows: every grid is empty.
  %za = memref.alloc() : memref<0x37xf32>
  %zad = memref.cast %za : memref<0x37xf32> to memref<?x?xf32>
  %zc = memref.alloc() : memref<0x45xf32>
  %zcd = memref.cast %zc : memref<0x45xf32> to memref<?x?xf32>
  %zm = memref.alloc() : memref<0xf32>
  %zmd = memref.cast %zm : memref<0xf32> to memref<?xf32>
  %ze = memref.alloc() : memref<0x37xf32>
  %zed = memref.cast %ze : memref<0x37xf32> to memref<?x?xf32>
  call @dynamic(%zad, %gbd, %zcd, %zmd, %zed)
    : (memref<?x?xf32>, memref<?x?xf32>, memref<?x?xf32>, memref<?xf32>, memref<?x?xf32>) -> ()
  return
}
