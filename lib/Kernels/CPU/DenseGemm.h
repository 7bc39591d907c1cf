//===- DenseGemm.h - fp32 GEMM/GEMV on packed 64-column panels -*- C++ -*-===//
//
// Internal to the CPU microkernels (F32.cpp, Sparse24.cpp): the register-
// blocked fp32 micro-kernel and its cache-blocked driver over weights packed
// as 64-column panels, panel[k][c] = W[n0 + c, k] (K-major inside a panel, so
// one k step reads 256 contiguous bytes). Compiled once per ISA level: the
// vector width of the target picks the register blocking.
//
//   AVX-512: 6 rows x 64 columns (24 zmm accumulators, 4 weight zmm)
//   AVX2:    6 rows x 16 columns (12 ymm accumulators, 2 weight ymm)
//   generic: 3 rows x 16 columns (12 xmm accumulators on baseline x86-64)
//
// Freestanding: no heap, no exceptions, no libstdc++ runtime. Everything has
// internal linkage (each ISA variant is its own copy).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_KERNELS_CPU_DENSEGEMM_H
#define SQZ_KERNELS_CPU_DENSEGEMM_H

#include <stdint.h>
#include <string.h>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace {
namespace sqzdense {

typedef float v16f __attribute__((ext_vector_type(16)));
typedef int32_t v16i __attribute__((ext_vector_type(16)));

constexpr int64_t kPanel = 64; // columns per packed panel (= SQZ_UK_N_STEP)

#if defined(__AVX512F__)
constexpr int kNV = 4; // v16f per micro-tile row (64 columns)
constexpr int kMR = 6;
#elif defined(__AVX2__)
constexpr int kNV = 1; // 16 columns = 2 ymm
constexpr int kMR = 6;
#else
constexpr int kNV = 1; // 16 columns = 4 xmm
constexpr int kMR = 3;
#endif
constexpr int kNR = 16 * kNV; // columns per micro-tile

inline v16f loadu(const float *p) {
  v16f v;
  memcpy(&v, p, sizeof(v));
  return v;
}
inline v16f loada(const float *p) {
  return *reinterpret_cast<const v16f *>(__builtin_assume_aligned(p, 64));
}
inline void storeu(float *p, v16f v) { memcpy(p, &v, sizeof(v)); }
inline v16f splat(float f) { return (v16f)(f); }
inline v16f madd(v16f a, v16f b, v16f c) {
#if defined(__FMA__) || defined(__AVX512F__)
  return __builtin_elementwise_fma(a, b, c);
#else
  return a * b + c;
#endif
}

// acc[r][j] (+)= sum_{k<kc} x[r*ldx + k] * w[k*64 + 16j + lane]; then stores
// to y[r*ldy + 16j + lane] for the first `ncols` columns. `init`: 0 = start
// from zero, 1 = start from bias (bias points at the tile's first column, may
// be null => zero), 2 = accumulate onto y.
template <int MR>
__attribute__((always_inline)) inline void
microTile(const float *__restrict w, const float *__restrict x, int64_t ldx,
          int64_t kc, float *__restrict y, int64_t ldy, int ncols,
          const float *bias, int init, const float *pf = nullptr) {
  v16f acc[MR][kNV];
  if (init == 2 && ncols == kNR) {
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < kNV; ++j)
        acc[r][j] = loadu(y + r * ldy + 16 * j);
  } else if (init == 2) {
    for (int r = 0; r < MR; ++r) {
      float tmp[kNR] = {};
      memcpy(tmp, y + r * ldy, sizeof(float) * ncols);
      for (int j = 0; j < kNV; ++j)
        acc[r][j] = loadu(tmp + 16 * j);
    }
  } else {
    for (int j = 0; j < kNV; ++j) {
      v16f b = splat(0.0f);
      if (init == 1 && bias) {
        float tmp[16] = {};
        int n = ncols - 16 * j;
        n = n < 0 ? 0 : (n > 16 ? 16 : n);
        memcpy(tmp, bias + 16 * j, sizeof(float) * n);
        b = loadu(tmp);
      }
      for (int r = 0; r < MR; ++r)
        acc[r][j] = b;
    }
  }
  const float *xr[MR];
  for (int r = 0; r < MR; ++r)
    xr[r] = x + r * ldx;
  for (int64_t k = 0; k < kc; ++k) {
    v16f wv[kNV];
    for (int j = 0; j < kNV; ++j)
      wv[j] = loada(w + k * kPanel + 16 * j);
    if (pf)
      __builtin_prefetch(pf + 16 * k, 0, 2);
    for (int r = 0; r < MR; ++r) {
      v16f xb = splat(xr[r][k]);
      for (int j = 0; j < kNV; ++j)
        acc[r][j] = madd(xb, wv[j], acc[r][j]);
    }
  }
  if (ncols == kNR) {
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < kNV; ++j)
        storeu(y + r * ldy + 16 * j, acc[r][j]);
  } else {
    for (int r = 0; r < MR; ++r) {
      float tmp[kNR];
      for (int j = 0; j < kNV; ++j)
        storeu(tmp + 16 * j, acc[r][j]);
      memcpy(y + r * ldy, tmp, sizeof(float) * ncols);
    }
  }
}

