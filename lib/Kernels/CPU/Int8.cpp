//===- Int8.cpp - int8 microkernels (group scales, sym/asym) --------------===//
//
// W[n, k] = scale[n, g] * (code[n, k] - zero[n, g]), zero = 128 when symmetric, any group.
//
// Layout (docs/Kernels.md): the quantized panel layout of KernelCommon.h with KB = 64 columns
// per block and 64 bytes per row and block: byte j is code(k = 64 b + j) XOR 0x80, i.e. the
// code minus 128 as a signed byte, so that a sign extension gives code - 128 directly and
// W = scale * (signed - (zero - 128)).
//
//===----------------------------------------------------------------------===//

#include "ActInt8.h"

namespace {

constexpr int64_t kKB8 = 64;
constexpr int64_t kRowBlockBytes8 = 64;

/// zero - 128 of (panel, row, group): what the signed code is offset by.
SQZ_UK_ALWAYS_INLINE int zeroOffset8(const QuantLayout &l, int64_t panel, int r, int64_t g) {
  return l.asym ? static_cast<int>(l.zeroPtr(panel, g)[r]) - 128 : 0;
}

void deq8Scalar(const QuantLayout &l, int64_t panel, int64_t b0, int64_t nb, float *W,
                int64_t ldw) {
  for (int r = 0; r < kPanelRows; ++r)
    for (int64_t b = b0; b < b0 + nb; ++b) {
      const int8_t *p = reinterpret_cast<const int8_t *>(l.blockPtr(panel, b, r));
      for (int64_t kk = 0; kk < kKB8; ++kk) {
        int64_t g = minI((b * kKB8 + kk) / l.group, l.groups - 1);
        float s = l.scalePtr(panel, g)[r];
        W[r * ldw + (b - b0) * kKB8 + kk] =
            s * static_cast<float>(p[kk] - zeroOffset8(l, panel, r, g));
      }
    }
}

#if defined(__AVX512F__)
/// kLanes signed codes at p, minus the zero offset (asymmetric), as floats (exact small
/// integers).
template <bool ASYM = true> SQZ_UK_ALWAYS_INLINE VecF codesAt(const uint8_t *p, VecF zoff) {
  __m512i c = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
  return ASYM ? _mm512_sub_ps(_mm512_cvtepi32_ps(c), zoff) : _mm512_cvtepi32_ps(c);
}
#elif defined(__AVX2__)
template <bool ASYM = true> SQZ_UK_ALWAYS_INLINE VecF codesAt(const uint8_t *p, VecF zoff) {
  __m256i c = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p)));
  return ASYM ? _mm256_sub_ps(_mm256_cvtepi32_ps(c), zoff) : _mm256_cvtepi32_ps(c);
}
#endif

#if defined(__AVX512F__) || defined(__AVX2__)
constexpr int kVecsPerPlane = 16 / kLanes;

/// Dequantizes blocks [b0, b0 + nb) of a panel into W; PPG as in walkBlock, 0: any group
/// that is a multiple of 16.
template <int PPG>
void deq8Simd(const QuantLayout &l, int64_t panel, int64_t b0, int64_t nb, float *W, int64_t ldw) {
  for (int r = 0; r < kPanelRows; ++r) {
    int64_t gNext = 0;
    VecF s = vzero(), zoff = s;
    auto onGroup = [&](int64_t g) {
      s = vset1(l.scalePtr(panel, g)[r]);
      zoff = vset1(static_cast<float>(zeroOffset8(l, panel, r, g)));
    };
    for (int64_t b = b0; b < b0 + nb; ++b) {
      const uint8_t *p = l.blockPtr(panel, b, r);
      float *out = W + r * ldw + (b - b0) * kKB8;
      auto onPlane = [&](int i) {
        for (int h = 0; h < kVecsPerPlane; ++h)
          vstore(out + 16 * i + kLanes * h, vmul(codesAt(p + 16 * i + kLanes * h, zoff), s));
      };
      if (PPG > 0) {
        walkBlock<4, (PPG > 0 ? PPG : 4)>(l, b, gNext, onGroup, onPlane);
        continue;
      }
      for (int i = 0; i < 4; ++i) {
        int64_t k = b * kKB8 + 16 * i;
        if (k >= gNext) {
          int64_t g = minI(k / l.group, l.groups - 1);
          gNext = (g + 1) * l.group;
          onGroup(g);
        }
        onPlane(i);
      }
    }
  }
}

