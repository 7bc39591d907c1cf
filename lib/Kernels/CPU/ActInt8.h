//===- ActInt8.h - int8-activation kernels of int4, nf4 and int8 -*- C++ -*-===//
//
// Internal to lib/Kernels/CPU (included by Int4.cpp, NF4.cpp and Int8.cpp, once per ISA
// level). A blob packed with sqz_uk_logical::act_int8 (header flag SQZ_UK_FLAG_ACT_INT8) runs
// these kernels instead of the fp32-dequantization ones; the packed layout is the same
// (KernelCommon.h's quantized panels), only the arithmetic differs (docs/Kernels.md,
// "int8 activations"):
//
//   x is quantized per row and per block of 32 columns (the last one zero-padded):
//     amax = max |x_k|;  inv = 127 / amax;  q_k = round_half_even(x_k * inv)  (|q_k| <= 127);
//     xs = amax / 127 (nf4: amax / 16129);  amax == 0: q = 0, xs = 0.
//   W's integer value per weight:  int4 c - zero (zero 8 symmetric),  int8 c - zero (128),
//     nf4 T8[c] = round(127 NF4[c]) (so the nf4 weight is scale * T8[c] / 127, within
//     0.0037 * scale of scale * NF4[c]).
//   y[m, n] = bias[n] + sum over 32-column blocks t of (s[n, g(t)] * xs[m, t]) * I[m, n, t],
//     I = sum_{k in t} q_k * W_int[n, k]   (exact in int32).
//
// Every 32-column block lies in one weight group: groups 32, 64, a multiple of the format's
// block (128 for int4/nf4, 64 for int8) or one group per row; K <= 32768. The packer only sets
// the flag then (actSupported).
//
// AVX512-VNNI: vpdpbusd (u8 weight x s8 activation, 4 products per int32 lane). Weights
// become u8: int4/nf4 through a 4x4 byte transpose per 128-bit lane (vpshufb) and the two
// nibble masks, so that every int32 lane holds 4 consecutive columns of one 32-column block
// (the activations are stored in that order once per call; nf4 then looks the u8 values
// T8 + 128 up with a second vpshufb); int8 XORs 0x80 back to the code. The zero point enters
// as the initial accumulator: -zero * (sum of q over the lane's own columns) (asymmetric:
// vpmaddwd of the zero points with -sum), so each lane holds an exact partial dot product.
// Per (x row, weight row, block): one conversion and one FMA with scale[n, g] * xs. The other
// ISA levels run the scalar code of the same semantics (slow; sqz-materialize's act=auto only
// asks for int8 activations on avx512vnni).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_KERNELS_CPU_ACTINT8_H
#define SQZ_KERNELS_CPU_ACTINT8_H

#include "KernelCommon.h"

