//===- GemmCommon.cuh - The CUDA weight-streaming GEMV/GEMM kernel ---------===//
//
// One kernel template for every CUDA weight format (CudaLayout.h has the
// layout). Freestanding CUDA C++ for clang-22 (-nocudainc -nocudalib): no
// CUDA headers, PTX through inline asm (mma.sync / mma.sp / ldmatrix /
// cp.async) and clang's NVVM builtins (special registers).
//
// Launch (sqz_cuk_plan): grid (ceil(M / (8 * MT)), n_tiles), block 128
// threads (4 warps), dynamic shared memory
//   8 * MT * (KW + 8) * 2     staged activations (fp16, one K window; wgmma: no + 8 padding)
//   + 4 warps * S stages * 512  the per-warp cp.async ring of weight chunks (S = 8 gemv, 4 gemm).
// (gemm64: grid (ceil(M / 64), ceil(n_tiles / 4)), warp w of block (bx, by) owns n-tile
// 4 by + w and all of K; see gemmKernel's kSplitN.)
// Block (bx, by) computes rows n of n-tile by for activation rows
// bx * 8 * MT ... + 8 * MT - 1: the blocks of one n-tile are consecutive in launch order, so
// when M needs several blocks they stream the same weights at about the same time and all but
// the first read them from L2, not HBM. The 4 warps split K: within each window of
// KW columns warp w owns chunks [w * R, (w + 1) * R) (R = KW / (4 * KC)); the
// partial sums are reduced through shared memory at the end, then written
// with the bias (y is overwritten, never accumulated into).
//
// Per window: all threads convert x[rows][window] fp32 -> fp16 into shared
// memory (16-byte vector loads when x is 16-byte aligned and ldx % 4 == 0),
// barrier; each warp then, per chunk: waits for its cp.async (issued
// S - 1 chunks ahead, across windows), reads its 16 bytes of A
// fragments, dequantizes in registers (f16x2 or/sub/mul), loads the B
// fragments with ldmatrix and issues the mma for each of the MT m-tiles.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_KERNELS_CUDA_GEMMCOMMON_CUH
#define SQZ_KERNELS_CUDA_GEMMCOMMON_CUH

#include "CudaLayout.h"

#include <stdint.h>

#ifndef SQZ_CUK_SM
#error "compile with -DSQZ_CUK_SM=80 or 90"
#endif

#ifdef SQZ_CUK_EMULATE
// Host emulation for the kernel tests (unittests/Kernels/CUDA/Emulate.h): the same kernel code
// run by one host thread per CUDA thread, with the PTX instructions below emulated from the
// PTX ISA's definitions.
#define SQZ_DEV
#define SQZ_INLINE inline
#else
#define SQZ_DEV __attribute__((device))
#define SQZ_INLINE __attribute__((device)) __attribute__((always_inline)) inline
#define SQZ_SHARED __attribute__((shared))
#endif

namespace sqz_cuk {
namespace dev {

/// The 64-byte sqz_uk_header (Microkernels.h; not included in device code).
struct Header {
  uint32_t magic;
  uint16_t version;
  uint16_t format;
  int64_t N, K;
  int64_t group;
  uint32_t flags;
  uint32_t reserved0;
  int64_t offsets[3];
};
static_assert(sizeof(Header) == 64, "sqz_uk_header is 64 bytes");

struct alignas(16) U4 {
  uint32_t x, y, z, w;
};
struct alignas(16) F4 {
  float x, y, z, w;
};

#ifdef SQZ_CUK_EMULATE
} // namespace dev
} // namespace sqz_cuk
#include "Emulate.h"
namespace sqz_cuk {
namespace dev {
#else
SQZ_INLINE uint32_t tidX() { return __nvvm_read_ptx_sreg_tid_x(); }
SQZ_INLINE uint32_t ctaX() { return __nvvm_read_ptx_sreg_ctaid_x(); }
SQZ_INLINE uint32_t ctaY() { return __nvvm_read_ptx_sreg_ctaid_y(); }

SQZ_INLINE void barSync() { asm volatile("bar.sync 0;" ::: "memory"); }
SQZ_INLINE void warpSync() { asm volatile("bar.warp.sync -1;" ::: "memory"); }

SQZ_INLINE uint32_t sharedAddr(const void *p) {
  uint32_t a;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
  return a;
}

SQZ_INLINE void cpAsync16(uint32_t dst, const void *src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(src) : "memory");
}
SQZ_INLINE void cpAsyncCommit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N> SQZ_INLINE void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

SQZ_INLINE U4 ldShared128(uint32_t addr) {
  U4 v;
  asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "r"(addr)
               : "memory");
  return v;
}

