//===- Ternary.cpp - ternary microkernels: 2 bits and 5 trits per byte ----===//
//
// W[n, k] = scale[n, g] * (code[n, k] - 1), codes in {0, 1, 2} (BitNet b1.58 style; the
// scale is per row and group, a per-tensor scale is just repeated). Two packings of the
// quantized panel layout (KernelCommon.h, docs/Kernels.md):
//
// ternary2  (2 bits/weight): the table-lookup plane layout of LutPlanes.h with 2-bit codes:
//           KB = 256, 64 bytes per row and block, word j bits 2 i .. 2 i + 1 = code of column
//           256 b + 16 i + j; one shift, one vpermps (table scale * {-1, 0, 1}) and one FMA per
//           16 weights. Padding holds code 1 (weight 0).
// ternary16 (1.6 bits/weight): KB = 80, 16 bytes per row and block: byte j holds the trits of
//           columns 80 b + 16 n + j (n = 0..4, n = 0 most significant) as ggml TQ1_0 does:
//           v = sum_n t_n 3^(4-n), byte = ceil(v * 256 / 243); trit n is
//           ((uint8)(byte * 3^n) * 3) >> 8, i.e. with t = (uint8)(byte * 3^n): 0 if t < 86,
//           2 if t >= 171, else 1. Padding columns hold trit 1 (weight 0).
//
// With AVX512-VNNI both GEMVs (M == 1) run on exact integer dot products of the raw code bytes
// with a fixed-point form of x (gemvT2Vnni, gemvT16Vnni below); the other paths dequantize
// to fp32.
//
//===----------------------------------------------------------------------===//

#include "LutPlanes.h"

namespace {

constexpr int64_t kKBT16 = 80, kRowBlockBytesT16 = 16;

#ifndef SQZ_TERNARY_PF
#define SQZ_TERNARY_PF 2048
#endif
/// Software prefetch distance of the GEMVs, in bytes ahead in the panel stream (the hardware
/// prefetchers stop at 4 KiB pages; without it a cold ternary16 GEMV ran at a third of the
/// warm speed).
[[maybe_unused]] constexpr int64_t kPrefetch = SQZ_TERNARY_PF;

/// Trit n (0 = most significant) of a 5-trit byte.
SQZ_UK_ALWAYS_INLINE int tritAt(uint8_t byte, int n) {
  static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
  uint8_t t = static_cast<uint8_t>(byte * pow3[n]);
  return (t * 3) >> 8;
}

void deqT16Scalar(const QuantLayout &l, int64_t panel, int64_t b0, int64_t nb, float *W,
                  int64_t ldw) {
  for (int r = 0; r < kPanelRows; ++r)
    for (int64_t b = b0; b < b0 + nb; ++b) {
      const uint8_t *p = l.blockPtr(panel, b, r);
      for (int64_t kk = 0; kk < kKBT16; ++kk) {
        int64_t g = minI((b * kKBT16 + kk) / l.group, l.groups - 1);
        float s = l.scalePtr(panel, g)[r];
        int t = tritAt(p[kk % 16], static_cast<int>(kk / 16));
        W[r * ldw + (b - b0) * kKBT16 + kk] = t == 2 ? s : t == 0 ? -s : 0.0f;
      }
    }
}

#if defined(__AVX512F__)
using Mask = __mmask16;
SQZ_UK_ALWAYS_INLINE VecF addMasked(VecF acc, Mask m, VecF x) {
  return _mm512_mask_add_ps(acc, m, acc, x);
}
SQZ_UK_ALWAYS_INLINE VecF ternaryValues(Mask plus, Mask minus, VecF s) {
  return _mm512_mask_mov_ps(_mm512_maskz_mov_ps(plus, s), minus, vsub(vzero(), s));
}
#elif defined(__AVX2__)
using Mask = __m256; // all-ones / zero lanes
SQZ_UK_ALWAYS_INLINE VecF addMasked(VecF acc, Mask m, VecF x) {
  return _mm256_add_ps(acc, _mm256_and_ps(m, x));
}
SQZ_UK_ALWAYS_INLINE VecF ternaryValues(Mask plus, Mask minus, VecF s) {
  return _mm256_or_ps(_mm256_and_ps(plus, s), _mm256_and_ps(minus, vsub(vzero(), s)));
}
#endif

#if defined(__AVX512F__) || defined(__AVX2__)
constexpr int kVecsPerPlane = 16 / kLanes;

/// The trit planes of one row block of ternary16, decoded one 16-column plane at a time
/// (call next() for planes 0..4 in order): u = byte * 3^n in 32-bit lanes, t = u mod 256,
/// minus = t < 86, plus = t >= 171.
struct TritPlanes {
#if defined(__AVX512F__)
  __m512i u;
  explicit TritPlanes(const uint8_t *p)
      : u(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)))) {}
  SQZ_UK_ALWAYS_INLINE void next(Mask *plus, Mask *minus) {
    __m512i t = _mm512_and_si512(u, _mm512_set1_epi32(255));
    minus[0] = _mm512_cmplt_epu32_mask(t, _mm512_set1_epi32(86));
    plus[0] = _mm512_cmpge_epu32_mask(t, _mm512_set1_epi32(171));
    u = _mm512_add_epi32(u, _mm512_add_epi32(u, u));
  }