namespace {

enum ActKind { kActInt4, kActNF4, kActInt8 };

template <int KIND> struct Act {
  static constexpr int64_t kb = KIND == kActInt8 ? 64 : 128; // columns per packed block
  static constexpr int classes = static_cast<int>(kb / 32);  // 32-column x blocks per block
  static constexpr int symZero = KIND == kActInt4 ? 8 : 128; // u8 weight offset (symmetric)
  static constexpr int64_t rowBlockBytes = 64;
};

constexpr int64_t kActMaxK = 32768;
/// Software prefetch distance in the panel stream (bytes).
constexpr int64_t kActPrefetch = 4096;
/// Software prefetch distance in the scale stream (bytes; 16 B or 32 B per block).
constexpr int64_t kActScalePrefetch = 512;

/// round(127 * NF4[c]) + 128: the nf4 weights as unsigned bytes (docs/Kernels.md).
alignas(16) static const uint8_t kNF4U8[16] = {1,   40,  61,  78,  92,  105, 116, 128,
                                               138, 148, 159, 171, 184, 199, 220, 255};

/// Whether a weight of this format and shape can take the int8-activation path.
SQZ_UK_ALWAYS_INLINE bool actSupported(int64_t kb, int64_t K, int64_t group) {
  if (K < 1 || K > kActMaxK || group < 1)
    return false;
  return ceilDiv(K, group) == 1 || group % kb == 0 || group == 32 || (group == 64 && kb == 128);
}

/// Round half to even of |v| < 2^22 without libm (the same result as vcvtps2dq).
SQZ_UK_ALWAYS_INLINE float roundEven(float v) {
  volatile float c = 12582912.0f; // 1.5 * 2^23; volatile: no reassociation across the add
  float t = v + c;
  return t - c;
}

/// Quantizes one 32-column block of x (n <= 32 valid columns, the rest zero) into q[32].
/// A block with a NaN or infinite x gets q = 0 and xs = NaN: every output that reads it is
/// NaN (vmaxps would drop a NaN from amax, and q would silently become 0).
SQZ_UK_ALWAYS_INLINE void quantBlock32(const float *x, int n, bool nf4, int8_t *q, float &xs,
                                       int32_t &sum) {
#if defined(__AVX512F__)
  __mmask32 m = n >= 32 ? 0xFFFFFFFFu : ((1u << n) - 1u);
  __m512 v0 = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), x);
  __m512 v1 = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), x + 16);
  const __m512 fmax = _mm512_set1_ps(3.4028235e38f);
  if (_mm512_cmp_ps_mask(_mm512_abs_ps(v0), fmax, _CMP_NLE_UQ) |
      _mm512_cmp_ps_mask(_mm512_abs_ps(v1), fmax, _CMP_NLE_UQ)) {
    memset(q, 0, 32);
    xs = __builtin_nanf("");
    sum = 0;
    return;
  }
  float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
  if (!(amax > 0.0f)) {
    memset(q, 0, 32);
    xs = 0.0f;
    sum = 0;
    return;
  }
  float inv = 127.0f / amax;
  xs = amax / (nf4 ? 16129.0f : 127.0f);
  __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, _mm512_set1_ps(inv)));
  __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, _mm512_set1_ps(inv)));
  sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(q), _mm512_cvtepi32_epi8(q0));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(q + 16), _mm512_cvtepi32_epi8(q1));
#else
  float amax = 0.0f;
  for (int k = 0; k < n; ++k) {
    float a = x[k] < 0 ? -x[k] : x[k];
    if (!(a <= 3.4028235e38f)) { // NaN or inf (see above)
      memset(q, 0, 32);
      xs = __builtin_nanf("");
      sum = 0;
      return;
    }
    amax = a > amax ? a : amax;
  }
  if (!(amax > 0.0f)) {
    memset(q, 0, 32);
    xs = 0.0f;
    sum = 0;
    return;
  }
  float inv = 127.0f / amax;
  xs = amax / (nf4 ? 16129.0f : 127.0f);
  int32_t s = 0;
  for (int k = 0; k < 32; ++k) {
    float v = k < n ? x[k] * inv : 0.0f;
    int32_t i = static_cast<int32_t>(roundEven(v));
    q[k] = static_cast<int8_t>(i);
    s += i;
  }
  sum = s;
#endif
}

/// The integer weight of column kk of a packed row block.
template <int KIND> SQZ_UK_ALWAYS_INLINE int actCode(const uint8_t *p, int64_t kk) {
  if (KIND == kActInt8)
    return p[kk] ^ 0x80;
  int64_t i = kk / 16, j = kk % 16;
  uint32_t word;
  memcpy(&word, p + 4 * j, 4);
  return static_cast<int>((word >> (4 * i)) & 15u);
}

/// The portable kernel of the int8-activation semantics (every ISA level without VNNI).
template <int KIND>
__attribute__((noinline)) void actScalar(const QuantLayout &l, const float *x, int64_t M,
                                         int64_t ldx, const float *bias, float *y, int64_t ldy,
                                         int64_t n_begin, int64_t n_end) {
  constexpr int64_t kb = Act<KIND>::kb;
  int8_t q[kActMaxK + 32];
  float xs[kActMaxK / 32 + 1];
  const int64_t T = ceilDiv(l.K, 32);
  for (int64_t m = 0; m < M; ++m) {
    const float *xr = x + m * ldx;
    for (int64_t t = 0; t < T; ++t) {
      int32_t sum;
      quantBlock32(xr + 32 * t, static_cast<int>(minI(32, l.K - 32 * t)), KIND == kActNF4,
                   q + 32 * t, xs[t], sum);
    }
    for (int64_t n = n_begin; n < n_end; ++n) {
      int64_t panel = n / kPanelRows;
      int r = static_cast<int>(n % kPanelRows);
      float acc = 0.0f;
      for (int64_t t = 0; t < T; ++t) {
        int64_t g = minI(32 * t / l.group, l.groups - 1);
        float s = l.scalePtr(panel, g)[r];
        int z = l.asym ? l.zeroPtr(panel, g)[r] : Act<KIND>::symZero;
        int32_t I = 0;
        for (int64_t k = 32 * t; k < minI(32 * t + 32, l.K); ++k) {
          int c = actCode<KIND>(l.blockPtr(panel, k / kb, r), k % kb);
          int w = KIND == kActNF4 ? static_cast<int>(kNF4U8[c]) - 128 : c - z;
          I += static_cast<int32_t>(q[k]) * w;
        }
        acc += (s * xs[t]) * static_cast<float>(I);
      }
      y[m * ldy + n] = acc + (bias ? bias[n] : 0.0f);
    }
  }
}

