//===- Sparse24.cpp - 2:4-sparse fp32 and int4 microkernels and packers ---===//
//
// Formats SQZ_UK_SP24_F32 and SQZ_UK_SP24_INT4: in every aligned group of 4
// input columns (k) of a weight row two values are kept. Both packings use
// 64-column panels (SQZ_UK_N_STEP) cut into blocks of 32 dense k (8 groups);
// Kp = K rounded up to 32, nblk = Kp / 32, panels = ceil(N / 64). Padding
// (columns >= N, groups >= K/4) holds value 0 / code 0 / scale 0 with the
// index nibble 0x4.
//
// Every block starts with meta[64] uint32: lane c holds, in nibble g (bits
// 4g..4g+3), the logical 2:4 nibble of group 8*blk + g of column 64p + c
// (low 2 bits = first kept column, high 2 bits = second).
//
// sp24_f32 block (4352 bytes): meta, then values[8][2][64] f32:
//   values[g][t][c] = kept value t of group 8*blk + g of column 64p + c.
//   Payload at offsets[0]: block (p, blk) at ((p * nblk) + blk) * 4352.
//
// sp24_int4 block (768 bytes): meta, then codes[2][64] uint32: word w of
//   column c holds kept slots 8w..8w+7 (slot s = 2g + t, nibble s % 8 at
//   bits 4*(s%8)). Blocks at offsets[0] (p * nblk + blk) * 768; scales at
//   offsets[1], f32 [panels][G][64] (G = ceil(K / group)); for asymmetric
//   weights offsets[2] holds f32 [panels][G][64] biases -zero*scale (the
//   kernel dequantizes w = code*scale + bias; symmetric: bias = -8*scale).
//
// Kernels: for M <= 32 (row tiles of 4) the kept values are multiplied in
// registers by x values gathered with lane permutes (vpermps; on AVX-512
// through per-group 16-entry tables indexed by the whole metadata nibble);
// for larger M each K block of a panel is decompressed to dense fp32 (stack,
// 64 KiB) and runs the dense GEMM (DenseGemm.h).
//
//===----------------------------------------------------------------------===//

#include "KernelCommon.h"

#include "DenseGemm.h"

using namespace sqzdense;

