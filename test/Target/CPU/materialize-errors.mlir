// RUN: not sqz-opt %s --sqz-materialize="target=cuda arch=sm_70" 2>&1 | FileCheck %s --check-prefix=CUDA
// RUN: not sqz-opt %s --sqz-materialize="target=tpu" 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not sqz-opt %s --sqz-materialize="isa=avx9" 2>&1 | FileCheck %s --check-prefix=ISA
// RUN: not sqz-opt %s --sqz-materialize="formats=int4,int5" 2>&1 | FileCheck %s --check-prefix=FORMAT
// RUN: not sqz-opt %s --pass-pipeline="builtin.module(sqz-materialize{isa=avx512},sqz-cpu-lower-ukernels{chunks=0})" 2>&1 | FileCheck %s --check-prefix=CHUNKS

// Bad options of sqz-materialize and sqz-cpu-lower-ukernels are errors naming what is supported.
// CUDA: error: sqz-materialize: unknown arch 'sm_70' for target cuda (expected sm_80, sm_90 or sm_90a)
// TARGET: error: sqz-materialize: unknown target 'tpu' (expected cpu or cuda)
// ISA: error: sqz-materialize: unknown isa 'avx9' (expected native, generic, avx2, avx512 or avx512vnni)
// FORMAT: error: sqz-materialize: unknown format 'int5' in formats (expected f32, int8, int4, nf4, ternary2, ternary16, sp24_f32, sp24_int4)
// CHUNKS: error: sqz-cpu-lower-ukernels: chunks must be >= 1 and min-parallel-work >= 0
func.func @main(%x: tensor<2x64xf32>) -> tensor<2x8xf32> {
  %c = arith.constant dense<3> : tensor<8x64xi8>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = 32, symmetric = true>} : tensor<2x64xf32>, tensor<8x64xi8>, tensor<8x2xf32> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