#if defined(__AVX512VNNI__)
/// One block of quantized activations, in the lane order of the weight vectors.
template <int KIND> struct alignas(64) XBlock {
  /// int4/nf4: bytes 16 l + 4 q + e (lo half) and 64 + 16 l + 4 q + e (hi half) hold columns
  /// 32 q + 4 l + e and 32 q + 16 + 4 l + e; int8: byte j holds column j.
  int8_t q[Act<KIND>::kb];
  /// Per int32 lane: xs of the lane's 32-column block (int4/nf4: lane 4 l + q has block q;
  /// int8: lane d has block d / 8).
  float s[16];
  /// The initial accumulator: -zmul * (sum of q over the lane's own columns); zmul = the
  /// symmetric zero, or 1 when asymmetric (then multiplied by the zero points with vpmaddwd).
  int32_t c[16];
};

/// The x block of int32 lane `lane`.
template <int KIND> constexpr int actLaneClass(int lane) {
  return KIND == kActInt8 ? lane / 8 : lane % 4;
}

/// Quantizes one row of x into blocks[0 .. l.blocks).
template <int KIND>
SQZ_UK_ALWAYS_INLINE void actQuantRow(const QuantLayout &l, const float *x, XBlock<KIND> *blocks,
                                      int zmul) {
  using A = Act<KIND>;
  for (int64_t b = 0; b < l.blocks; ++b) {
    XBlock<KIND> &xb = blocks[b];
    float xs[A::classes];
    int32_t sums[A::classes];
    alignas(16) int8_t q[32];
    for (int c = 0; c < A::classes; ++c) {
      int64_t k0 = b * A::kb + 32 * c;
      int n = static_cast<int>(k0 < l.K ? minI(32, l.K - k0) : 0);
      quantBlock32(x + k0, n, KIND == kActNF4, q, xs[c], sums[c]);
      if (KIND == kActInt8) {
        memcpy(xb.q + 32 * c, q, 32);
      } else {
        // 16-column halves: 4-byte groups l of a half go to bytes 16 l + 4 c (+ 64 for hi).
        for (int h = 0; h < 2; ++h)
          for (int g = 0; g < 4; ++g)
            memcpy(xb.q + 64 * h + 16 * g + 4 * c, q + 16 * h + 4 * g, 4);
      }
    }
    (void)sums;
    for (int lane = 0; lane < 16; ++lane) {
      xb.s[lane] = xs[actLaneClass<KIND>(lane)];
      // The zero point's share of exactly this lane's columns: every lane then holds the
      // true partial sum of q * (code - zero), so the fp32 accumulation adds no cancellation.
      int32_t sum = 0;
      for (int e = 0; e < 4; ++e)
        sum += xb.q[4 * lane + e] + (KIND == kActInt8 ? 0 : xb.q[64 + 4 * lane + e]);
      xb.c[lane] = -zmul * sum;
    }
  }
}

/// How the weight scales of a block are found: one group per block (broadcast per row),
/// several groups per block (G = 32, 64: permuted per lane), one group per row (applied once
/// at the end).
enum ActScales { kScaleBlock, kScaleSub, kScaleRow };