/// Read-only global loads through the non-coherent path (weights, scales, activations are
/// never written during a call). Generic pointers are valid global addresses.
SQZ_INLINE F4 ldgF4(const float *p) {
  F4 v;
  asm volatile("ld.global.nc.v4.f32 {%0, %1, %2, %3}, [%4];"
               : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
               : "l"(p));
  return v;
}
SQZ_INLINE uint32_t ldgU32(const void *p) {
  uint32_t v;
  asm volatile("ld.global.nc.u32 %0, [%1];" : "=r"(v) : "l"(p));
  return v;
}

SQZ_INLINE void ldmatrixX4(uint32_t addr, uint32_t &b0, uint32_t &b1, uint32_t &b2,
                           uint32_t &b3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(b0), "=r"(b1), "=r"(b2), "=r"(b3)
               : "r"(addr)
               : "memory");
}
SQZ_INLINE void ldmatrixX2(uint32_t addr, uint32_t &b0, uint32_t &b1) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];"
               : "=r"(b0), "=r"(b1)
               : "r"(addr)
               : "memory");
}

/// D = A * B + D, m16n8k16, fp16 inputs, fp32 accumulators.
SQZ_INLINE void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/// D = A * B + D, 2:4-sparse A, m16n8k32, metadata e, sparsity selector SEL.
template <int SEL>
SQZ_INLINE void mmaSp16832(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1,
                           uint32_t b2, uint32_t b3, uint32_t e) {
  asm volatile("mma.sp.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9, %10, %11}, {%0, %1, %2, %3}, "
               "%12, %13;"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(b2),
                 "r"(b3), "r"(e), "n"(SEL));
}

SQZ_INLINE uint32_t hsub2(uint32_t a, uint32_t b) {
  uint32_t d;
  asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}
SQZ_INLINE uint32_t hmul2(uint32_t a, uint32_t b) {
  uint32_t d;
  asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}
/// Byte permute (PTX prmt.b32, default mode): byte i of the result is byte (c >> 4i) & 7 of
/// {b, a} (0-3 from a), replaced by 0xFF / 0x00 (its msb, replicated) when bit 4i + 3 of c is
/// set.
SQZ_INLINE uint32_t prmt(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t d;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}
/// Two floats -> packed f16x2 (round to nearest even), lo in the low half.
SQZ_INLINE uint32_t packHalf2(float lo, float hi) {
  uint32_t d;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
}

SQZ_INLINE void stShared64(uint32_t addr, uint32_t lo, uint32_t hi) {
  asm volatile("st.shared.v2.u32 [%0], {%1, %2};" ::"r"(addr), "r"(lo), "r"(hi) : "memory");
}

extern SQZ_SHARED __attribute__((aligned(16))) uint8_t sqz_cuk_dynamic_smem[];
// wgmma: sm_90a only (architecture-specific: .target sm_90a, PTX 8.0; sparse 8.2); only the sm_90a build's
// wgmma kernels call these.

/// Orders this thread's generic-proxy shared-memory writes (the staged activations) before
/// the async proxy's reads (wgmma's B operand); followed by a barrier.
SQZ_INLINE void fenceProxyAsync() { asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); }
/// Orders the registers' prior accesses (fresh A fragments, accumulators) before wgmma's.
SQZ_INLINE void wgmmaFence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
SQZ_INLINE void wgmmaCommit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int N> SQZ_INLINE void wgmmaWait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}

/// The 32 fp32 accumulators of an m64n64 wgmma: operands %0 ... %31 ("+f", d[j][i] in order).
#define SQZ_CUK_WGMMA_ACC_REGS                                                                     \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                        \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
#define SQZ_CUK_WGMMA_ACC4(d, j) "+f"(d[j][0]), "+f"(d[j][1]), "+f"(d[j][2]), "+f"(d[j][3])
#define SQZ_CUK_WGMMA_ACC(d)                                                                       \
  SQZ_CUK_WGMMA_ACC4(d, 0), SQZ_CUK_WGMMA_ACC4(d, 1), SQZ_CUK_WGMMA_ACC4(d, 2),                    \
      SQZ_CUK_WGMMA_ACC4(d, 3), SQZ_CUK_WGMMA_ACC4(d, 4), SQZ_CUK_WGMMA_ACC4(d, 5),                \
      SQZ_CUK_WGMMA_ACC4(d, 6), SQZ_CUK_WGMMA_ACC4(d, 7)

