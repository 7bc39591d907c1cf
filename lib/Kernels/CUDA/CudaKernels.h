/*===- CudaKernels.h - CUDA kernel ABI and weight packing ---------*- C -*-===*
 *
 * The contract between the CUDA kernels (lib/Kernels/CUDA/ *.cu, compiled by
 * clang-22 to NVPTX bitcode at build time, no nvcc), the compiler
 * (`sqz-materialize{target=cuda}` packs logical weights with sqz_cuk_pack;
 * the CUDA lowering wraps each call in a gpu.func kernel and links the
 * bitcode into the generated gpu.module), and the kernel tests/benchmarks.
 *
 * The logical (target independent) form of a compressed linear is the CPU
 * one, sqz_uk_logical in lib/Kernels/CPU/Microkernels.h: one owner.
 * Plain C so that generated code, kernels and tools agree on one ABI.
 *===----------------------------------------------------------------------===*/

#ifndef SQZ_KERNELS_CUDA_CUDAKERNELS_H
#define SQZ_KERNELS_CUDA_CUDAKERNELS_H

#include <stdint.h>

#ifndef __CUDA_ARCH__
#include "Microkernels.h" /* sqz_uk_logical, sqz_uk_header */
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Device weight formats. Numbers are stored in blobs (sqz_uk_header::format
 * of a CUDA blob); never renumber. Dense fp32 linears are packed to fp16 for
 * the tensor cores (accumulation stays fp32). */
enum sqz_cuk_format {
  SQZ_CUK_F16 = 1,       /* dense, fp16 weights from SQZ_UK_F32 */
  SQZ_CUK_INT8 = 2,      /* from SQZ_UK_INT8 */
  SQZ_CUK_INT4 = 3,      /* from SQZ_UK_INT4 (any group, sym/asym) */
  SQZ_CUK_NF4 = 4,       /* from SQZ_UK_NF4: codebook lookup by prmt */
  SQZ_CUK_TERNARY2 = 5,  /* from SQZ_UK_TERNARY2 / TERNARY16 */
  SQZ_CUK_SP24_F16 = 7,  /* from SQZ_UK_SP24_F32: mma.sp, fp16 values */
  SQZ_CUK_SP24_INT4 = 8, /* from SQZ_UK_SP24_INT4 */
};

/* CUDA blobs carry the 64-byte sqz_uk_header with this magic; the payload
 * layout (fragment order, 2:4 metadata as mma.sp expects) belongs to the
 * format's kernel file and is documented in docs/Kernels.md. Blobs are
 * placed 256-byte aligned in device memory. */
#define SQZ_CUK_MAGIC 0x43515a53u /* bytes "SZQC" in memory (little-endian) */
#define SQZ_CUK_VERSION 1

/* How the generated code launches one call: the gpu.func wrapper calls the
 * device function `symbol` from every thread of a grid x block launch with
 * `shared_bytes` of dynamic shared memory. */
typedef struct sqz_cuk_launch {
  const char *symbol; /* e.g. "sqz_cuk_int4_gemv_sm80" */
  uint32_t grid[3];
  uint32_t block[3];
  uint32_t shared_bytes;
  /* Activation rows a block computes: grid[0] = ceil(M / rows_per_block)
   * (1 for M = 0); the rest of the launch does not depend on M within the
   * variant's range of M (a launch for a dynamic M: below). */
  uint32_t rows_per_block;
} sqz_cuk_launch;

/* ---- Host side (static library SqzKernelsCUDA; no CUDA needed) ---- */
#ifndef __CUDA_ARCH__
/* Checks that `w` (an SQZ_UK_* logical form) can be packed for the GPU;
 * on failure returns 0 and writes a message naming what was expected. */
int sqz_cuk_can_pack(const sqz_uk_logical *w, char *error, int64_t error_size);
/* The CUDA format `w` packs to (SQZ_CUK_*), 0 if none. */
int32_t sqz_cuk_format_of(const sqz_uk_logical *w);
/* Bytes of the packed blob (header included); -1 if it cannot be packed. */
int64_t sqz_cuk_packed_bytes(const sqz_uk_logical *w);
/* Packs into `out` (sqz_cuk_packed_bytes(w) bytes). Deterministic.
 * Returns 0 on success, nonzero on invalid input. */
int sqz_cuk_pack(const sqz_uk_logical *w, uint8_t *out);
/* The kernel and launch shape for a packed blob's header, M rows of
 * activations and a target `sm`: the compute capability (80, 86, 89, 90, ...:
 * the sm_80 kernels below 90, the sm_90 ones from 90), with
 * SQZ_CUK_SM_ARCH_SPECIFIC or'ed in for an architecture-specific target
 * (sm_90a = 90 | SQZ_CUK_SM_ARCH_SPECIFIC: adds the wgmma kernels, which run
 * only on compute capability 9.0). Returns 0 on success. */