/// MT rows of x (blocks xb, xb + xStride, ...) times the 4 rows of a panel.
template <int KIND, int SMODE, bool ASYM, int MT>
SQZ_UK_ALWAYS_INLINE void actTile(const QuantLayout &l, const XBlock<KIND> *xb, int64_t xStride,
                                  int64_t panel, int rlo, int rhi, const float *bias, float *y,
                                  int64_t ldy, const __m512i *idx) {
  using A = Act<KIND>;
  constexpr bool SUB = SMODE == kScaleSub, ROW = SMODE == kScaleRow;
  __m512 acc[MT][kPanelRows];
  for (int m = 0; m < MT; ++m)
    for (int r = 0; r < kPanelRows; ++r)
      acc[m][r] = _mm512_setzero_ps();
  const __m512i transpose = _mm512_broadcast_i32x4(
      _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  const __m512i lut =
      _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i *>(kNF4U8)));
  const uint8_t *p = l.blockPtr(panel, 0, 0);
  const int64_t groupsPerBlock = SUB ? A::kb / l.group : 1;
  // kScaleBlock: the group advances every blocksPerGroup blocks (no division in the loop).
  const int64_t blocksPerGroup = SMODE == kScaleBlock ? l.group / A::kb : 1;
  int64_t gBlock = 0, gLeft = blocksPerGroup;
  for (int64_t b = 0; b < l.blocks; ++b, p += kPanelRows * A::rowBlockBytes) {
    for (int c = 0; c < kPanelRows; ++c)
      __builtin_prefetch(p + kActPrefetch + 64 * c, 0, 2);
    __m512 S = _mm512_setzero_ps();
    __m512i Z = _mm512_setzero_si512();
    const float *sp;
    const uint8_t *zp = nullptr;
    if (SUB) {
      int64_t g0 = b * groupsPerBlock;
      int64_t ng = minI(groupsPerBlock, l.groups - g0);
      __mmask16 mask = static_cast<__mmask16>((1u << (4 * ng)) - 1u);
      sp = l.scalePtr(panel, g0);
      S = _mm512_maskz_loadu_ps(mask, sp);
      if (ASYM)
        Z = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, l.zeroPtr(panel, g0)));
    } else {
      int64_t g = ROW ? 0 : gBlock;
      if (!ROW && --gLeft == 0) {
        gLeft = blocksPerGroup;
        gBlock = minI(gBlock + 1, l.groups - 1);
      }
      sp = l.scalePtr(panel, g);
      if (ASYM)
        zp = l.zeroPtr(panel, g);
    }
    if (!ROW) // the scale stream is a second one: the prefetchers see only the codes'
      __builtin_prefetch(reinterpret_cast<const char *>(sp) + kActScalePrefetch, 0, 2);
#pragma clang loop unroll(full)
    for (int r = 0; r < kPanelRows; ++r) {
      __m512 wsv = SUB ? _mm512_permutexvar_ps(idx[r], S) : ROW ? S : _mm512_set1_ps(sp[r]);
      __m512i zv = _mm512_setzero_si512();
      if (ASYM)
        zv = SUB ? _mm512_permutexvar_epi32(idx[r], Z) : _mm512_set1_epi32(zp[r]);
      __m512i v = _mm512_loadu_si512(p + r * A::rowBlockBytes);
      __m512i lo, hi = _mm512_setzero_si512();
      if (KIND == kActInt8) {
        lo = _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80)));
      } else {
        __m512i t = _mm512_shuffle_epi8(v, transpose);
        lo = _mm512_and_si512(t, nibble);
        hi = _mm512_and_si512(_mm512_srli_epi16(t, 4), nibble);
        if (KIND == kActNF4) {
          lo = _mm512_shuffle_epi8(lut, lo);
          hi = _mm512_shuffle_epi8(lut, hi);
        }
      }
#pragma clang loop unroll(full)
      for (int m = 0; m < MT; ++m) {
        const XBlock<KIND> *x = xb + m * xStride + b;
        __m512i init = _mm512_load_si512(x->c);
        if (ASYM)
          init = _mm512_madd_epi16(zv, init);
        __m512i iacc = _mm512_dpbusd_epi32(init, lo, _mm512_load_si512(x->q));
        if (KIND != kActInt8)
          iacc = _mm512_dpbusd_epi32(iacc, hi, _mm512_load_si512(x->q + 64));
        __m512 d = ROW ? _mm512_load_ps(x->s) : _mm512_mul_ps(wsv, _mm512_load_ps(x->s));
        acc[m][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc), d, acc[m][r]);
      }
    }
  }
  for (int m = 0; m < MT; ++m) {
    alignas(16) float t[4];
    __m128 sums = hsum4(acc[m][0], acc[m][1], acc[m][2], acc[m][3]);
    if (ROW) // one group per row: the weight scale once, at the end
      sums = _mm_mul_ps(sums, _mm_loadu_ps(l.scalePtr(panel, 0)));
    _mm_store_ps(t, sums);
    for (int r = rlo; r < rhi; ++r) {
      int64_t n = panel * kPanelRows + r;
      y[m * ldy + n] = t[r] + (bias ? bias[n] : 0.0f);
    }
  }
}