/// D[64 x 64] += A[64 x 16] * B[16 x 64] for the warpgroup (the block's 4 warps): A from
/// registers (warp w holds rows 16 w ... 16 w + 15 in the mma.m16n8k16 A layout), B from shared
/// memory through the matrix descriptor `desc` (K-major), fp32 accumulators d[j][i] in the
/// m16n8 C layout of column block j (PTX ISA, wgmma .m64nNk16 fragments).
SQZ_INLINE void wgmma64x64x16(float (&d)[8][4], const uint32_t (&a)[4], uint64_t desc) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
               "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
               SQZ_CUK_WGMMA_ACC_REGS
               "{%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}"
               : SQZ_CUK_WGMMA_ACC(d)
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "n"(1)
               : "memory");
}

/// The 2:4 form (PTX 8.2): D[64 x 64] += A[64 x 32] * B[32 x 64], A 2:4-sparse: warp w holds the
/// compressed 16 x 16 of rows 16 w ... in the mma.sp m16n8k32 A layout and its metadata e in the
/// mma.sp .f16 layout (sparsity selector SEL: lanes 4g + 2 SEL, + 1 supply it).
template <int SEL>
SQZ_INLINE void wgmmaSp64x64x32(float (&d)[8][4], const uint32_t (&a)[4], uint64_t desc,
                                uint32_t e) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %38, 0;\n"
               "wgmma.mma_async.sp.sync.aligned.m64n64k32.f32.f16.f16 "
               SQZ_CUK_WGMMA_ACC_REGS
               "{%32, %33, %34, %35}, %36, %37, %39, p, 1, 1, 0;\n}"
               : SQZ_CUK_WGMMA_ACC(d)
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(e), "n"(1), "n"(SEL)
               : "memory");
}
#endif // SQZ_CUK_EMULATE

/// x[m][k .. k + 3] as two f16x2 (zeros for m >= M and for columns >= K).
SQZ_INLINE void loadQuad(const float *__restrict__ x, int64_t M, int64_t ldx, int64_t K, int64_t m,
                         int64_t k, bool vec, uint32_t &lo, uint32_t &hi) {
  float v0 = 0.f, v1 = 0.f, v2 = 0.f, v3 = 0.f;
  if (m < M) {
    const float *p = x + m * ldx + k;
    if (vec && k + 3 < K) {
      F4 f = ldgF4(p);
      v0 = f.x;
      v1 = f.y;
      v2 = f.z;
      v3 = f.w;
    } else {
      if (k < K)
        v0 = p[0];
      if (k + 1 < K)
        v1 = p[1];
      if (k + 2 < K)
        v2 = p[2];
      if (k + 3 < K)
        v3 = p[3];
    }
  }
  lo = packHalf2(v0, v1);
  hi = packHalf2(v2, v3);
}

/// Converts x[m0 + row][kw0 + k] (k < KW) to fp16 into xs (row stride XS halves), zero for
/// k >= K. Only rows m0 + row < M are written: a row of B only feeds its own output column
/// of the mma, so the stale shared memory of rows >= M reaches only discarded outputs (while
/// columns >= K must be zeros: the padded weights are zero, but 0 * NaN is not).
template <int MT, int KW>
SQZ_INLINE void stageX(uint32_t xsAddr, const float *__restrict__ x, int64_t M, int64_t ldx,
                       int64_t K, int64_t m0, int64_t kw0, bool vec) {
  constexpr int XS = KW + kXPad;
  constexpr int quadsPerRow = KW / 4;
  const int rows = M - m0 < 8 * MT ? (int)(M - m0) : 8 * MT;
  const int total = rows * quadsPerRow;
  for (int q = tidX(); q < total; q += kWarps * 32) {
    int row = q / quadsPerRow;
    int kq = (q % quadsPerRow) * 4;
    uint32_t lo, hi;
    loadQuad(x, M, ldx, K, m0 + row, kw0 + kq, vec, lo, hi);
    stShared64(xsAddr + (uint32_t)(row * XS + kq) * 2, lo, hi);
  }
}