#else
  __m256i u[2];
  explicit TritPlanes(const uint8_t *p) {
    for (int h = 0; h < 2; ++h)
      u[h] = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p + 8 * h)));
  }
  SQZ_UK_ALWAYS_INLINE void next(Mask *plus, Mask *minus) {
    for (int h = 0; h < 2; ++h) {
      __m256i t = _mm256_and_si256(u[h], _mm256_set1_epi32(255));
      minus[h] = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(86), t));
      plus[h] = _mm256_castsi256_ps(_mm256_cmpgt_epi32(t, _mm256_set1_epi32(170)));
      u[h] = _mm256_add_epi32(u[h], _mm256_add_epi32(u[h], u[h]));
    }
  }
#endif
};

template <int PPG>
void deqT16Simd(const QuantLayout &l, int64_t panel, int64_t b0, int64_t nb, float *W,
                int64_t ldw) {
  for (int r = 0; r < kPanelRows; ++r) {
    int64_t gNext = 0;
    VecF s = vzero();
    auto onGroup = [&](int64_t g) { s = vset1(l.scalePtr(panel, g)[r]); };
    for (int64_t b = b0; b < b0 + nb; ++b) {
      TritPlanes planes(l.blockPtr(panel, b, r));
      float *out = W + r * ldw + (b - b0) * kKBT16;
      auto onPlane = [&](int n) {
        Mask plus[kVecsPerPlane], minus[kVecsPerPlane];
        planes.next(plus, minus);
        for (int h = 0; h < kVecsPerPlane; ++h)
          vstore(out + 16 * n + kLanes * h, ternaryValues(plus[h], minus[h], s));
      };
      if (PPG > 0) {
        walkBlock<5, (PPG > 0 ? PPG : 5)>(l, b, gNext, onGroup, onPlane);
        continue;
      }
      for (int n = 0; n < 5; ++n) {
        int64_t k = b * kKBT16 + 16 * n;
        if (k >= gNext) {
          int64_t g = minI(k / l.group, l.groups - 1);
          gNext = (g + 1) * l.group;
          onGroup(g);
        }
        onPlane(n);
      }
    }
  }
}

/// The accumulators of a fused ternary GEMV over one panel: x is added under the plus mask
/// and under the minus mask separately; at the end of each group acc += scale * (plus - minus).
struct TernaryAcc {
  VecF acc[kPanelRows], ap[kPanelRows], am[kPanelRows];
  int64_t gCur = -1;
  TernaryAcc() {
    for (int r = 0; r < kPanelRows; ++r)
      acc[r] = ap[r] = am[r] = vzero();
  }
  SQZ_UK_ALWAYS_INLINE void flush(const QuantLayout &l, int64_t panel) {
    for (int r = 0; r < kPanelRows; ++r) {
      acc[r] = vfma(vsub(ap[r], am[r]), vset1(l.scalePtr(panel, gCur)[r]), acc[r]);
      ap[r] = am[r] = vzero();
    }
  }
  SQZ_UK_ALWAYS_INLINE void group(const QuantLayout &l, int64_t panel, int64_t g) {
    if (gCur >= 0)
      flush(l, panel);
    gCur = g;
  }
  SQZ_UK_ALWAYS_INLINE void store(const QuantLayout &l, int64_t panel, int rlo, int rhi,
                                  const float *bias, float *y) {
    flush(l, panel);
    for (int r = rlo; r < rhi; ++r) {
      int64_t n = panel * kPanelRows + r;
      y[n] = hsum(acc[r]) + (bias ? bias[n] : 0.0f);
    }
  }
};