#define SQZ_CUK_SM_ARCH_SPECIFIC 0x1000
int sqz_cuk_plan(const sqz_uk_header *h, int64_t M, int32_t sm,
                 sqz_cuk_launch *out);

/* -- Additions (kernels helper) -- */

/* Kernel variants: gemv (one 8-row m-tile per block, chosen for M <= 8), gemm
 * (four m-tiles, 32 activation rows per block; 8 < M < 128), gemm64 (64
 * activation rows x 4 n-tiles per block, one n-tile per warp; M >= 128) and
 * wgmma (gemm64's tiling with one warpgroup wgmma.m64n64k16 / 2:4
 * wgmma.sp.m64n64k32 per k step instead of per-warp mma.sync / mma.sp; sm_90a
 * only, where it replaces gemm64 for M >= 128). */
/* The ranges of M of sqz_cuk_plan's choice: gemv for M <= SQZ_CUK_GEMV_MAX_M,
 * gemm64 (wgmma on sm_90a) for M >= SQZ_CUK_GEMM64_MIN_M, gemm between. */
#define SQZ_CUK_GEMV_MAX_M 8
#define SQZ_CUK_GEMM64_MIN_M 128
enum sqz_cuk_variant {
  SQZ_CUK_VARIANT_AUTO = 0,
  SQZ_CUK_VARIANT_GEMV = 1,
  SQZ_CUK_VARIANT_GEMM = 2,
  SQZ_CUK_VARIANT_GEMM64 = 3,
  SQZ_CUK_VARIANT_WGMMA = 4,
};
/* sqz_cuk_plan with an explicit variant (AUTO = what sqz_cuk_plan picks)
 * and the reason for a failure written into `error`. Returns 0 on success. */
int sqz_cuk_plan_checked(const sqz_uk_header *h, int64_t M, int32_t sm,
                         int32_t variant, sqz_cuk_launch *out, char *error,
                         int64_t error_size);
/* "f16", "int8", "int4", "ternary2", "sp24_f16", "sp24_int4", "nf4"; NULL if
 * `format` is not an SQZ_CUK_* value. */
const char *sqz_cuk_format_name(int32_t format);
/* Every device function symbol (formats x {gemv, gemm, gemm64} x {sm80, sm90},
 * then the formats' wgmma_sm90a): the count, and the i-th name (NULL out of
 * range). */
int32_t sqz_cuk_kernel_count(void);
const char *sqz_cuk_kernel_name(int32_t i);
#endif

/* ---- Device functions (NVPTX bitcode linked into generated modules) ----
 *
 * Every kernel is an extern "C" __device__ function with this signature,
 * named sqz_cuk_<format>_<variant>_<sm> (variant: gemv, gemm, ...):
 *
 *   void sqz_cuk_int4_gemv_sm80(const uint8_t *blob, const float *x,
 *                               int64_t M, int64_t ldx, const float *bias,
 *                               float *y, int64_t ldy);
 *
 * It is called by every thread of the launch sqz_cuk_plan returned and
 * computes, for 0 <= m < M and 0 <= n < N (N, K from the blob header),
 *   y[m * ldy + n] = sum_k x[m * ldx + k] * W[n, k] (+ bias[n] if bias)
 * overwriting y. x, y, bias are fp32 in device memory; tensor-core paths
 * round x to fp16 and accumulate in fp32. It uses blockIdx/threadIdx and the
 * dynamic shared memory of the launch, nothing else (no globals written, no
 * device malloc).
 *
 * Built (lib/Kernels/CUDA/CMakeLists.txt): sqz_cuk_<fmt>_{gemv,gemm,gemm64}_sm{80,90}
 * with <fmt> in f16, int8, int4, ternary2, sp24_f16, sp24_int4, nf4, and
 * sqz_cuk_<fmt>_wgmma_sm90a (PTX 8.2). The launch is
 * 1-D blocks of 128 threads, grid (ceil(M / rows per block), ceil(N / (16 * n-tiles
 * per block))),
 * at most 48 KiB of dynamic shared memory (declared in the kernels as
 * `extern __shared__ uint8_t sqz_cuk_dynamic_smem[]`, so no opt-in attribute
 * is needed). The blob must be 16-byte aligned (256 recommended); x and y must
 * not overlap; x is read through the non-coherent cache. Layout and method:
 * CudaLayout.h, GemmCommon.cuh, docs/Kernels.md ("CUDA kernels"). */

#ifdef __cplusplus
}
#endif

#endif /* SQZ_KERNELS_CUDA_CUDAKERNELS_H */