namespace {

constexpr int64_t kBlkK = 32;
constexpr int64_t kF32Blk = 256 + 8 * 2 * 64 * 4; // 4352
constexpr int64_t kI4Blk = 256 + 2 * 64 * 4;      // 768
constexpr int kSmallM = 4;                        // rows per in-register tile
// Up to this M the in-register path runs row tiles of kSmallM over each
// panel (the panel is re-read from L1/L2); above it, decompress + GEMM
// (crossover measured, docs/Kernels.md).
constexpr int64_t kRegMaxM = 32;

inline v16i loadiA(const uint32_t *p) {
  return *reinterpret_cast<const v16i *>(__builtin_assume_aligned(p, 64));
}

#if !defined(__AVX512F__)
// result[l] = xv[idx[l] & 15] where idx[l] & 15 lies in [4*gq, 4*gq + 3]
// (gq, the group within the 16-lane x vector, is a compile-time constant
// after unrolling).
__attribute__((always_inline)) inline v16f permX(v16f xv, v16i idx, int gq) {
#if defined(__AVX2__)
  typedef float v8f __attribute__((ext_vector_type(8)));
  typedef int32_t v8i __attribute__((ext_vector_type(8)));
  v8f half = gq >= 2
                 ? __builtin_shufflevector(xv, xv, 8, 9, 10, 11, 12, 13, 14, 15)
                 : __builtin_shufflevector(xv, xv, 0, 1, 2, 3, 4, 5, 6, 7);
  v8i lo = __builtin_shufflevector(idx, idx, 0, 1, 2, 3, 4, 5, 6, 7);
  v8i hi = __builtin_shufflevector(idx, idx, 8, 9, 10, 11, 12, 13, 14, 15);
  v8f r0 = (v8f)_mm256_permutevar8x32_ps((__m256)half, (__m256i)lo);
  v8f r1 = (v8f)_mm256_permutevar8x32_ps((__m256)half, (__m256i)hi);
  return __builtin_shufflevector(r0, r1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                 12, 13, 14, 15);
#else
  (void)gq;
  float xs[16], r[16];
  int32_t is[16];
  memcpy(xs, &xv, sizeof(xs));
  memcpy(is, &idx, sizeof(is));
  for (int l = 0; l < 16; ++l)
    r[l] = xs[is[l] & 15];
  return loadu(r);
#endif
}

#endif

inline v16f selectF(v16i mask, v16f a) { return (v16f)((v16i)a & mask); }

// x[k0 .. k0+31] as two vectors, zero beyond K.
__attribute__((always_inline)) inline void loadX32(const float *x, int64_t k0,
                                                   int64_t K, v16f out[2]) {
  if (k0 + kBlkK <= K) {
    out[0] = loadu(x + k0);
    out[1] = loadu(x + k0 + 16);
  } else {
    float tmp[32] = {};
    memcpy(tmp, x + k0, sizeof(float) * (K - k0));
    out[0] = loadu(tmp);
    out[1] = loadu(tmp + 16);
  }
}

#if !defined(__AVX512F__)
// Gather index for kept value t of group g from the meta word(s).
__attribute__((always_inline)) inline v16i keptIdx(v16i meta, int g, int t) {
  return ((meta >> (4 * g + 2 * t)) & 3) | (4 * (g & 3));
}
#endif

// The x values a group's two kept weights multiply, for 16 columns at once.
// AVX-512: per group two 16-entry tables indexed by the whole metadata
// nibble, T0[nib] = x[4g + (nib & 3)] and T1[nib] = x[4g + (nib >> 2)],
// built once per block and row (two permutes) and shared by the 64 columns,
// so a column vector needs one shift and two vpermps. Narrower ISAs permute
// the 16-lane x vector with the decoded index (vpermps has 8 lanes there).
struct GroupX {
#if defined(__AVX512F__)
  v16f t0, t1;
#else
  v16f xv;
#endif
};

__attribute__((always_inline)) inline GroupX groupX(const v16f xv[2], int g) {
  GroupX gx;
#if defined(__AVX512F__)
  const v16i lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  v16i i0 = (lane & 3) | (4 * (g & 3)), i1 = (lane >> 2) | (4 * (g & 3));
  gx.t0 = (v16f)_mm512_permutexvar_ps((__m512i)i0, (__m512)xv[g >> 2]);
  gx.t1 = (v16f)_mm512_permutexvar_ps((__m512i)i1, (__m512)xv[g >> 2]);
#else
  gx.xv = xv[g >> 2];
#endif
  return gx;
}

__attribute__((always_inline)) inline void
gatherPair(const GroupX &gx, v16i meta, int g, v16f &x0, v16f &x1) {
#if defined(__AVX512F__)
  v16i ms = meta >> (4 * g);
  x0 = (v16f)_mm512_permutexvar_ps((__m512i)ms, (__m512)gx.t0);
  x1 = (v16f)_mm512_permutexvar_ps((__m512i)ms, (__m512)gx.t1);
#else
  x0 = permX(gx.xv, keptIdx(meta, g, 0), g & 3);
  x1 = permX(gx.xv, keptIdx(meta, g, 1), g & 3);
#endif
}

// ---- sp24_f32 ----

template <int MR>
__attribute__((always_inline)) inline void
sp24F32SmallPanel(const uint8_t *panel, int64_t nblk, const float *x,
                  int64_t ldx, int64_t K, float *y, int64_t ldy, int ncols,
                  const float *bias) {
  v16f acc[MR][4];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < 4; ++j)
      acc[r][j] = splat(0.0f);
  for (int64_t b = 0; b < nblk; ++b) {
    const uint8_t *blk = panel + b * kF32Blk;
    const uint32_t *meta = reinterpret_cast<const uint32_t *>(blk);
    const float *vals = reinterpret_cast<const float *>(blk + 256);
    v16f xv[MR][2];
    for (int r = 0; r < MR; ++r)
      loadX32(x + r * ldx, b * kBlkK, K, xv[r]);
    v16i m[4];
    for (int j = 0; j < 4; ++j)
      m[j] = loadiA(meta + 16 * j);
#pragma clang loop unroll(full)
    for (int g = 0; g < 8; ++g) {
      GroupX gx[MR];
      for (int r = 0; r < MR; ++r)
        gx[r] = groupX(xv[r], g);
      for (int j = 0; j < 4; ++j) {
        v16f v0 = loada(vals + (g * 2 + 0) * 64 + 16 * j);
        v16f v1 = loada(vals + (g * 2 + 1) * 64 + 16 * j);
        for (int r = 0; r < MR; ++r) {
          v16f x0, x1;
          gatherPair(gx[r], m[j], g, x0, x1);
          acc[r][j] = madd(v0, x0, acc[r][j]);
          acc[r][j] = madd(v1, x1, acc[r][j]);
        }
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    float tmp[64];
    for (int j = 0; j < 4; ++j)
      storeu(tmp + 16 * j, acc[r][j]);
    if (bias)
      for (int c = 0; c < ncols; ++c)
        tmp[c] += bias[c];
    memcpy(y + r * ldy, tmp, sizeof(float) * ncols);
  }
}

// Dense rows k of a group from its two kept vectors.
__attribute__((always_inline)) inline void
scatterGroup(v16i m, int g, v16f v0, v16f v1,
             float *dst /* row 4g, col 16j */) {
  v16i i0 = (m >> (4 * g)) & 3, i1 = (m >> (4 * g + 2)) & 3;
  for (int i = 0; i < 4; ++i) {
    v16f row = selectF(i0 == i, v0) + selectF(i1 == i, v1);
    storeu(dst + i * kPanel, row);
  }
}

struct Sp24F32Panels {
  static constexpr bool kDirect = false;
  const uint8_t *base;
  int64_t nblk;
  const float *get(int64_t p, int64_t k0, int64_t kc, float *buf) const {
    const uint8_t *panel = base + p * nblk * kF32Blk;
    for (int64_t kb = 0; kb < kc; kb += kBlkK) {
      const uint8_t *blk = panel + (k0 + kb) / kBlkK * kF32Blk;
      const uint32_t *meta = reinterpret_cast<const uint32_t *>(blk);
      const float *vals = reinterpret_cast<const float *>(blk + 256);
      int groups = (int)((kc - kb) / 4 < 8 ? (kc - kb) / 4 : 8);
      for (int j = 0; j < 4; ++j) {
        v16i m = loadiA(meta + 16 * j);
        for (int g = 0; g < groups; ++g)
          scatterGroup(m, g, loada(vals + (g * 2) * 64 + 16 * j),
                       loada(vals + (g * 2 + 1) * 64 + 16 * j),
                       buf + (kb + 4 * g) * kPanel + 16 * j);
      }
    }
    return buf;
  }
};

// ---- sp24_int4 ----

struct I4View {
  const uint8_t *blocks;
  const float *scales, *biases; // [panels][G][64]; biases null: symmetric
  int64_t nblk, G, group;
};

// Dequantization vectors (scale, bias) for column vector j of panel p and
// group gi.
__attribute__((always_inline)) inline void
i4ScaleBias(const I4View &v, int64_t p, int64_t gi, int j, v16f &s, v16f &bv) {
  if (gi >= v.G)
    gi = v.G - 1;
  const float *sp = v.scales + (p * v.G + gi) * 64 + 16 * j;
  s = loada(sp);
  bv = v.biases ? loada(v.biases + (p * v.G + gi) * 64 + 16 * j)
                : s * splat(-8.0f);
}

// Kept weight vector of slot s8 (0..7) of the code words. AVX-512: the code
// becomes a float through a 16-entry table (vpermps reads the low 4 bits, so
// no mask), code - 8 for symmetric weights (w = table * scale) and code for
// asymmetric ones (w = table * scale + bias); elsewhere convert and fma.
#if defined(__AVX512F__)
__attribute__((always_inline)) inline v16f i4Code(v16i cw, int s8, bool sym) {
  const v16f lutSym = {-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};
  const v16f lutAsym = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  v16i sh = s8 ? cw >> (4 * s8) : cw;
  return (v16f)_mm512_permutexvar_ps((__m512i)sh,
                                     (__m512)(sym ? lutSym : lutAsym));
}
#endif

__attribute__((always_inline)) inline v16f i4Dequant(v16i cw, int s8, v16f s,
                                                     v16f bv, bool sym) {
#if defined(__AVX512F__)
  v16f c = i4Code(cw, s8, sym);
  return sym ? c * s : madd(c, s, bv);
#else
  (void)sym;
  v16f c = __builtin_convertvector((cw >> (4 * s8)) & 15, v16f);
  return madd(c, s, bv);
#endif
}

template <int MR, bool BlockScale, bool Sym>
__attribute__((always_inline)) inline void
sp24I4SmallPanel(const I4View &v, int64_t p, const float *x, int64_t ldx,
                 int64_t K, float *y, int64_t ldy, int ncols,
                 const float *bias) {
  v16f acc[MR][4];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < 4; ++j)
      acc[r][j] = splat(0.0f);
  const uint8_t *panel = v.blocks + p * v.nblk * kI4Blk;
  constexpr bool sym = Sym;
  for (int64_t b = 0; b < v.nblk; ++b) {
    const uint8_t *blk = panel + b * kI4Blk;
    const uint32_t *meta = reinterpret_cast<const uint32_t *>(blk);
    const uint32_t *codes = reinterpret_cast<const uint32_t *>(blk + 256);
    // 4 blocks ahead, into L2: +10% from DRAM (the sp24_f32 stream, read
    // faster, does better with the hardware prefetcher alone).
    for (int l = 0; l < kI4Blk / 64; ++l)
      __builtin_prefetch(blk + 4 * kI4Blk + 64 * l, 0, 2);
    v16f xv[MR][2];
    for (int r = 0; r < MR; ++r)
      loadX32(x + r * ldx, b * kBlkK, K, xv[r]);
    v16i m[4], cw[4][2];
    v16f s[4], bv[4];
    for (int j = 0; j < 4; ++j) {
      m[j] = loadiA(meta + 16 * j);
      cw[j][0] = loadiA(codes + 16 * j);
      cw[j][1] = loadiA(codes + 64 + 16 * j);
      if (BlockScale)
        i4ScaleBias(v, p, b * kBlkK / v.group, j, s[j], bv[j]);
    }
#if defined(__AVX512F__)
    if (MR == 1 && BlockScale && Sym) {
      // GEMV, one scale per block: sum (code - 8) * x over the block, then
      // one multiply-add by the scale per column vector (saves the
      // per-weight multiply on the two busy vector ports).
      v16f bacc[4];
      for (int j = 0; j < 4; ++j)
        bacc[j] = splat(0.0f);
#pragma clang loop unroll(full)
      for (int g = 0; g < 8; ++g) {
        GroupX gx = groupX(xv[0], g);
        for (int j = 0; j < 4; ++j) {
          v16f c0 = i4Code(cw[j][g >> 2], (2 * g) & 7, true);
          v16f c1 = i4Code(cw[j][g >> 2], (2 * g + 1) & 7, true);
          v16f x0, x1;
          gatherPair(gx, m[j], g, x0, x1);
          bacc[j] = madd(c0, x0, bacc[j]);
          bacc[j] = madd(c1, x1, bacc[j]);
        }
      }
      for (int j = 0; j < 4; ++j)
        acc[0][j] = madd(bacc[j], s[j], acc[0][j]);
      continue;
    }
#endif
#pragma clang loop unroll(full)
    for (int g = 0; g < 8; ++g) {
      GroupX gx[MR];
      for (int r = 0; r < MR; ++r)
        gx[r] = groupX(xv[r], g);
      for (int j = 0; j < 4; ++j) {
        if (!BlockScale)
          i4ScaleBias(v, p, (b * kBlkK + 4 * g) / v.group, j, s[j], bv[j]);
        v16f w0 = i4Dequant(cw[j][g >> 2], (2 * g) & 7, s[j], bv[j], sym);
        v16f w1 = i4Dequant(cw[j][g >> 2], (2 * g + 1) & 7, s[j], bv[j], sym);
        for (int r = 0; r < MR; ++r) {
          v16f x0, x1;
          gatherPair(gx[r], m[j], g, x0, x1);
          acc[r][j] = madd(w0, x0, acc[r][j]);
          acc[r][j] = madd(w1, x1, acc[r][j]);
        }
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    float tmp[64];
    for (int j = 0; j < 4; ++j)
      storeu(tmp + 16 * j, acc[r][j]);
    if (bias)
      for (int c = 0; c < ncols; ++c)
        tmp[c] += bias[c];
    memcpy(y + r * ldy, tmp, sizeof(float) * ncols);
  }
}

struct Sp24I4Panels {
  static constexpr bool kDirect = false;
  I4View v;
  const float *get(int64_t p, int64_t k0, int64_t kc, float *buf) const {
    const uint8_t *panel = v.blocks + p * v.nblk * kI4Blk;
    const bool sym = v.biases == nullptr;
    for (int64_t kb = 0; kb < kc; kb += kBlkK) {
      int64_t kAbs = k0 + kb;
      const uint8_t *blk = panel + kAbs / kBlkK * kI4Blk;
      const uint32_t *meta = reinterpret_cast<const uint32_t *>(blk);
      const uint32_t *codes = reinterpret_cast<const uint32_t *>(blk + 256);
      int groups = (int)((kc - kb) / 4 < 8 ? (kc - kb) / 4 : 8);
      for (int j = 0; j < 4; ++j) {
        v16i m = loadiA(meta + 16 * j);
        v16i cw[2] = {loadiA(codes + 16 * j), loadiA(codes + 64 + 16 * j)};
        for (int g = 0; g < groups; ++g) {
          v16f s, bv;
          i4ScaleBias(v, p, (kAbs + 4 * g) / v.group, j, s, bv);
          v16f w0 = i4Dequant(cw[g >> 2], (2 * g) & 7, s, bv, sym);
          v16f w1 = i4Dequant(cw[g >> 2], (2 * g + 1) & 7, s, bv, sym);
          scatterGroup(m, g, w0, w1, buf + (kb + 4 * g) * kPanel + 16 * j);
        }
      }
    }
    return buf;
  }
};

template <class Fn>
inline void forPanels64(int64_t nBegin, int64_t nEnd, Fn fn) {
  for (int64_t p = nBegin / kPanel; p * kPanel < nEnd; ++p) {
    int64_t n = p * kPanel;
    fn(p, n, (int)(nEnd - n < kPanel ? nEnd - n : kPanel));
  }
}

} // namespace

extern "C" void SQZ_UK_FN(sp24_f32)(const uint8_t *blob, const float *x,
                                    int64_t M, int64_t ldx, const float *bias,
                                    float *y, int64_t ldy, int64_t nBegin,
                                    int64_t nEnd) {
  const sqz_uk_header *h = reinterpret_cast<const sqz_uk_header *>(blob);
  const int64_t N = h->N, K = h->K;
  if (nEnd > N)
    nEnd = N;
  if (M <= 0 || nEnd <= nBegin)
    return;
  nBegin = unalignedHead(SQZ_UK_FN(sp24_f32), blob, x, M, ldx, bias, y, ldy,
                         nBegin, nEnd);
  if (nEnd <= nBegin)
    return;
  const int64_t nblk = (K + kBlkK - 1) / kBlkK;
  const uint8_t *base = blob + h->offsets[0];
  if (M <= kRegMaxM) {
    forPanels64(nBegin, nEnd, [&](int64_t p, int64_t n, int ncols) {
      const uint8_t *panel = base + p * nblk * kF32Blk;
      const float *bn = bias ? bias + n : nullptr;
      for (int64_t m0 = 0; m0 < M; m0 += kSmallM) {
        const float *xm = x + m0 * ldx;
        float *yn = y + m0 * ldy + n;
        switch (M - m0 < kSmallM ? M - m0 : kSmallM) {
        case 1:
          sp24F32SmallPanel<1>(panel, nblk, xm, ldx, K, yn, ldy, ncols, bn);
          break;
        case 2:
          sp24F32SmallPanel<2>(panel, nblk, xm, ldx, K, yn, ldy, ncols, bn);
          break;
        case 3:
          sp24F32SmallPanel<3>(panel, nblk, xm, ldx, K, yn, ldy, ncols, bn);
          break;
        default:
          sp24F32SmallPanel<4>(panel, nblk, xm, ldx, K, yn, ldy, ncols, bn);
          break;
        }
      }
    });
    return;
  }
  alignas(64) float scratch[kKC * kPanel];
  Sp24F32Panels src{base, nblk};
  gemmPanels(src, K, x, M, ldx, bias, y, ldy, nBegin, nEnd, scratch);
}

extern "C" void SQZ_UK_FN(sp24_int4)(const uint8_t *blob, const float *x,
                                     int64_t M, int64_t ldx, const float *bias,
                                     float *y, int64_t ldy, int64_t nBegin,
                                     int64_t nEnd) {
  const sqz_uk_header *h = reinterpret_cast<const sqz_uk_header *>(blob);
  const int64_t N = h->N, K = h->K;
  if (nEnd > N)
    nEnd = N;
  if (M <= 0 || nEnd <= nBegin)
    return;
  nBegin = unalignedHead(SQZ_UK_FN(sp24_int4), blob, x, M, ldx, bias, y, ldy,
                         nBegin, nEnd);
  if (nEnd <= nBegin)
    return;
  I4View v;
  v.blocks = blob + h->offsets[0];
  v.scales = reinterpret_cast<const float *>(blob + h->offsets[1]);
  v.biases = (h->flags & SQZ_UK_FLAG_ASYMMETRIC)
                 ? reinterpret_cast<const float *>(blob + h->offsets[2])
                 : nullptr;
  v.nblk = (K + kBlkK - 1) / kBlkK;
  v.group = h->group;
  v.G = (K + h->group - 1) / h->group;
  if (M <= kRegMaxM) {
    bool blockScale = v.group % kBlkK == 0;
    bool sym = v.biases == nullptr;
    forPanels64(nBegin, nEnd, [&](int64_t p, int64_t n, int ncols) {
      const float *bn = bias ? bias + n : nullptr;
      for (int64_t m0 = 0; m0 < M; m0 += kSmallM) {
        const float *xm = x + m0 * ldx;
        float *yn = y + m0 * ldy + n;
#define SQZ_SP24I4_CASE(R)                                                     \
  case R:                                                                      \
    if (blockScale && sym)                                                     \
      sp24I4SmallPanel<R, true, true>(v, p, xm, ldx, K, yn, ldy, ncols, bn);   \
    else if (blockScale)                                                       \
      sp24I4SmallPanel<R, true, false>(v, p, xm, ldx, K, yn, ldy, ncols, bn);  \
    else if (sym)                                                              \
      sp24I4SmallPanel<R, false, true>(v, p, xm, ldx, K, yn, ldy, ncols, bn);  \
    else                                                                       \
      sp24I4SmallPanel<R, false, false>(v, p, xm, ldx, K, yn, ldy, ncols, bn); \
    break;
        switch (M - m0 < kSmallM ? M - m0 : kSmallM) {
          SQZ_SP24I4_CASE(1)
          SQZ_SP24I4_CASE(2)
          SQZ_SP24I4_CASE(3)
          SQZ_SP24I4_CASE(4)
        }
#undef SQZ_SP24I4_CASE
      }
    });
    return;
  }
  alignas(64) float scratch[kKC * kPanel];
  Sp24I4Panels src{v};
  gemmPanels(src, K, x, M, ldx, bias, y, ldy, nBegin, nEnd, scratch);
}

#ifdef SQZ_UK_HOST
// ---- Host-side packers (compiled once, into SqzKernelsCPU) ----

namespace {

struct Sp24Dims {
  int64_t panels, nblk, G;
};

Sp24Dims sp24Dims(const sqz_uk_logical *w) {
  Sp24Dims d;
  d.panels = (w->N + kPanel - 1) / kPanel;
  d.nblk = (w->K + kBlkK - 1) / kBlkK;
  d.G = w->format == SQZ_UK_SP24_INT4 ? (w->K + w->group - 1) / w->group : 0;
  return d;
}

// The logical nibble of group g of row n (0x4 for padding).
inline unsigned nibbleAt(const sqz_uk_logical *w, int64_t n, int64_t g) {
  if (n >= w->N || g >= w->K / 4)
    return 0x4;
  uint8_t byte = w->indices[n * (w->K / 8 + (w->K % 8 ? 1 : 0)) + g / 2];
  return (byte >> (4 * (g & 1))) & 15;
}

int64_t sp24PackedBytes(const sqz_uk_logical *w) {
  Sp24Dims d = sp24Dims(w);
  if (w->format == SQZ_UK_SP24_F32)
    return (int64_t)sizeof(sqz_uk_header) + d.panels * d.nblk * kF32Blk;
  int64_t bytes = (int64_t)sizeof(sqz_uk_header) + d.panels * d.nblk * kI4Blk;
  bytes += d.panels * d.G * 64 * 4 * (w->asymmetric ? 2 : 1);
  return bytes;
}

void sp24Pack(const sqz_uk_logical *w, uint8_t *out) {
  const int64_t N = w->N, K = w->K;
  const bool f32 = w->format == SQZ_UK_SP24_F32;
  Sp24Dims d = sp24Dims(w);
  sqz_uk_header *h = reinterpret_cast<sqz_uk_header *>(out);
  memset(out, 0, (size_t)sp24PackedBytes(w));
  h->magic = SQZ_UK_MAGIC;
  h->version = SQZ_UK_VERSION;
  h->format = (uint16_t)w->format;
  h->N = N;
  h->K = K;
  h->group = f32 ? 0 : w->group;
  h->flags = (!f32 && w->asymmetric) ? SQZ_UK_FLAG_ASYMMETRIC : 0;
  const int64_t blkBytes = f32 ? kF32Blk : kI4Blk;
  h->offsets[0] = sizeof(sqz_uk_header);
  if (!f32) {
    h->offsets[1] = h->offsets[0] + d.panels * d.nblk * kI4Blk;
    h->offsets[2] = w->asymmetric ? h->offsets[1] + d.panels * d.G * 64 * 4 : 0;
  }
  for (int64_t p = 0; p < d.panels; ++p)
    for (int64_t b = 0; b < d.nblk; ++b) {
      uint8_t *blk = out + h->offsets[0] + (p * d.nblk + b) * blkBytes;
      uint32_t *meta = reinterpret_cast<uint32_t *>(blk);
      for (int c = 0; c < 64; ++c) {
        int64_t n = p * 64 + c;
        uint32_t word = 0;
        for (int g = 0; g < 8; ++g)
          word |= (uint32_t)nibbleAt(w, n, b * 8 + g) << (4 * g);
        meta[c] = word;
        for (int g = 0; g < 8; ++g) {
          int64_t gg = b * 8 + g;
          if (n >= N || gg >= K / 4)
            continue;
          for (int t = 0; t < 2; ++t) {
            int64_t src = n * (K / 2) + 2 * gg + t;
            if (f32) {
              float *vals = reinterpret_cast<float *>(blk + 256);
              vals[(g * 2 + t) * 64 + c] = w->values[src];
            } else {
              uint32_t *codes = reinterpret_cast<uint32_t *>(blk + 256);
              int s = 2 * g + t;
              codes[(s >> 3) * 64 + c] |= (uint32_t)(w->codes[src] & 15)
                                          << (4 * (s & 7));
            }
          }
        }
      }
    }
  if (!f32) {
    float *scales = reinterpret_cast<float *>(out + h->offsets[1]);
    float *biases = w->asymmetric
                        ? reinterpret_cast<float *>(out + h->offsets[2])
                        : nullptr;
    for (int64_t p = 0; p < d.panels; ++p)
      for (int64_t gi = 0; gi < d.G; ++gi)
        for (int c = 0; c < 64; ++c) {
          int64_t n = p * 64 + c;
          if (n >= N)
            continue;
          float s = w->scales[n * d.G + gi];
          scales[(p * d.G + gi) * 64 + c] = s;
          if (biases)
            biases[(p * d.G + gi) * 64 + c] =
                -(float)w->zeros[n * d.G + gi] * s;
        }
  }
}

} // namespace

int64_t sqz_uk::packedBytesSp24F32(const sqz_uk_logical &w) {
  return sp24PackedBytes(&w);
}
int64_t sqz_uk::packedBytesSp24Int4(const sqz_uk_logical &w) {
  return sp24PackedBytes(&w);
}
void sqz_uk::packSp24F32(const sqz_uk_logical &w, uint8_t *out) {
  sp24Pack(&w, out);
}
void sqz_uk::packSp24Int4(const sqz_uk_logical &w, uint8_t *out) {
  sp24Pack(&w, out);
}
#endif