/// The wgmma variant's staging: the same values in the K-major "core matrix" layout of the
/// wgmma shared-memory operand without swizzling (PTX ISA, "Shared Memory Matrix Layout"):
/// element (row, k) at half ((k / 8) * 8 MT + row) * 8 + k % 8, i.e. 8 x 8 core matrices of
/// 128 contiguous bytes, the 8 MT / 8 of one 8-column slice consecutive (stride 128 bytes
/// along the rows, wgmmaSbo) and the slices 8 MT * 16 bytes apart (along K, wgmmaLbo).
/// Consecutive threads write consecutive 8 bytes. Rows >= M are skipped as in stageX.
template <int MT, int KW>
SQZ_INLINE void stageXCore(uint32_t xsAddr, const float *__restrict__ x, int64_t M, int64_t ldx,
                           int64_t K, int64_t m0, int64_t kw0, bool vec) {
  constexpr int kRows = 8 * MT;
  constexpr int total = (KW / 4) * kRows;
  const int rows = M - m0 < kRows ? (int)(M - m0) : kRows;
  for (int q = tidX(); q < total; q += kWarps * 32) {
    const int half = q & 1, row = (q >> 1) % kRows, slice = (q >> 1) / kRows;
    if (row >= rows)
      continue;
    uint32_t lo, hi;
    loadQuad(x, M, ldx, K, m0 + row, kw0 + slice * 8 + half * 4, vec, lo, hi);
    stShared64(xsAddr + (uint32_t)((slice * kRows + row) * 8 + half * 4) * 2, lo, hi);
  }
}

/// Byte strides of stageXCore's layout for the wgmma matrix descriptor: between core matrices
/// adjacent in K (the "leading dimension byte offset" of a K-major operand) and in N (the
/// "stride dimension byte offset").
template <int MT> SQZ_INLINE constexpr uint32_t wgmmaLbo() { return 8 * MT * 16; }
SQZ_INLINE constexpr uint32_t wgmmaSbo() { return 128; }
/// The 64-bit wgmma matrix descriptor of a K-major, unswizzled shared-memory operand starting
/// at shared address `addr` (16-byte aligned): bits 0-13 addr >> 4, 16-29 lbo >> 4, 32-45
/// sbo >> 4, base offset 0, swizzle mode 0 (bits 62-63).
SQZ_INLINE uint64_t wgmmaDesc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
  return (uint64_t)((addr & 0x3FFFFu) >> 4) | ((uint64_t)((lbo >> 4) & 0x3FFFu) << 16) |
         ((uint64_t)((sbo >> 4) & 0x3FFFu) << 32);
}

/// Dequantizes pair P (register r of step P / 4) of the lane's 16 bytes w into an f16x2 A
/// register: ((code pair) | 1024) - zz, times sc.
template <int F>
SQZ_INLINE uint32_t dequantPair(const uint32_t (&w)[4], int P, uint32_t zz, uint32_t sc) {
  constexpr int b = codeBits(F);
  constexpr int ppw = 16 / b;
  constexpr uint32_t mask = b == 8 ? 0x00ff00ffu : b == 4 ? 0x000f000fu : 0x00030003u;
  uint32_t word = w[P / ppw];
  uint32_t raw = ((word >> (b * (P % ppw))) & mask) | 0x64006400u;
  return hmul2(hsub2(raw, zz), sc);
}

/// The nf4 pairs of one step (word `word`: byte q = pair q, h = 0 slot in the low nibble) as
/// f16x2 table values, not yet scaled: per 16-bit half (four slots, one prmt selector) two
/// lookups per byte plane combined by XOR, then the bytes interleaved into two f16x2
/// (CudaLayout.h, "NF4 lookup table").
SQZ_INLINE void nf4Pairs(uint32_t word, const uint32_t (&lut)[kNF4LutWords], uint32_t (&out)[4]) {
  const uint32_t flipped = word ^ 0x88888888u; // B-plane selectors: slot j + 8 reads plainly
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const uint32_t s = half ? word >> 16 : word;
    const uint32_t sb = half ? flipped >> 16 : flipped;
    const uint32_t lo = prmt(lut[0], lut[1], s) ^ prmt(lut[2], lut[3], sb);
    const uint32_t hi = prmt(lut[4], lut[5], s) ^ prmt(lut[6], lut[7], sb);
    out[2 * half] = prmt(lo, hi, 0x5140u);     // pair 2 half: bytes lo0 hi0 lo1 hi1
    out[2 * half + 1] = prmt(lo, hi, 0x7362u); // pair 2 half + 1: lo2 hi2 lo3 hi3
  }
}

