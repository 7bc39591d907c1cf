//===- F16.cu - CUDA kernels: dense fp16 weights (mma.sync m16n8k16) ===//
//
// sqz_cuk_f16_gemv_sm<SM> and sqz_cuk_f16_gemm_sm<SM> (SM from -DSQZ_CUK_SM); the
// kernel is GemmCommon.cuh, the layout CudaLayout.h.
//
//===----------------------------------------------------------------------===//

#include "GemmCommon.cuh"

SQZ_CUK_DEFINE_KERNELS(f16, sqz_cuk::kF16)
