//===- NF4.cu - CUDA kernels: 4-bit NormalFloat weights -------------------===//
//
// sqz_cuk_nf4_gemv_sm<SM> and sqz_cuk_nf4_gemm_sm<SM> (SM from -DSQZ_CUK_SM); the kernel is
// GemmCommon.cuh (codebook lookup by prmt, nf4Pairs), the layout CudaLayout.h.
//
//===----------------------------------------------------------------------===//

#include "GemmCommon.cuh"

SQZ_CUK_DEFINE_KERNELS(nf4, sqz_cuk::kNF4)