/// One chunk's warpgroup MMAs: wgmma.fence, SPC wgmmas (2:4: wgmma.sp, step st with sparsity
/// selector (P + st) & 1, P the parity of the chunk's first sparse step), commit_group.
template <int F, int SPC, int P>
SQZ_INLINE void wgmmaChunk(float (&acc)[8][4], const uint32_t (&a)[SPC][4],
                           const uint32_t (&e)[SPC], const uint64_t (&desc)[SPC]) {
  wgmmaFence();
#pragma unroll
  for (int st = 0; st < SPC; ++st) {
    if constexpr (isSparse(F)) {
      if ((P + st) & 1)
        wgmmaSp64x64x32<1>(acc, a[st], desc[st], e[st]);
      else
        wgmmaSp64x64x32<0>(acc, a[st], desc[st], e[st]);
    } else {
      wgmma64x64x16(acc, a[st], desc[st]);
    }
  }
  wgmmaCommit();
}

/// The kernel body, run by every thread of the launch. kSplitN (the gemm64 variant): the 4
/// warps own 4 consecutive n-tiles (n-tile 4 * blockIdx.y + warp) and each walks all of K,
/// so a staged activation window feeds 4 n-tiles and a weight fragment MT m-tiles, and no
/// cross-warp reduction is needed. Otherwise the block owns n-tile blockIdx.y and the warps
/// split K. kWgmma (the sm_90a wgmma variant, MT = 8): gemm64's split, but the 4 warps' A
/// fragments of a step form one 64 x 16 operand (2:4: 64 x 32 compressed to 64 x 16, with each
/// warp's metadata) and the block issues one warpgroup wgmma.m64n64k16 (wgmma.sp.m64n64k32)
/// per step over all 64 activation rows, B read by the tensor cores from shared memory
/// (stageXCore's layout) instead of ldmatrix + 8 mma.sync / mma.sp per warp.
template <int F, int MT, int KW, int kStages, bool kSplitN = false, bool kWgmma = false>
SQZ_INLINE void gemmKernel(const uint8_t *__restrict__ blob, const float *__restrict__ x,
                           int64_t M, int64_t ldx, const float *__restrict__ bias,
                           float *__restrict__ y, int64_t ldy) {
  constexpr int KC = chunkCols(F);
  constexpr int SPC = stepsPerChunk(F);
  constexpr int SC = stepCols(F);
  constexpr int R = kSplitN ? KW / KC : KW / (kWarps * KC); // chunks per window per warp
  static_assert(R >= 1 && KW % ((kSplitN ? 1 : kWarps) * KC) == 0,
                "window must hold whole chunks");
  static_assert(!kWgmma || (kSplitN && MT == 8),
                "wgmma: the gemm64 split, 64 activation rows (m64n64k16 / sparse m64n64k32)");
  constexpr int XS = KW + (kWgmma ? 0 : kXPad);
  constexpr bool sparse = isSparse(F);
  constexpr bool quant = isQuant(F);

  const Header *h = reinterpret_cast<const Header *>(blob);
  const int64_t N = h->N, K = h->K;
  const bool asym = (h->flags & 1u) != 0;
  const Layout L = layoutOf(F, N, K, quant ? h->group : 1, asym);
  const int64_t group = quant ? h->group : 1;

  const int tid = (int)tidX();
  const int warp = tid / 32, lane = tid % 32;
  const int g = lane / 4;
  const int64_t nt = kSplitN ? (int64_t)ctaY() * kWarps + warp : (int64_t)ctaY();
  const int64_t m0 = (int64_t)ctaX() * (8 * MT);
  // gemm64: a warp past the last n-tile computes nothing but keeps to the block's barriers
  // (and, with wgmma, takes part in the warpgroup's mma with zero weights).
  const bool active = !kSplitN || nt < L.nTiles; // warp-uniform

  const uint32_t smemBase = sharedAddr(sqz_cuk_dynamic_smem);
  const uint32_t xsAddr = smemBase;
  const uint32_t ringAddr =
      smemBase + 8 * MT * XS * 2 + (uint32_t)(warp * kStages * kChunkBytes + lane * kLaneBytes);

  const uint8_t *wdata = blob + h->offsets[0] + nt * L.nChunks * kChunkBytes + lane * kLaneBytes;
  const uint8_t *scales = quant ? blob + h->offsets[1] : nullptr;
  const uint8_t *zeros = quant && asym && F != kNF4 ? blob + h->offsets[2] : nullptr;
  uint32_t lut[kNF4LutWords] = {};
  if constexpr (F == kNF4)
#pragma unroll
    for (int i = 0; i < kNF4LutWords; ++i)
      lut[i] = ldgU32(blob + h->offsets[2] + 4 * i);
  const uint8_t *meta = sparse ? blob + L.metaOffset : nullptr;
  const int64_t metaPairs = L.kPad / kMetaPairCols;

  const int64_t nWindows = ceilDiv(L.kPad, KW);
  const int64_t nMine = nWindows * R;
  auto chunkOf = [&](int64_t i) -> int64_t {
    return kSplitN ? i : (i / R) * (kWarps * R) + warp * R + (i % R);
  };
  auto issue = [&](int64_t i) {
    if (active && i < nMine) {
      int64_t c = chunkOf(i);
      if (c < L.nChunks)
        cpAsync16(ringAddr + (uint32_t)((i % kStages) * kChunkBytes), wdata + c * kChunkBytes);
    }
    cpAsyncCommit(); // possibly empty: keeps the group count uniform
  };

  for (int s = 0; s < kStages - 1; ++s)
    issue(s);

  // x may use 16-byte loads when every row start is 16-byte aligned.
  const bool vec = (ldx % 4 == 0) && ((reinterpret_cast<uintptr_t>(x) & 15) == 0);

  float acc[MT][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int i = 0; i < 4; ++i)
      acc[mt][i] = 0.f;

  // Per-lane ldmatrix row address inside the staged window: matrix lane / 8, row lane % 8.
  const uint32_t bLaneOff = (uint32_t)((lane % 8) * XS + 8 * (lane / 8)) * 2;
  const uint32_t bLaneOffX2 = (uint32_t)((lane % 8) * XS + 8 * ((lane / 8) & 1)) * 2;

  int64_t lastGroup = -1;
  const uint32_t groupU = (uint32_t)group; // group <= K <= 2^31
  const bool groupHoldsChunks = quant && group % KC == 0;
  const uint32_t lastGroupIndex = quant ? (uint32_t)(L.groups - 1) : 0;
  uint32_t sc[2] = {0, 0};
  uint32_t zz[2];
  {
    uint32_t z = 0x6400u | (uint32_t)symmetricZero(F);
    zz[0] = zz[1] = z | (z << 16);
  }

  // The A fragments (f16x2) of step st of chunk c from the lane's 16 bytes w: the weights
  // themselves (f16 formats) or dequantized with the step's group scale (and zero).
  auto fragA = [&](const uint32_t (&w)[4], int64_t c, uint32_t chunkGroup, int st,
                   uint32_t (&a)[4]) {
    if constexpr (quant) {
      const int64_t kStep = c * KC + st * SC; // dense column of the step
      // The step's group, without a 64-bit division per step: none when there is one
      // group, one 32-bit division per chunk when groups hold whole chunks.
      uint32_t gi;
      if (L.groups == 1)
        gi = 0;
      else if (groupHoldsChunks)
        gi = chunkGroup;
      else
        gi = (uint32_t)kStep / groupU;
      if (gi > lastGroupIndex)
        gi = lastGroupIndex;
      if ((int64_t)gi != lastGroup) { // warp-uniform
        lastGroup = gi;
        int64_t off = ((nt * L.groups + gi) * 8 + g) * 4;
        uint32_t s2 = ldgU32(scales + off);
        sc[0] = (s2 & 0xffffu) | (s2 << 16);
        sc[1] = (s2 >> 16) | (s2 & 0xffff0000u);
        if (zeros) {
          uint32_t z2 = ldgU32(zeros + off);
          zz[0] = (z2 & 0xffffu) | (z2 << 16);
          zz[1] = (z2 >> 16) | (z2 & 0xffff0000u);
        }
      }
      if constexpr (F == kNF4) {
        uint32_t v[4];
        nf4Pairs(w[st], lut, v);
#pragma unroll
        for (int rr = 0; rr < 4; ++rr)
          a[rr] = hmul2(v[rr], sc[rr & 1]);
      } else {
#pragma unroll
        for (int rr = 0; rr < 4; ++rr)
          a[rr] = dequantPair<F>(w, st * 4 + rr, zz[rr & 1], sc[rr & 1]);
      }
    } else {
#pragma unroll
      for (int rr = 0; rr < 4; ++rr)
        a[rr] = w[rr];
    }
  };

  for (int64_t win = 0; win < nWindows; ++win) {
    const int64_t kw0 = win * KW;
    barSync(); // every warp is done with the previous window's activations
    if constexpr (kWgmma) {
      stageXCore<MT, KW>(xsAddr, x, M, ldx, K, m0, kw0, vec);
      fenceProxyAsync(); // the wgmmas read the window through the async proxy
    } else {
      stageX<MT, KW>(xsAddr, x, M, ldx, K, m0, kw0, vec);
    }
    barSync();
    for (int r = 0; r < R; ++r) {
      const int64_t i = win * R + r;
      warpSync(); // the slot refilled below was read by every lane one chunk ago
      issue(i + kStages - 1);
      cpAsyncWait<kStages - 1>();
      const int64_t c = chunkOf(i);
      const int kloc = (kSplitN ? r : warp * R + r) * KC; // window column of the chunk
      // A warp skips a chunk it has no weights for, except with wgmma, where every warp takes
      // part in the warpgroup's mma (the chunk index is block-uniform there: chunkOf(i) = i)
      // and a warp past the last n-tile contributes zero weights.
      if (c >= L.nChunks || (!kWgmma && !active))
        continue;
      uint32_t w[4] = {0u, 0u, 0u, 0u};
      if (active) {
        const U4 v = ldShared128(ringAddr + (uint32_t)((i % kStages) * kChunkBytes));
        w[0] = v.x;
        w[1] = v.y;
        w[2] = v.z;
        w[3] = v.w;
      }
      const uint32_t chunkGroup =
          quant && groupHoldsChunks && L.groups > 1 ? (uint32_t)(c * KC) / groupU : 0;
      if constexpr (kWgmma) {
        uint32_t a[SPC][4] = {};
        if (active)
#pragma unroll
          for (int st = 0; st < SPC; ++st)
            fragA(w, c, chunkGroup, st, a[st]);
        // 2:4: each step's metadata word (the mma.sp layout, per warp), loaded before the fence.
        uint32_t e[SPC];
        uint64_t desc[SPC];
#pragma unroll
        for (int st = 0; st < SPC; ++st) {
          e[st] = sparse && active
                      ? ldgU32(meta + (nt * metaPairs + (c * KC + st * SC) / 64) * kMetaPairBytes +
                               lane * 4)
                      : 0x44444444u; // an inactive warp: columns 0, 1 of every group, zero values
          desc[st] = wgmmaDesc(xsAddr + (uint32_t)((kloc + st * SC) / 8) * wgmmaLbo<MT>(),
                               wgmmaLbo<MT>(), wgmmaSbo());
        }
        // The sparsity selector is the global sparse step's parity, an immediate: branch on the
        // chunk's first step outside the fence ... commit sequence (a branch inside it makes
        // ptxas inject warpgroup.arrive), the steps' own parities fold after unrolling.
        if (sparse && ((c * KC / 32) & 1))
          wgmmaChunk<F, SPC, 1>(acc, a, e, desc);
        else
          wgmmaChunk<F, SPC, 0>(acc, a, e, desc);
        // Done before the A registers, the accumulators and (at the next window) the staged
        // activations are touched again.
        wgmmaWait<0>();
        continue;
      }
#pragma unroll
      for (int st = 0; st < SPC; ++st) {
        uint32_t a[4];
        fragA(w, c, chunkGroup, st, a);
        const uint32_t colByte = (uint32_t)(kloc + st * SC) * 2;
        if constexpr (sparse) {
          const int64_t sIdx = (c * KC + st * SC) / 32; // global sparse step
          uint32_t e = ldgU32(meta + (nt * metaPairs + sIdx / 2) * kMetaPairBytes + lane * 4);
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) {
            uint32_t b0, b1, b2, b3;
            ldmatrixX4(xsAddr + (uint32_t)(mt * 8 * XS * 2) + colByte + bLaneOff, b0, b1, b2, b3);
            if (sIdx & 1)
              mmaSp16832<1>(acc[mt], a, b0, b1, b2, b3, e);
            else
              mmaSp16832<0>(acc[mt], a, b0, b1, b2, b3, e);
          }
        } else {
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) {
            uint32_t b0, b1;
            ldmatrixX2(xsAddr + (uint32_t)(mt * 8 * XS * 2) + colByte + bLaneOffX2, b0, b1);
            mma16816(acc[mt], a, b0, b1);
          }
        }
      }
    }
  }
  cpAsyncWait<0>();

  if constexpr (kSplitN) { // each warp writes its own n-tile (C fragment layout)
    if (active)
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int64_t n = nt * kTileN + g + 8 * (i >> 1);
          const int64_t m = m0 + mt * 8 + 2 * (lane % 4) + (i & 1);
          if (n < N && m < M)
            y[m * ldy + n] = acc[mt][i] + (bias ? bias[n] : 0.f);
        }
    return;
  }

  // Cross-warp reduction through shared memory (reuses the activation window).
  barSync();
  float *red = reinterpret_cast<float *>(sqz_cuk_dynamic_smem);
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int i = 0; i < 4; ++i)
      red[((warp * MT + mt) * 4 + i) * 32 + lane] = acc[mt][i];
  barSync();
  for (int e = tid; e < MT * 4 * 32; e += kWarps * 32) {
    float s = 0.f;
#pragma unroll
    for (int wi = 0; wi < kWarps; ++wi)
      s += red[wi * MT * 4 * 32 + e];
    const int mt = e / 128, i = (e / 32) % 4, ln = e % 32;
    const int64_t n = nt * kTileN + ln / 4 + 8 * (i >> 1);
    const int64_t m = m0 + mt * 8 + 2 * (ln % 4) + (i & 1);
    if (n < N && m < M)
      y[m * ldy + n] = s + (bias ? bias[n] : 0.f);
  }
}

} // namespace dev
} // namespace sqz_cuk