template <int KIND, int SMODE, bool ASYM>
__attribute__((noinline)) void actVnni(const QuantLayout &l, const float *x, int64_t M,
                                       int64_t ldx, const float *bias, float *y, int64_t ldy,
                                       int64_t n_begin, int64_t n_end) {
  using A = Act<KIND>;
  constexpr int64_t kBufBytes = 160 * 1024;
  constexpr int64_t kBufBlocks = kBufBytes / sizeof(XBlock<KIND>);
  XBlock<KIND> buf[kBufBlocks];
  constexpr int MT = 6; // x rows per tile: 24 accumulators
  const int64_t rowsPerChunk = minI(M, kBufBlocks / l.blocks);
  // idx[r]: lane -> 4 * (group of the lane's x block within the block) + r.
  __m512i idx[kPanelRows];
  for (int r = 0; r < kPanelRows; ++r) {
    alignas(64) int32_t v[16];
    for (int lane = 0; lane < 16; ++lane) {
      int gi = SMODE == kScaleSub ? static_cast<int>(32 * actLaneClass<KIND>(lane) / l.group) : 0;
      v[lane] = 4 * gi + r;
    }
    idx[r] = _mm512_load_si512(v);
  }
  const int zmul = ASYM ? 1 : A::symZero;
  for (int64_t m0 = 0; m0 < M; m0 += rowsPerChunk) {
    const int64_t rows = minI(rowsPerChunk, M - m0);
    for (int64_t m = 0; m < rows; ++m)
      actQuantRow<KIND>(l, x + (m0 + m) * ldx, buf + m * l.blocks, zmul);
    float *yc = y + m0 * ldy;
    forPanels(n_begin, n_end, [&](int64_t panel, int rlo, int rhi) {
      auto tile = [&](auto mt, int64_t m) {
        actTile<KIND, SMODE, ASYM, decltype(mt)::value>(l, buf + m * l.blocks, l.blocks, panel,
                                                        rlo, rhi, bias, yc + m * ldy, ldy, idx);
      };
      forRowTiles<MT>(rows, tile);
    });
  }
}
#endif // __AVX512VNNI__

/// The kernel body of a blob with SQZ_UK_FLAG_ACT_INT8.
template <int KIND>
SQZ_UK_ALWAYS_INLINE void kernelAct(const QuantLayout &l, const float *x, int64_t M, int64_t ldx,
                                    const float *bias, float *y, int64_t ldy, int64_t n_begin,
                                    int64_t n_end) {
  if (M <= 0 || n_begin >= n_end)
    return;
#if defined(__AVX512VNNI__)
  if (l.groups == 1)
    return l.asym ? actVnni<KIND, kScaleRow, true>(l, x, M, ldx, bias, y, ldy, n_begin, n_end)
                  : actVnni<KIND, kScaleRow, false>(l, x, M, ldx, bias, y, ldy, n_begin, n_end);
  if (l.group % Act<KIND>::kb != 0)
    return l.asym ? actVnni<KIND, kScaleSub, true>(l, x, M, ldx, bias, y, ldy, n_begin, n_end)
                  : actVnni<KIND, kScaleSub, false>(l, x, M, ldx, bias, y, ldy, n_begin, n_end);
  return l.asym ? actVnni<KIND, kScaleBlock, true>(l, x, M, ldx, bias, y, ldy, n_begin, n_end)
                : actVnni<KIND, kScaleBlock, false>(l, x, M, ldx, bias, y, ldy, n_begin, n_end);
#else
  actScalar<KIND>(l, x, M, ldx, bias, y, ldy, n_begin, n_end);
#endif
}

} // namespace

#ifdef SQZ_UK_HOST
namespace {
/// Sets SQZ_UK_FLAG_ACT_INT8 in a packed blob when `w` asks for it and supports it.
inline void actMarkBlob(const sqz_uk_logical &w, int64_t kb, uint8_t *out) {
  if (!w.act_int8 || !actSupported(kb, w.K, w.group))
    return;
  sqz_uk_header h;
  memcpy(&h, out, sizeof(h));
  h.flags |= SQZ_UK_FLAG_ACT_INT8;
  memcpy(out, &h, sizeof(h));
}
} // namespace
#endif

#endif // SQZ_KERNELS_CPU_ACTINT8_H