inline void microTileRows(int rows, const float *w, const float *x, int64_t ldx,
                          int64_t kc, float *y, int64_t ldy, int ncols,
                          const float *bias, int init,
                          const float *pf = nullptr) {
  switch (rows) {
#define SQZ_DENSE_CASE(R)                                                      \
  case R:                                                                      \
    microTile<R>(w, x, ldx, kc, y, ldy, ncols, bias, init, pf);                \
    return;
    SQZ_DENSE_CASE(1)
    SQZ_DENSE_CASE(2)
    SQZ_DENSE_CASE(3)
#if defined(__AVX2__) || defined(__AVX512F__)
    SQZ_DENSE_CASE(4)
    SQZ_DENSE_CASE(5)
    SQZ_DENSE_CASE(6)
#endif
#undef SQZ_DENSE_CASE
  default:
    return;
  }
}

constexpr int64_t kGemvPrefetch = 1024; // floats ahead of the GEMV stream

// GEMV (M == 1) over one whole 64-column panel, full K. AVX-512 keeps two
// accumulator sets (even/odd k) so several FMA chains are in flight; the
// narrower ISAs have registers for one.
__attribute__((always_inline)) inline void
gemvPanel(const float *__restrict w, const float *__restrict x, int64_t K,
          float *__restrict y, int ncols, const float *bias) {
  constexpr int NV = kPanel / 16;
#if defined(__AVX512F__)
  constexpr int S = 2;
#else
  constexpr int S = 1;
#endif
  v16f a[S][NV];
  for (int s = 0; s < S; ++s)
    for (int j = 0; j < NV; ++j)
      a[s][j] = splat(0.0f);
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    const float *p = w + k * kPanel;
    // 4 KiB ahead (16 k steps), into L2: measured ~5% more per-core
    // bandwidth than the hardware prefetcher alone.
    for (int l = 0; l < 4; ++l)
      __builtin_prefetch(p + kGemvPrefetch + 16 * l, 0, 2);
    for (int u = 0; u < 4; ++u) {
      v16f xb = splat(x[k + u]);
      for (int j = 0; j < NV; ++j)
        a[u % S][j] = madd(xb, loada(p + u * kPanel + 16 * j), a[u % S][j]);
    }
  }
  for (; k < K; ++k) {
    v16f xb = splat(x[k]);
    for (int j = 0; j < NV; ++j)
      a[0][j] = madd(xb, loada(w + k * kPanel + 16 * j), a[0][j]);
  }
  float tmp[kPanel];
  for (int j = 0; j < NV; ++j) {
    v16f v = a[0][j];
    for (int s = 1; s < S; ++s)
      v += a[s][j];
    storeu(tmp + 16 * j, v);
  }
  if (bias)
    for (int c = 0; c < ncols; ++c)
      tmp[c] += bias[c];
  memcpy(y, tmp, sizeof(float) * ncols);
}

// Blocking parameters.
constexpr int64_t kKC = 256; // k per block (B chunk kKC x 64 floats)
constexpr int64_t kXBudget = 512 * 1024; // bytes of x kept hot in L2
constexpr int64_t kNCPanels = 8;         // panels per y block (k-outer order)

// A source of packed 64-column panels: f32 reads them in place, sparse
// formats decompress a K block into a caller buffer. `get(p, k0, kc, buf)`
// returns a pointer to kc x 64 floats (row stride 64) for panel p, rows
// k0..k0+kc.
struct DirectPanels {
  static constexpr bool kDirect = true;
  const float *base;
  int64_t K;
  const float *get(int64_t p, int64_t k0, int64_t, float *) const {
    return base + (p * K + k0) * kPanel;
  }
};

