// RUN: sqz-opt %s --sqz-materialize="isa=avx512 act=int8" | FileCheck %s --check-prefix=INT8
// RUN: sqz-opt %s --sqz-materialize="isa=avx512vnni act=auto" | FileCheck %s --check-prefix=INT8
// RUN: sqz-opt %s --sqz-materialize="isa=avx512 act=auto" | FileCheck %s --check-prefix=F32
// RUN: sqz-opt %s --sqz-materialize="isa=avx512vnni" | FileCheck %s --check-prefix=F32
// RUN: not sqz-opt %s --sqz-materialize="act=fp16" 2>&1 | FileCheck %s --check-prefix=ERR

// sqz-materialize's `act`: int8 asks the packer for the int8-activation path of the int4 /
// int8 / nf4 kernels (header flag SQZ_UK_FLAG_ACT_INT8 = 2 at byte 32 of the blob,
// docs/Kernels.md); auto does so for the avx512vnni kernels only; f32 (the default) never.
// The blob's first 48 bytes after the 4-byte alignment of the resource: magic "SQZK",
// version 1, format 3 (int4), N = 32, K = 64, group = 32, flags.
// INT8: 0x4000000053515A4B01000300200000000000000040000000000000002000000000000000{{02000000}}
// F32: 0x4000000053515A4B01000300200000000000000040000000000000002000000000000000{{00000000}}
// ERR: error: sqz-materialize: unknown act 'fp16' (expected auto, f32 or int8)
func.func @int4_sym(%x: tensor<2x64xf32>) -> tensor<2x32xf32> {
  %c = arith.constant dense<3> : tensor<32x64xi8>
  %s = arith.constant dense<0.5> : tensor<32x2xf32>
  %y = sqz.quant_linear %x, %c, %s {quant = #sqz.quant<format = int4, group = 32, symmetric = true>} : tensor<2x64xf32>, tensor<32x64xi8>, tensor<32x2xf32> -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}
