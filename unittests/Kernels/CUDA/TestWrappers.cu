//===- TestWrappers.cu - __global__ entry points for the CUDA kernel tests ===//
//
// The kernels are __device__ functions (called from generated gpu.func wrappers in models);
// tests and benchmarks launch them through these kernels, named <symbol>_kernel. Compiled per
// target with -DSQZ_CUK_SM=80|90, linked with the kernels' bitcode and turned into PTX at build
// time (unittests/Kernels/CUDA/CMakeLists.txt); the PTX is what the GPU test and
// bench/cuda_bench.py load. The sm_90a build (-DSQZ_CUK_WGMMA) wraps only the wgmma kernels
// (sqz_cuk_test.sm90a.ptx).
//
//===----------------------------------------------------------------------===//

#include <stdint.h>

#define SQZ_CUK_WRAP3(fmt, var, sm)                                                                \
  extern "C" __attribute__((device)) void sqz_cuk_##fmt##_##var##_sm##sm(                          \
      const uint8_t *, const float *, int64_t, int64_t, const float *, float *, int64_t);          \
  extern "C" __attribute__((global)) void sqz_cuk_##fmt##_##var##_sm##sm##_kernel(                 \
      const uint8_t *blob, const float *x, int64_t M, int64_t ldx, const float *bias, float *y,   \
      int64_t ldy) {                                                                               \
    sqz_cuk_##fmt##_##var##_sm##sm(blob, x, M, ldx, bias, y, ldy);                                 \
  }
#define SQZ_CUK_WRAP2(fmt, var, sm) SQZ_CUK_WRAP3(fmt, var, sm)
#define SQZ_CUK_WRAP(fmt)                                                                          \
  SQZ_CUK_WRAP2(fmt, gemv, SQZ_CUK_SM)                                                             \
  SQZ_CUK_WRAP2(fmt, gemm, SQZ_CUK_SM)                                                             \
  SQZ_CUK_WRAP2(fmt, gemm64, SQZ_CUK_SM)

#ifdef SQZ_CUK_WGMMA
SQZ_CUK_WRAP3(f16, wgmma, 90a)
SQZ_CUK_WRAP3(int8, wgmma, 90a)
SQZ_CUK_WRAP3(int4, wgmma, 90a)
SQZ_CUK_WRAP3(ternary2, wgmma, 90a)
SQZ_CUK_WRAP3(sp24_f16, wgmma, 90a)
SQZ_CUK_WRAP3(sp24_int4, wgmma, 90a)
SQZ_CUK_WRAP3(nf4, wgmma, 90a)
#else
SQZ_CUK_WRAP(f16)
SQZ_CUK_WRAP(int8)
SQZ_CUK_WRAP(int4)
SQZ_CUK_WRAP(ternary2)
SQZ_CUK_WRAP(sp24_f16)
SQZ_CUK_WRAP(sp24_int4)
SQZ_CUK_WRAP(nf4)
#endif
