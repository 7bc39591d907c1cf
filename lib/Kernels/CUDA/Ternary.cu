//===- Ternary.cu - CUDA kernels: ternary weights at 2 bits ===//
//
// sqz_cuk_ternary2_gemv_sm<SM> and sqz_cuk_ternary2_gemm_sm<SM> (SM from -DSQZ_CUK_SM); the
// kernel is GemmCommon.cuh, the layout CudaLayout.h.
//
//===----------------------------------------------------------------------===//

#include "GemmCommon.cuh"

SQZ_CUK_DEFINE_KERNELS(ternary2, sqz_cuk::kTernary2)