#if defined(__AVX512F__)
/// M == 1, ternary16 on AVX-512: the panel's 4 x 16 bytes of a block are one zmm; each trit
/// plane is decoded for the four rows at once with byte arithmetic (t = byte * 3^n mod 256
/// by byte adds, two unsigned byte compares give 64-bit minus/plus masks, 16 bits per row),
/// then masked adds as for ternary2. The 64-bit masks go through a small stack buffer and
/// are reloaded 16 bits per row (load-port kmovw) instead of being split with kshift, which
/// would compete with the compares for the one shuffle/mask port.
template <int PPG>
__attribute__((noinline)) void gemvT16(const QuantLayout &l, const float *x, const float *bias,
                                       float *y, int64_t n_begin, int64_t n_end) {
  XTail<kKBT16> xt(x, l.K);
  const __m512i k86 = _mm512_set1_epi8(86), k171 = _mm512_set1_epi8(static_cast<char>(171));
  forPanels(n_begin, n_end, [&](int64_t panel, int rlo, int rhi) {
    TernaryAcc a;
    int64_t gNext = 0;
    alignas(16) __mmask16 masks[2][kPanelRows];
    const uint8_t *p = l.blockPtr(panel, 0, 0);
    for (int64_t b = 0; b < l.blocks; ++b, p += kPanelRows * kRowBlockBytesT16) {
      const float *xb = xt.block(x, b);
      __builtin_prefetch(p + kPrefetch, 0, 3);
      __m512i t = _mm512_loadu_si512(p);
      walkBlock<5, PPG>(
          l, b, gNext, [&](int64_t g) { a.group(l, panel, g); },
          [&](int n) {
            VecF xv = vload(xb + 16 * n);
            _store_mask64(reinterpret_cast<__mmask64 *>(masks[0]), _mm512_cmpge_epu8_mask(t, k171));
            _store_mask64(reinterpret_cast<__mmask64 *>(masks[1]), _mm512_cmplt_epu8_mask(t, k86));
            __asm__("" ::"r"(masks) : "memory"); // reload the halves from memory
            for (int r = 0; r < kPanelRows; ++r) {
              a.ap[r] = addMasked(a.ap[r], _load_mask16(&masks[0][r]), xv);
              a.am[r] = addMasked(a.am[r], _load_mask16(&masks[1][r]), xv);
            }
            // t *= 3 (mod 256); opaque so the compiler keeps the two adds per plane.
            t = opaque(_mm512_add_epi8(t, _mm512_add_epi8(t, t)));
          });
    }
    a.store(l, panel, rlo, rhi, bias, y);
  });
}
#else
template <int PPG>
__attribute__((noinline)) void gemvT16(const QuantLayout &l, const float *x, const float *bias,
                                       float *y, int64_t n_begin, int64_t n_end) {
  XTail<kKBT16> xt(x, l.K);
  forPanels(n_begin, n_end, [&](int64_t panel, int rlo, int rhi) {
    TernaryAcc a;
    int64_t gNext = 0;
    const uint8_t *p = l.blockPtr(panel, 0, 0);
    for (int64_t b = 0; b < l.blocks; ++b, p += kPanelRows * kRowBlockBytesT16) {
      const float *xb = xt.block(x, b);
      __builtin_prefetch(p + kPrefetch, 0, 3);
      TritPlanes planes[kPanelRows] = {TritPlanes(p), TritPlanes(p + kRowBlockBytesT16),
                                       TritPlanes(p + 2 * kRowBlockBytesT16),
                                       TritPlanes(p + 3 * kRowBlockBytesT16)};
      walkBlock<5, PPG>(
          l, b, gNext, [&](int64_t g) { a.group(l, panel, g); },
          [&](int n) {
            for (int r = 0; r < kPanelRows; ++r) {
              Mask plus[kVecsPerPlane], minus[kVecsPerPlane];
              planes[r].next(plus, minus);
              for (int h = 0; h < kVecsPerPlane; ++h) {
                VecF xv = vload(xb + 16 * n + kLanes * h);
                a.ap[r] = addMasked(a.ap[r], plus[h], xv);
                a.am[r] = addMasked(a.am[r], minus[h], xv);
              }
            }
          });
    }
    a.store(l, panel, rlo, rhi, bias, y);
  });
}
#endif
#endif

#if defined(__AVX512VNNI__)
//===----------------------------------------------------------------------===//
// Exact-integer GEMVs (AVX512-VNNI), M == 1. x is written as a fixed-point integer
// X = round(x * T / max|x|), |X| <= T, split into NL signed byte limbs, X = sum_l limb_l 256^l,
// and vpdpbusd accumulates (unsigned weight byte) x (signed limb) exactly in int32; at each
// group's end the limb sums of x over the group (the -1 of the ternary code) are subtracted in
// integers, the limbs combined in fp32 and scaled. The one rounding is at most
// max|x| / (2 T) per element (this is not an activation quantization). NL = 3 (T just under
// 2^23, 2^21 for ternary16, whose limbs carry 4 X) when max|x| <= 128 (ternary16: 32) times
// the mean of the other |x|, NL = 4 (T = 2^30, 2^28) up to 256 times: per output the rounding
// then stays under 7.7e-6 (3 limbs) resp. 5e-7 (4 limbs) of sum |x w| when the nonzero
// weights meet x of mean size. Both return false (nothing written) when x cannot be
// represented (non-finite, tiny, or max|x| > 256 times the mean of the other |x|: a few huge
// activations meeting zero weights could otherwise exceed 1e-5 sum|x w|) or K or the groups
// exceed the stack buffers; the caller then runs the fp32 path.
//===----------------------------------------------------------------------===//
constexpr int64_t kVnniMaxK = 32768;
constexpr int64_t kVnniMaxGroups = 512;
/// The largest X three signed byte limbs hold (0x7F7F7F; four hold 0x7F7F7F7F > 2^30), less a
/// margin for the rounding of x * scale.
constexpr float kLimbMax3 = 8355711.0f - 8.0f;

