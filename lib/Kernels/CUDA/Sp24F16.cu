//===- Sp24F16.cu - CUDA kernels: 2:4-sparse fp16 weights (mma.sp m16n8k32) ===//
//
// sqz_cuk_sp24_f16_gemv_sm<SM> and sqz_cuk_sp24_f16_gemm_sm<SM> (SM from -DSQZ_CUK_SM); the
// kernel is GemmCommon.cuh, the layout CudaLayout.h.
//
//===----------------------------------------------------------------------===//

#include "GemmCommon.cuh"

SQZ_CUK_DEFINE_KERNELS(sp24_f16, sqz_cuk::kSp24F16)
