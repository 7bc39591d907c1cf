//===- Int8.cu - CUDA kernels: 8-bit group-quantized weights ===//
//
// sqz_cuk_int8_gemv_sm<SM> and sqz_cuk_int8_gemm_sm<SM> (SM from -DSQZ_CUK_SM); the
// kernel is GemmCommon.cuh, the layout CudaLayout.h.
//
//===----------------------------------------------------------------------===//

#include "GemmCommon.cuh"

SQZ_CUK_DEFINE_KERNELS(int8, sqz_cuk::kInt8)