struct FixedPoint {
  float scale, invScale; // T / max|x| and its inverse
  int limbs;             // 3 or 4
};

/// The fixed point of x: NL = 3 with |X| <= t3 when max|x| <= guard3 times the mean of the
/// other |x|, else NL = 4 with |X| <= t4 (up to 256 times); false when x does not qualify.
SQZ_UK_ALWAYS_INLINE bool fixedPointOf(const float *x, int64_t K, float t3, float guard3, float t4,
                                       FixedPoint &fp) {
  __m512 vmax = _mm512_setzero_ps(), vsum = vmax;
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 a = _mm512_abs_ps(_mm512_loadu_ps(x + k));
    vmax = _mm512_max_ps(vmax, a);
    vsum = _mm512_add_ps(vsum, a);
  }
  float amax = _mm512_reduce_max_ps(vmax), asum = _mm512_reduce_add_ps(vsum);
  for (; k < K; ++k) {
    float a = x[k] < 0 ? -x[k] : x[k];
    amax = a > amax ? a : amax;
    asum += a;
  }
  // asum catches a NaN that vmaxps dropped (max(NaN, a) = a) and sums that overflow; amax
  // catches inf, zero and values so tiny that T / amax or its inverse would leave the normals.
  if (!(asum <= 3.0e38f) || !(amax <= 3.0e38f) || !(amax >= 1.0e-25f))
    return false;
  float meanOthers = K > 1 ? (asum - amax) / static_cast<float>(K - 1) : amax;
  if (!(amax <= 256.0f * meanOthers))
    return false;
  fp.limbs = amax <= guard3 * meanOthers ? 3 : 4;
  fp.scale = (fp.limbs == 3 ? t3 : t4) / amax;
  fp.invScale = 1.0f / fp.scale;
  return true;
}

/// X of the 16 columns k .. k + 15 (0 past K).
SQZ_UK_ALWAYS_INLINE __m512i fixedAt(const float *x, int64_t K, int64_t k, __m512 scale) {
  __m512 xv = k + 16 <= K
                  ? _mm512_loadu_ps(x + k)
                  : _mm512_maskz_loadu_ps(k < K ? (__mmask16)((1u << (K - k)) - 1) : 0, x + k);
  return _mm512_cvtps_epi32(_mm512_mul_ps(xv, scale));
}

/// The NL signed byte limbs of X (NL = 3: |X| <= 0x7F7F7F; 4: |X| < 2^31), each
/// sign-extended in its int32 lane.
template <int NL> SQZ_UK_ALWAYS_INLINE void limbsOf(__m512i X, __m512i limb[NL]) {
  for (int li = 0; li < NL; ++li) {
    limb[li] = _mm512_srai_epi32(_mm512_slli_epi32(X, 24), 24);
    X = _mm512_srai_epi32(_mm512_sub_epi32(X, limb[li]), 8);
  }
}

/// ternary2 (the LutPlanes layout, KB = 256; groups are whole blocks or one per row): the
/// 64-byte row block is used as is: dword j, byte q holds in bits 2m the code of column
/// 16 (4q + m) + j, so (block >> 2m) & 3 (m = 0..3) gives the codes of 64 columns as bytes,
/// and one vpdpbusd per limb multiplies them with the limb vector whose byte (j, q) is
/// column 16 (4q + m) + j: lane j of a row's accumulator sums columns = j (mod 16). Per
/// 256 weights of a row: 4 ands, 3 word shifts and 4 NL vpdpbusd (vs 16 shifts, 16 vpermps
/// and 16 FMAs).
constexpr int64_t kKBT2 = 256;
constexpr int64_t kVnniMaxGroupsT2 = kVnniMaxK / kKBT2;

