//===- Sp24Int4.cu - CUDA kernels: 2:4-sparse int4 weights (mma.sp m16n8k32) ===//
//
// sqz_cuk_sp24_int4_gemv_sm<SM> and sqz_cuk_sp24_int4_gemm_sm<SM> (SM from -DSQZ_CUK_SM); the
// kernel is GemmCommon.cuh, the layout CudaLayout.h.
//
//===----------------------------------------------------------------------===//

#include "GemmCommon.cuh"

SQZ_CUK_DEFINE_KERNELS(sp24_int4, sqz_cuk::kSp24Int4)