#define SQZ_CUK_SYM3(fmt, var, sm) sqz_cuk_##fmt##_##var##_sm##sm
#define SQZ_CUK_SYM2(fmt, var, sm) SQZ_CUK_SYM3(fmt, var, sm)
#define SQZ_CUK_SYM(fmt, var) SQZ_CUK_SYM2(fmt, var, SQZ_CUK_SM)

#define SQZ_CUK_PARAMS                                                                             \
  const uint8_t *blob, const float *x, int64_t M, int64_t ldx, const float *bias, float *y,       \
      int64_t ldy

#ifdef SQZ_CUK_WGMMA
/// The sm_90a build (-DSQZ_CUK_WGMMA, PTX 8.2) defines sqz_cuk_<fmt>_wgmma_sm90a; its
/// gemv, gemm and gemm64 are the sm_90 build's. always_inline: ptxas serializes wgmmas whose
/// pipeline crosses a call, so the function must end up inside its caller's kernel (a model's
/// gpu.func wrapper, the test wrappers after `opt -passes=always-inline`).
#define SQZ_CUK_DEFINE_KERNELS(fmt, F)                                                             \
  extern "C" SQZ_DEV __attribute__((always_inline)) void SQZ_CUK_SYM3(fmt, wgmma, 90a)(            \
      SQZ_CUK_PARAMS) {                                                                            \
    sqz_cuk::dev::gemmKernel<F, sqz_cuk::kMTilesGemm64, sqz_cuk::kWindowGemm64,                   \
                             sqz_cuk::kStagesGemm64, true, true>(blob, x, M, ldx, bias, y, ldy);  \
  }