template <int NL>
__attribute__((noinline)) void gemvT2VnniLimbs(const QuantLayout &l, const float *x,
                                               const float *bias, float *y, int64_t n_begin,
                                               int64_t n_end, FixedPoint fp) {
  const int64_t K = l.K;
  // limbs[b][m][li]: 64 bytes, byte 4 j + q = limb li of X at column 256 b + 16 (4 q + m) + j.
  alignas(64) int8_t limbs[kVnniMaxK * NL];
  // corr[g][li]: lane j = the sum of limb li over the group's columns = j (mod 16).
  alignas(64) int32_t corr[kVnniMaxGroupsT2][NL][16];
  const __m512 vscale = _mm512_set1_ps(fp.scale);
  const __m512i kLow = _mm512_set1_epi32(0xFF);
  {
    __m512i S[NL];
    for (int li = 0; li < NL; ++li)
      S[li] = _mm512_setzero_si512();
    int64_t gCur = 0;
    for (int64_t b = 0; b < l.blocks; ++b) {
      int64_t g = minI(b * kKBT2 / l.group, l.groups - 1);
      if (g != gCur) {
        for (int li = 0; li < NL; ++li) {
          _mm512_store_si512(corr[gCur][li], S[li]);
          S[li] = _mm512_setzero_si512();
        }
        gCur = g;
      }
      for (int m = 0; m < 4; ++m) {
        __m512i L[NL];
        for (int li = 0; li < NL; ++li)
          L[li] = _mm512_setzero_si512();
        for (int q = 0; q < 4; ++q) {
          __m512i lim[NL];
          limbsOf<NL>(fixedAt(x, K, b * kKBT2 + 16 * (4 * q + m), vscale), lim);
          for (int li = 0; li < NL; ++li) {
            S[li] = _mm512_add_epi32(S[li], lim[li]);
            L[li] = _mm512_or_si512(L[li], _mm512_slli_epi32(_mm512_and_si512(lim[li], kLow), 8 * q));
          }
        }
        for (int li = 0; li < NL; ++li)
          _mm512_store_si512(limbs + ((b * 4 + m) * NL + li) * 64, L[li]);
      }
    }
    for (int li = 0; li < NL; ++li)
      _mm512_store_si512(corr[gCur][li], S[li]);
  }

  const __m512i k3 = _mm512_set1_epi8(3);
  forPanels(n_begin, n_end, [&](int64_t panel, int rlo, int rhi) {
    __m512i A[kPanelRows][NL];
    __m512 acc[kPanelRows];
    for (int r = 0; r < kPanelRows; ++r) {
      acc[r] = _mm512_setzero_ps();
      for (int li = 0; li < NL; ++li)
        A[r][li] = _mm512_setzero_si512();
    }
    int64_t gNext = 0, gCur = -1;
    auto flush = [&]() {
      const float *s = l.scalePtr(panel, gCur);
      for (int r = 0; r < kPanelRows; ++r) {
        __m512 f = _mm512_setzero_ps();
        for (int li = NL - 1; li >= 0; --li) {
          __m512i v = _mm512_sub_epi32(A[r][li], _mm512_load_si512(corr[gCur][li]));
          f = _mm512_fmadd_ps(f, _mm512_set1_ps(li == NL - 1 ? 0.0f : 256.0f),
                              _mm512_cvtepi32_ps(v));
          A[r][li] = _mm512_setzero_si512();
        }
        acc[r] = _mm512_fmadd_ps(f, _mm512_set1_ps(s[r]), acc[r]);
      }
    };
    const uint8_t *p = l.blockPtr(panel, 0, 0);
    for (int64_t b = 0; b < l.blocks; ++b, p += kPanelRows * 64) {
      int64_t kb0 = b * kKBT2;
      if (kb0 >= gNext) {
        if (gCur >= 0)
          flush();
        gCur = minI(kb0 / l.group, l.groups - 1);
        gNext = (gCur + 1) * l.group;
      }
      for (int c = 0; c < kPanelRows; ++c)
        __builtin_prefetch(p + kPrefetch + 64 * c, 0, 3);
      __m512i v[kPanelRows];
      for (int r = 0; r < kPanelRows; ++r)
        v[r] = _mm512_loadu_si512(p + 64 * r);
      const int8_t *lb = limbs + b * 256 * NL;
#pragma clang loop unroll(full)
      for (int m = 0; m < 4; ++m) {
        __m512i d[kPanelRows];
        for (int r = 0; r < kPanelRows; ++r)
          d[r] = _mm512_and_si512(m == 0 ? v[r] : _mm512_srli_epi16(v[r], 2 * m), k3);
        for (int li = 0; li < NL; ++li) {
          __m512i xl = _mm512_load_si512(lb + (m * NL + li) * 64);
          for (int r = 0; r < kPanelRows; ++r)
            A[r][li] = _mm512_dpbusd_epi32(A[r][li], d[r], xl);
        }
      }
    }
    flush();
    for (int r = rlo; r < rhi; ++r) {
      int64_t n = panel * kPanelRows + r;
      y[n] = _mm512_reduce_add_ps(acc[r]) * fp.invScale + (bias ? bias[n] : 0.0f);
    }
  });
}

