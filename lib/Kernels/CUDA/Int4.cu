//===- Int4.cu - CUDA kernels: 4-bit group-quantized weights ===//
//
// sqz_cuk_int4_gemv_sm<SM> and sqz_cuk_int4_gemm_sm<SM> (SM from -DSQZ_CUK_SM); the
// kernel is GemmCommon.cuh, the layout CudaLayout.h.
//
//===----------------------------------------------------------------------===//

#include "GemmCommon.cuh"

SQZ_CUK_DEFINE_KERNELS(int4, sqz_cuk::kInt4)