// y[m, n] for n in [nBegin, nEnd) given panels of the whole N x K weight.
// nBegin is a multiple of 64 (the ABI's SQZ_UK_N_STEP).
template <class Panels>
inline void gemmPanels(const Panels &src, int64_t K, const float *x, int64_t M,
                       int64_t ldx, const float *bias, float *y, int64_t ldy,
                       int64_t nBegin, int64_t nEnd,
                       float *scratch /* kKC*64 floats, 64-aligned */) {
  if (M <= 0 || nEnd <= nBegin)
    return;
  int64_t pBegin = nBegin / kPanel, pEnd = (nEnd + kPanel - 1) / kPanel;
  if (K == 0) {
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = nBegin; n < nEnd; ++n)
        y[m * ldy + n] = bias ? bias[n] : 0.0f;
    return;
  }
  // Rows per M block: the x block (mc x K, or mc x kKC in the k-outer order)
  // stays in L2.
  bool panelOuter = M * K * 4 <= kXBudget;
  int64_t mc;
  if (panelOuter) {
    mc = M;
  } else {
    mc = kXBudget / (kKC * 4);
    mc -= mc % kMR;
  }
  for (int64_t m0 = 0; m0 < M; m0 += mc) {
    int64_t mcur = M - m0 < mc ? M - m0 : mc;
    if (panelOuter) {
      // For each panel: stream its K blocks once; each block is reused by
      // every row tile from L1/L2.
      for (int64_t p = pBegin; p < pEnd; ++p) {
        int64_t pn0 = p * kPanel;
        for (int64_t k0 = 0; k0 < K; k0 += kKC) {
          int64_t kc = K - k0 < kKC ? K - k0 : kKC;
          const float *wp = src.get(p, k0, kc, scratch);
          for (int64_t c = 0; c < kPanel; c += kNR) {
            int64_t n = pn0 + c;
            if (n >= nEnd)
              break;
            int ncols = (int)(nEnd - n < kNR ? nEnd - n : kNR);
            for (int64_t r = 0; r < mcur; r += kMR) {
              int rows = (int)(mcur - r < kMR ? mcur - r : kMR);
              microTileRows(rows, wp + c, x + (m0 + r) * ldx + k0, ldx, kc,
                            y + (m0 + r) * ldy + n, ldy, ncols,
                            bias ? bias + n : nullptr, k0 == 0 ? 1 : 2);
            }
          }
        }
      }
    } else {
      // Blocks of kNCPanels panels keep the y block (mcur x 64*kNCPanels)
      // in L2 across the K blocks; x (mcur x kKC per K block) is re-read
      // once per panel block.
      for (int64_t pb = pBegin; pb < pEnd; pb += kNCPanels) {
        int64_t pbEnd = pb + kNCPanels < pEnd ? pb + kNCPanels : pEnd;
        for (int64_t k0 = 0; k0 < K; k0 += kKC) {
          int64_t kc = K - k0 < kKC ? K - k0 : kKC;
          for (int64_t p = pb; p < pbEnd; ++p) {
            int64_t pn0 = p * kPanel;
            const float *wp = src.get(p, k0, kc, scratch);
            // The next chunk this loop reads lies elsewhere in memory (the
            // next panel at the same k, the block's first panel at the next
            // k, or the next block's first panel at k = 0): the first row
            // tiles prefetch it, a 16-float line per k step.
            const float *next = nullptr;
            if (Panels::kDirect) {
              if (p + 1 < pbEnd)
                next = src.get(p + 1, k0, kc, nullptr);
              else if (k0 + kc < K)
                next = src.get(pb, k0 + kc, kc, nullptr);
              else if (pbEnd < pEnd)
                next = src.get(pbEnd, 0, kc, nullptr);
            }
            int64_t tile = 0;
            for (int64_t c = 0; c < kPanel; c += kNR) {
              int64_t n = pn0 + c;
              if (n >= nEnd)
                break;
              int ncols = (int)(nEnd - n < kNR ? nEnd - n : kNR);
              for (int64_t r = 0; r < mcur; r += kMR, ++tile) {
                int rows = (int)(mcur - r < kMR ? mcur - r : kMR);
                const float *pf =
                    next && tile < 4 ? next + tile * kc * 16 : nullptr;
                microTileRows(rows, wp + c, x + (m0 + r) * ldx + k0, ldx, kc,
                              y + (m0 + r) * ldy + n, ldy, ncols,
                              bias ? bias + n : nullptr, k0 == 0 ? 1 : 2, pf);
              }
            }
          }
        }
      }
    }
  }
}

// The ABI hands out ranges starting at multiples of 64 (SQZ_UK_N_STEP); a
// range starting elsewhere is still served: its partial first panel runs
// through `kernel` into a stack tile (16 rows at a time) and only the
// columns from nBegin are copied out. Returns the aligned start.
template <class Kernel>
inline int64_t unalignedHead(Kernel kernel, const uint8_t *blob, const float *x,
                             int64_t M, int64_t ldx, const float *bias,
                             float *y, int64_t ldy, int64_t nBegin,
                             int64_t nEnd) {
  if (nBegin % kPanel == 0)
    return nBegin;
  int64_t p0 = nBegin - nBegin % kPanel;
  int64_t headEnd = p0 + kPanel < nEnd ? p0 + kPanel : nEnd;
  alignas(64) float tile[16 * kPanel];
  // tileBase + n addresses tile column n - p0 (the kernel indexes y + n).
  float *tileBase = reinterpret_cast<float *>(
      reinterpret_cast<uintptr_t>(tile) - (uintptr_t)p0 * sizeof(float));
  for (int64_t m0 = 0; m0 < M; m0 += 16) {
    int64_t rows = M - m0 < 16 ? M - m0 : 16;
    kernel(blob, x + m0 * ldx, rows, ldx, bias, tileBase, kPanel, p0, headEnd);
    for (int64_t r = 0; r < rows; ++r)
      memcpy(y + (m0 + r) * ldy + nBegin, tile + r * kPanel + (nBegin - p0),
             sizeof(float) * (headEnd - nBegin));
  }
  return headEnd;
}

} // namespace sqzdense
} // namespace

#endif // SQZ_KERNELS_CPU_DENSEGEMM_H