bool gemvT2Vnni(const QuantLayout &l, const float *x, const float *bias, float *y,
                int64_t n_begin, int64_t n_end) {
  if (l.blocks * kKBT2 > kVnniMaxK || l.groups > kVnniMaxGroupsT2)
    return false;
  FixedPoint fp;
  if (!fixedPointOf(x, l.K, kLimbMax3, 128.0f, 1073741824.0f, fp))
    return false;
  if (fp.limbs == 3)
    gemvT2VnniLimbs<3>(l, x, bias, y, n_begin, n_end, fp);
  else
    gemvT2VnniLimbs<4>(l, x, bias, y, n_begin, n_end, fp);
  return true;
}

/// ternary16 (groups are multiples of 80 or one per row): the 4 rows x 16 bytes of a block are
/// one zmm, and no trit is ever decoded. With t_n = byte * 3^n mod 256 (t_0 = byte,
/// t_{n+1} = 3 t_n mod 256: two byte adds) the trit is trit_n = (3 t_n - t_{n+1}) / 256, so
///   256 sum_n trit_n X_n = sum_{n=0..5} t_n Y_n,  Y_0 = 3 X_0, Y_n = 3 X_n - X_{n-1},
///   Y_5 = -X_4
/// (X_n: x at column 80 b + 16 n + j): six vpdpbusd per limb of the raw bytes t_n with the
/// NL limbs of Y (|Y| <= 4 |X|, hence |X| <= T = 2^28 for 4 limbs, (0x7F7F7F - 8) / 4 for 3). Per
/// 320 weights: 10 byte adds and 6 NL vpdpbusd (the old trit decoding took 55 operations). The int32 sums cannot overflow for
/// K <= 32768 (|t y| <= 255 * 128 per byte).
constexpr int64_t kVnniMaxBlocksT16 = kVnniMaxK / kKBT16;