/// M == 1: per group gacc[r] += x * (code - zero) (the signed codes converted in registers),
/// at the group's end acc[r] += scale * gacc[r].
template <int PPG, bool ASYM>
__attribute__((noinline)) void gemv8(const QuantLayout &l, const float *x, const float *bias,
                                     float *y, int64_t n_begin, int64_t n_end) {
  XTail<kKB8> xt(x, l.K);
  forPanels(n_begin, n_end, [&](int64_t panel, int rlo, int rhi) {
    VecF acc[kPanelRows], gacc[kPanelRows], zoff[kPanelRows];
    for (int r = 0; r < kPanelRows; ++r)
      acc[r] = gacc[r] = zoff[r] = vzero();
    int64_t gNext = 0, gCur = -1;
    auto flush = [&]() {
      for (int r = 0; r < kPanelRows; ++r) {
        acc[r] = vfma(gacc[r], vset1(l.scalePtr(panel, gCur)[r]), acc[r]);
        gacc[r] = vzero();
      }
    };
    const uint8_t *p = l.blockPtr(panel, 0, 0);
    for (int64_t b = 0; b < l.blocks; ++b, p += kPanelRows * kRowBlockBytes8) {
      const float *xb = xt.block(x, b);
      walkBlock<4, PPG>(
          l, b, gNext,
          [&](int64_t g) {
            if (gCur >= 0)
              flush();
            gCur = g;
            if (ASYM)
              for (int r = 0; r < kPanelRows; ++r)
                zoff[r] = vset1(static_cast<float>(zeroOffset8(l, panel, r, g)));
          },
          [&](int i) {
            for (int h = 0; h < kVecsPerPlane; ++h) {
              VecF xv = vload(xb + 16 * i + kLanes * h);
              for (int r = 0; r < kPanelRows; ++r)
                gacc[r] =
                    vfma(xv, codesAt<ASYM>(p + r * kRowBlockBytes8 + 16 * i + kLanes * h, zoff[r]),
                         gacc[r]);
            }
          });
    }
    flush();
    for (int r = rlo; r < rhi; ++r) {
      int64_t n = panel * kPanelRows + r;
      y[n] = hsum(acc[r]) + (bias ? bias[n] : 0.0f);
    }
  });
}
#endif

} // namespace

extern "C" void SQZ_UK_FN(int8)(SQZ_UK_KERNEL_PARAMS) {
  if (M <= 0 || n_begin >= n_end)
    return;
  QuantLayout l = quantLayoutOf(blob, kKB8, kRowBlockBytes8);
  if (headerOf(blob).flags & SQZ_UK_FLAG_ACT_INT8)
    return kernelAct<kActInt8>(l, x, M, ldx, bias, y, ldy, n_begin, n_end);
#if defined(__AVX512F__) || defined(__AVX2__)
  int ppg = l.planesPerGroup(4);
  if (M == 1) {
    switch (ppg * 2 + l.asym) {
    case 8:
      return gemv8<4, false>(l, x, bias, y, n_begin, n_end);
    case 9:
      return gemv8<4, true>(l, x, bias, y, n_begin, n_end);
    case 4:
      return gemv8<2, false>(l, x, bias, y, n_begin, n_end);
    case 5:
      return gemv8<2, true>(l, x, bias, y, n_begin, n_end);
    case 2:
      return gemv8<1, false>(l, x, bias, y, n_begin, n_end);
    case 3:
      return gemv8<1, true>(l, x, bias, y, n_begin, n_end);
    default:
      break;
    }
  }
  switch (ppg) {
  case 4:
    return runChunked(l, deq8Simd<4>, x, M, ldx, bias, y, ldy, n_begin, n_end);
  case 2:
    return runChunked(l, deq8Simd<2>, x, M, ldx, bias, y, ldy, n_begin, n_end);
  case 1:
    return runChunked(l, deq8Simd<1>, x, M, ldx, bias, y, ldy, n_begin, n_end);
  default:
    if (l.planesInOneGroup())
      return runChunked(l, deq8Simd<0>, x, M, ldx, bias, y, ldy, n_begin, n_end);
  }
#endif
  runChunked(l, deq8Scalar, x, M, ldx, bias, y, ldy, n_begin, n_end);
}

#ifdef SQZ_UK_HOST
int64_t sqz_uk::packedBytesInt8(const sqz_uk_logical &w) {
  return quantSizes(w, kKB8, kRowBlockBytes8).total;
}

void sqz_uk::packInt8(const sqz_uk_logical &w, uint8_t *out) {
  QuantSizes s = packQuantCommon(w, out, kKB8, kRowBlockBytes8);
  int64_t blocks = ceilDiv(w.K, kKB8);
  for (int64_t n = 0; n < w.N; ++n)
    for (int64_t k = 0; k < w.K; ++k) {
      int64_t b = k / kKB8;
      uint8_t *p =
          out + s.codes +
          (((n / kPanelRows) * blocks + b) * kPanelRows + n % kPanelRows) * kRowBlockBytes8;
      p[k % kKB8] = static_cast<uint8_t>(w.codes[n * w.K + k] ^ 0x80u);
    }
  actMarkBlob(w, kKB8, out);
}
#endif