#else
/// Defines sqz_cuk_<fmt>_gemv_sm<SM>, sqz_cuk_<fmt>_gemm_sm<SM> and sqz_cuk_<fmt>_gemm64_sm<SM>.
#define SQZ_CUK_DEFINE_KERNELS(fmt, F)                                                             \
  extern "C" SQZ_DEV void SQZ_CUK_SYM(fmt, gemv)(SQZ_CUK_PARAMS) {                                 \
    sqz_cuk::dev::gemmKernel<F, sqz_cuk::kMTilesGemv, sqz_cuk::kWindowGemv,                       \
                             sqz_cuk::kStagesGemv>(blob, x, M, ldx, bias, y, ldy);                \
  }                                                                                                \
  extern "C" SQZ_DEV void SQZ_CUK_SYM(fmt, gemm)(SQZ_CUK_PARAMS) {                                 \
    sqz_cuk::dev::gemmKernel<F, sqz_cuk::kMTilesGemm, sqz_cuk::kWindowGemm,                       \
                             sqz_cuk::kStagesGemm>(blob, x, M, ldx, bias, y, ldy);                \
  }                                                                                                \
  extern "C" SQZ_DEV void SQZ_CUK_SYM(fmt, gemm64)(SQZ_CUK_PARAMS) {                               \
    sqz_cuk::dev::gemmKernel<F, sqz_cuk::kMTilesGemm64, sqz_cuk::kWindowGemm64,                   \
                             sqz_cuk::kStagesGemm64, true>(blob, x, M, ldx, bias, y, ldy);        \
  }
#endif

#endif // SQZ_KERNELS_CUDA_GEMMCOMMON_CUH