template <int NL>
__attribute__((noinline)) void gemvT16VnniLimbs(const QuantLayout &l, const float *x,
                                                const float *bias, float *y, int64_t n_begin,
                                                int64_t n_end, FixedPoint fp) {
  const int64_t K = l.K;
  // ylimbs[b][n][li]: 16 bytes, byte j = limb li of Y_n at column j of plane n of block b.
  alignas(64) int8_t ylimbs[kVnniMaxBlocksT16 * 6 * NL * 16];
  // corr[g][li]: dword lane jj = the limb li of 256 * (sum of X over the group's columns
  // with (k mod 16) / 4 = jj), split as sum_l 256^(l+1) S_l of the limb sums S_l of X.
  alignas(16) int32_t corr[kVnniMaxGroups][NL][4];
  const __m512 vscale = _mm512_set1_ps(fp.scale);
  {
    const __m128i ones = _mm_set1_epi8(1);
    __m128i S[NL];
    for (int li = 0; li < NL; ++li)
      S[li] = _mm_setzero_si128();
    int64_t gCur = 0;
    auto storeCorr = [&]() {
      _mm_store_si128(reinterpret_cast<__m128i *>(corr[gCur][0]), _mm_setzero_si128());
      for (int li = 1; li < NL - 1; ++li)
        _mm_store_si128(reinterpret_cast<__m128i *>(corr[gCur][li]), S[li - 1]);
      _mm_store_si128(reinterpret_cast<__m128i *>(corr[gCur][NL - 1]),
                      _mm_add_epi32(S[NL - 2], _mm_slli_epi32(S[NL - 1], 8)));
      for (int li = 0; li < NL; ++li)
        S[li] = _mm_setzero_si128();
    };
    for (int64_t b = 0; b < l.blocks; ++b) {
      int64_t g = minI(b * kKBT16 / l.group, l.groups - 1);
      if (g != gCur) {
        storeCorr();
        gCur = g;
      }
      __m512i prev = _mm512_setzero_si512();
      int8_t *yb = ylimbs + b * 96 * NL;
      for (int n = 0; n < 6; ++n) {
        __m512i Y;
        if (n < 5) {
          __m512i X = fixedAt(x, K, b * kKBT16 + 16 * n, vscale);
          __m512i lim[NL];
          limbsOf<NL>(X, lim);
          for (int li = 0; li < NL; ++li)
            S[li] = _mm_dpbusd_epi32(S[li], ones, _mm512_cvtepi32_epi8(lim[li]));
          Y = _mm512_sub_epi32(_mm512_add_epi32(X, _mm512_add_epi32(X, X)), prev);
          prev = X;
        } else {
          Y = _mm512_sub_epi32(_mm512_setzero_si512(), prev);
        }
        __m512i lim[NL];
        limbsOf<NL>(Y, lim);
        for (int li = 0; li < NL; ++li)
          _mm_store_si128(reinterpret_cast<__m128i *>(yb + (n * NL + li) * 16),
                          _mm512_cvtepi32_epi8(lim[li]));
      }
    }
    storeCorr();
  }

  const __m512i rowLanes = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  // Two panels at a time with three limbs: each broadcast of a limb vector feeds both
  // panels' vpdpbusd (the loop is bound by vpdpbusd and loads; 18 + 2 x 3 x 3 registers).
  // Four limbs (rare: wide-range x) would not fit the 32 registers that way.
  auto run = [&](auto pc, int64_t panel0, int rlo, int rhi) {
    constexpr int P = NL == 3 ? decltype(pc)::value : 1;
    __m512 acc[P];
    // Three accumulator sets (planes n mod 3) so that 3 NL vpdpbusd chains per panel are in
    // flight.
    __m512i A[P][3][NL];
    for (int q = 0; q < P; ++q) {
      acc[q] = _mm512_setzero_ps();
      for (int s = 0; s < 3; ++s)
        for (int li = 0; li < NL; ++li)
          A[q][s][li] = _mm512_setzero_si512();
    }
    int64_t gNext = 0, gCur = -1;
    auto flush = [&]() {
      for (int q = 0; q < P; ++q) {
        __m512 f = _mm512_setzero_ps();
        for (int li = NL - 1; li >= 0; --li) {
          __m512i r = _mm512_add_epi32(A[q][0][li], _mm512_add_epi32(A[q][1][li], A[q][2][li]));
          r = _mm512_sub_epi32(r, _mm512_broadcast_i32x4(_mm_load_si128(
                                      reinterpret_cast<const __m128i *>(corr[gCur][li]))));
          f = _mm512_fmadd_ps(f, _mm512_set1_ps(li == NL - 1 ? 0.0f : 256.0f),
                              _mm512_cvtepi32_ps(r));
          for (int s = 0; s < 3; ++s)
            A[q][s][li] = _mm512_setzero_si512();
        }
        __m512 s = _mm512_permutexvar_ps(
            rowLanes, _mm512_castps128_ps512(_mm_loadu_ps(l.scalePtr(panel0 + q, gCur))));
        acc[q] = _mm512_fmadd_ps(f, s, acc[q]);
      }
    };
    const uint8_t *p[P];
    for (int q = 0; q < P; ++q)
      p[q] = l.blockPtr(panel0 + q, 0, 0);
    // Each panel's stream prefetches kPrefetch bytes ahead; past its panel's end that is the
    // start of the panel it reads in the next run (panel0 + q + P), not the next panel.
    const int64_t panelBytes = l.blocks * kPanelRows * kRowBlockBytesT16;
    for (int64_t b = 0; b < l.blocks; ++b) {
      const int64_t ahead = b * kPanelRows * kRowBlockBytesT16 + kPrefetch;
      const int64_t pfOff = ahead < panelBytes ? kPrefetch : kPrefetch + (P - 1) * panelBytes;
      int64_t kb0 = b * kKBT16;
      if (kb0 >= gNext) {
        if (gCur >= 0)
          flush();
        gCur = minI(kb0 / l.group, l.groups - 1);
        gNext = (gCur + 1) * l.group;
      }
      __m512i t[P];
      for (int q = 0; q < P; ++q) {
        __builtin_prefetch(p[q] + pfOff, 0, 3);
        t[q] = _mm512_loadu_si512(p[q]);
        p[q] += kPanelRows * kRowBlockBytesT16;
      }
      const int8_t *yb = ylimbs + b * 96 * NL;
#pragma clang loop unroll(full)
      for (int n = 0; n < 6; ++n) {
        if (n > 0) // t *= 3 (mod 256); opaque so the compiler keeps the two adds
          for (int q = 0; q < P; ++q)
            t[q] = opaque(_mm512_add_epi8(t[q], _mm512_add_epi8(t[q], t[q])));
        for (int li = 0; li < NL; ++li) {
          __m512i yv = _mm512_broadcast_i32x4(
              _mm_load_si128(reinterpret_cast<const __m128i *>(yb + (n * NL + li) * 16)));
          for (int q = 0; q < P; ++q)
            A[q][n % 3][li] = _mm512_dpbusd_epi32(A[q][n % 3][li], t[q], yv);
        }
      }
    }
    flush();
    const float inv = fp.invScale * (1.0f / 256.0f);
    for (int q = 0; q < P; ++q) {
      alignas(64) float lanes[16];
      _mm512_store_ps(lanes, acc[q]);
      int r0 = q == 0 ? rlo : 0, r1 = q == P - 1 ? rhi : kPanelRows;
      for (int r = r0; r < r1; ++r) {
        int64_t n = (panel0 + q) * kPanelRows + r;
        float sum = (lanes[4 * r] + lanes[4 * r + 1]) + (lanes[4 * r + 2] + lanes[4 * r + 3]);
        y[n] = sum * inv + (bias ? bias[n] : 0.0f);
      }
    }
  };
  if constexpr (NL == 3)
    forPanelPairs(n_begin, n_end, run);
  else
    forPanels(n_begin, n_end, [&](int64_t panel, int rlo, int rhi) {
      run(std::integral_constant<int, 1>{}, panel, rlo, rhi);
    });
}

bool gemvT16Vnni(const QuantLayout &l, const float *x, const float *bias, float *y,
                 int64_t n_begin, int64_t n_end) {
  if (l.blocks > kVnniMaxBlocksT16 || l.groups > kVnniMaxGroups)
    return false;
  FixedPoint fp;
  if (!fixedPointOf(x, l.K, kLimbMax3 / 4.0f, 32.0f, 268435456.0f, fp))
    return false;
  if (fp.limbs == 3)
    gemvT16VnniLimbs<3>(l, x, bias, y, n_begin, n_end, fp);
  else
    gemvT16VnniLimbs<4>(l, x, bias, y, n_begin, n_end, fp);
  return true;
}
#endif

} // namespace

extern "C" void SQZ_UK_FN(ternary2)(SQZ_UK_KERNEL_PARAMS) {
#if defined(__AVX512VNNI__)
  if (M == 1 && n_begin < n_end) {
    QuantLayout l = quantLayoutOf(blob, kKBT2, 64);
    if (l.planesPerGroup(16) == 16 && gemvT2Vnni(l, x, bias, y, n_begin, n_end))
      return;
  }
#endif
  kernelLut<kLutTernary2>(blob, x, M, ldx, bias, y, ldy, n_begin, n_end);
}

extern "C" void SQZ_UK_FN(ternary16)(SQZ_UK_KERNEL_PARAMS) {
  if (M <= 0 || n_begin >= n_end)
    return;
  QuantLayout l = quantLayoutOf(blob, kKBT16, kRowBlockBytesT16);
#if defined(__AVX512F__) || defined(__AVX2__)
  int ppg = l.planesPerGroup(5);
  if (M == 1) {
    switch (ppg) {
    case 5:
#if defined(__AVX512VNNI__)
      if (gemvT16Vnni(l, x, bias, y, n_begin, n_end))
        return;
#endif
      return gemvT16<5>(l, x, bias, y, n_begin, n_end);
    case 1:
      return gemvT16<1>(l, x, bias, y, n_begin, n_end);
    default:
      break;
    }
  }
  if (ppg == 5)
    return runChunked(l, deqT16Simd<5>, x, M, ldx, bias, y, ldy, n_begin, n_end);
  if (l.planesInOneGroup())
    return runChunked(l, deqT16Simd<0>, x, M, ldx, bias, y, ldy, n_begin, n_end);
#endif
  runChunked(l, deqT16Scalar, x, M, ldx, bias, y, ldy, n_begin, n_end);
}

#ifdef SQZ_UK_HOST
int64_t sqz_uk::packedBytesTernary2(const sqz_uk_logical &w) {
  return quantSizes(w, Lut<kLutTernary2>::kb, Lut<kLutTernary2>::rowBlockBytes).total;
}

void sqz_uk::packTernary2(const sqz_uk_logical &w, uint8_t *out) {
  packLut<kLutTernary2>(w, out, 1);
}

int64_t sqz_uk::packedBytesTernary16(const sqz_uk_logical &w) {
  return quantSizes(w, kKBT16, kRowBlockBytesT16).total;
}

void sqz_uk::packTernary16(const sqz_uk_logical &w, uint8_t *out) {
  QuantSizes s = packQuantCommon(w, out, kKBT16, kRowBlockBytesT16);
  int64_t blocks = ceilDiv(w.K, kKBT16);
  int64_t panels = ceilDiv(w.N, kPanelRows);
  // Every row block of every panel, padding rows and columns included (trit 1).
  for (int64_t panel = 0; panel < panels; ++panel)
    for (int64_t b = 0; b < blocks; ++b)
      for (int r = 0; r < kPanelRows; ++r) {
        int64_t n = panel * kPanelRows + r;
        uint8_t *p = out + s.codes + ((panel * blocks + b) * kPanelRows + r) * kRowBlockBytesT16;
        for (int j = 0; j < 16; ++j) {
          int v = 0;
          for (int t = 0; t < 5; ++t) {
            int64_t k = b * kKBT16 + 16 * t + j;
            int trit = n < w.N && k < w.K ? w.codes[n * w.K + k] : 1;
            v = v * 3 + trit;
          }
          p[j] = static_cast<uint8_t>((v * 256 + 242) / 243);
        }
      }
}
#endif
