//===- LutPlanes.h - Table-lookup plane kernels: int4, nf4, ternary2 -*- C++ -*-===//
//
// Internal to lib/Kernels/CPU (included by Int4.cpp, NF4.cpp and Ternary.cpp, once per ISA
// level). These formats store one BITS-bit code per weight (BITS = 4 or 2) in the same plane
// layout and dequantize through a small table per (row, group):
//   int4:     table[c] = scale * (c - zero)      (zero = 8 when symmetric)
//   nf4:      table[c] = scale * NF4[c]
//   ternary2: table[c] = scale * (c - 1)         (codes 0..2; code 3 is never stored)
// so the kernels differ only in the table's base values and the code width.
//
// Layout (docs/Kernels.md): a row's block is 64 bytes seen as 16 little-endian uint32 words;
// word j holds the codes of columns 16 i + j (i = 0 .. 32/BITS - 1) in bits BITS i ..
// BITS i + BITS - 1, so a block has KB = 16 * 32 / BITS columns (128 for 4 bits, 256 for 2).
// A 16-column plane i is (word >> BITS i) in every lane, whose low 4 bits are what AVX-512
// vpermps indexes with; for 2-bit codes the table is repeated so that the next code's bits in
// the index do not matter (table[idx] = value(idx & 3)). AVX2's 8-entry vpermps does the same
// for 2-bit codes and takes two lookups and a blend for 4-bit codes.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_KERNELS_CPU_LUTPLANES_H
#define SQZ_KERNELS_CPU_LUTPLANES_H

#include "KernelCommon.h"

namespace {

enum LutKind { kLutInt4, kLutNF4, kLutTernary2 };

/// Software prefetch distance of the GEMVs (bytes ahead in the panel stream): the hardware
/// prefetchers stop at 4 KiB page boundaries.
constexpr int64_t kLutPrefetch = 2048;

template <int KIND> struct Lut {
  static constexpr int bits = KIND == kLutTernary2 ? 2 : 4;
  static constexpr int planes = 32 / bits;   // 16-column planes per block
  static constexpr int64_t kb = 16 * planes; // columns per block
  static constexpr int64_t rowBlockBytes = 64;
  static constexpr unsigned mask = (1u << bits) - 1;
};

/// The code of block column kk in a row block.
template <int KIND> SQZ_UK_ALWAYS_INLINE unsigned codeAt(const uint8_t *p, int64_t kk) {
  using L = Lut<KIND>;
  int64_t i = kk / 16, j = kk % 16;
  uint32_t word;
  memcpy(&word, p + 4 * j, 4);
  return (word >> (L::bits * i)) & L::mask;
}

/// The base value of code c in (panel, row, group) before scaling.
template <int KIND>
SQZ_UK_ALWAYS_INLINE float baseValue(const QuantLayout &l, int64_t panel, int r, int64_t g,
                                     unsigned c) {
  if (KIND == kLutNF4)
    return kNF4Table[c];
  if (KIND == kLutTernary2)
    return c == 3 ? 0.0f : static_cast<float>(static_cast<int>(c) - 1);
  int z = l.asym ? l.zeroPtr(panel, g)[r] : 8;
  return static_cast<float>(static_cast<int>(c) - z);
}

/// Scalar dequantization of blocks [b0, b0 + nb) of a panel into W (any group).
template <int KIND>
void deqLutScalar(const QuantLayout &l, int64_t panel, int64_t b0, int64_t nb, float *W,
                  int64_t ldw) {
  constexpr int64_t kb = Lut<KIND>::kb;
  for (int r = 0; r < kPanelRows; ++r)
    for (int64_t b = b0; b < b0 + nb; ++b) {
      const uint8_t *p = l.blockPtr(panel, b, r);
      for (int64_t kk = 0; kk < kb; ++kk) {
        int64_t g = minI((b * kb + kk) / l.group, l.groups - 1);
        float s = l.scalePtr(panel, g)[r];
        W[r * ldw + (b - b0) * kb + kk] = s * baseValue<KIND>(l, panel, r, g, codeAt<KIND>(p, kk));
      }
    }
}

#if defined(__AVX512F__)
template <int KIND>
SQZ_UK_ALWAYS_INLINE __m512 lutTable(const QuantLayout &l, int64_t panel, int r, int64_t g) {
  __m512 s = _mm512_set1_ps(l.scalePtr(panel, g)[r]);
  __m512 base;
  if (KIND == kLutNF4) {
    base = _mm512_load_ps(kNF4Table);
  } else if (KIND == kLutTernary2) {
    base = _mm512_setr_ps(-1, 0, 1, 0, -1, 0, 1, 0, -1, 0, 1, 0, -1, 0, 1, 0);
  } else {
    const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    float z = l.asym ? static_cast<float>(l.zeroPtr(panel, g)[r]) : 8.0f;
    base = _mm512_sub_ps(iota, _mm512_set1_ps(z));
  }
  // Opaque: otherwise LLVM pushes the permute through the multiply (one more per lookup).
  return opaque(_mm512_mul_ps(base, s));
}

/// Dequantizes blocks [b0, b0 + nb) of a panel into W; PPG planes per group run (see
/// walkBlock), 0: any group that is a multiple of 16 (checked per plane).
template <int KIND, int PPG>
void deqLutSimd(const QuantLayout &l, int64_t panel, int64_t b0, int64_t nb, float *W,
                int64_t ldw) {
  using L = Lut<KIND>;
  for (int r = 0; r < kPanelRows; ++r) {
    int64_t gNext = 0;
    __m512 tab = _mm512_setzero_ps();
    for (int64_t b = b0; b < b0 + nb; ++b) {
      __m512i v = _mm512_loadu_si512(l.blockPtr(panel, b, r));
      float *out = W + r * ldw + (b - b0) * L::kb;
      if (PPG > 0) {
        walkBlock<L::planes, (PPG > 0 ? PPG : L::planes)>(
            l, b, gNext, [&](int64_t g) { tab = lutTable<KIND>(l, panel, r, g); },
            [&](int i) {
              _mm512_storeu_ps(out + 16 * i,
                               _mm512_permutexvar_ps(_mm512_srli_epi32(v, L::bits * i), tab));
            });
        continue;
      }
      for (int i = 0; i < L::planes; ++i) {
        int64_t k = b * L::kb + 16 * i;
        if (k >= gNext) {
          int64_t g = minI(k / l.group, l.groups - 1);
          gNext = (g + 1) * l.group;
          tab = lutTable<KIND>(l, panel, r, g);
        }
        _mm512_storeu_ps(
            out + 16 * i,
            _mm512_permutexvar_ps(_mm512_srlv_epi32(v, _mm512_set1_epi32(L::bits * i)), tab));
      }
    }
  }
}

/// M == 1: the codes of the panel's four rows are dequantized in registers (one shift and one
/// vpermps per 16 weights) and multiplied into four accumulators; one pass over a contiguous
/// panel stream.
template <int KIND, int PPG>
__attribute__((noinline)) void gemvLut(const QuantLayout &l, const float *x, const float *bias,
                                       float *y, int64_t n_begin, int64_t n_end) {
  using L = Lut<KIND>;
  XTail<L::kb> xt(x, l.K);
  forPanels(n_begin, n_end, [&](int64_t panel, int rlo, int rhi) {
    __m512 acc[kPanelRows], tab[kPanelRows];
    for (int r = 0; r < kPanelRows; ++r)
      acc[r] = tab[r] = _mm512_setzero_ps();
    int64_t gNext = 0;
    const uint8_t *p = l.blockPtr(panel, 0, 0);
    for (int64_t b = 0; b < l.blocks; ++b, p += kPanelRows * L::rowBlockBytes) {
      const float *xb = xt.block(x, b);
      for (int c = 0; c < kPanelRows; ++c)
        __builtin_prefetch(p + kLutPrefetch + 64 * c, 0, 2);
      __m512i v[kPanelRows];
      for (int r = 0; r < kPanelRows; ++r)
        v[r] = _mm512_loadu_si512(p + r * L::rowBlockBytes);
      walkBlock<L::planes, PPG>(
          l, b, gNext,
          [&](int64_t g) {
            for (int r = 0; r < kPanelRows; ++r)
              tab[r] = lutTable<KIND>(l, panel, r, g);
          },
          [&](int i) {
            __m512 xv = _mm512_loadu_ps(xb + 16 * i);
            for (int r = 0; r < kPanelRows; ++r)
              acc[r] = _mm512_fmadd_ps(
                  xv, _mm512_permutexvar_ps(_mm512_srli_epi32(v[r], L::bits * i), tab[r]), acc[r]);
          });
    }
    for (int r = rlo; r < rhi; ++r) {
      int64_t n = panel * kPanelRows + r;
      y[n] = hsum(acc[r]) + (bias ? bias[n] : 0.0f);
    }
  });
}
#elif defined(__AVX2__)
/// The table as two 8-entry halves (codes 0..7 and 8..15; for 2-bit codes only lo is used).
template <int KIND>
SQZ_UK_ALWAYS_INLINE void lutTable(const QuantLayout &l, int64_t panel, int r, int64_t g,
                                   __m256 &lo, __m256 &hi) {
  __m256 s = _mm256_set1_ps(l.scalePtr(panel, g)[r]);
  if (KIND == kLutNF4) {
    lo = opaque(_mm256_mul_ps(_mm256_load_ps(kNF4Table), s));
    hi = opaque(_mm256_mul_ps(_mm256_load_ps(kNF4Table + 8), s));
  } else if (KIND == kLutTernary2) {
    lo = hi = opaque(_mm256_mul_ps(_mm256_setr_ps(-1, 0, 1, 0, -1, 0, 1, 0), s));
  } else {
    float z = l.asym ? static_cast<float>(l.zeroPtr(panel, g)[r]) : 8.0f;
    __m256 zv = _mm256_set1_ps(z);
    lo = opaque(_mm256_mul_ps(_mm256_sub_ps(_mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), zv), s));
    hi = opaque(_mm256_mul_ps(_mm256_sub_ps(_mm256_setr_ps(8, 9, 10, 11, 12, 13, 14, 15), zv), s));
  }
}

/// table[code of (v >> shift)] per lane.
template <int KIND> SQZ_UK_ALWAYS_INLINE __m256 lookup(__m256i v, int shift, __m256 lo, __m256 hi) {
  __m256i idx = _mm256_srli_epi32(v, shift);
  __m256 a = _mm256_permutevar8x32_ps(lo, idx);
  if (Lut<KIND>::bits == 2)
    return a; // vpermps reads 3 bits; the table repeats every 4 entries
  __m256 b = _mm256_permutevar8x32_ps(hi, idx);
  // Bit 3 of the code selects the high half: move it to the sign bit for blendv.
  return _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
}

template <int KIND, int PPG>
void deqLutSimd(const QuantLayout &l, int64_t panel, int64_t b0, int64_t nb, float *W,
                int64_t ldw) {
  using L = Lut<KIND>;
  for (int r = 0; r < kPanelRows; ++r) {
    int64_t gNext = 0;
    __m256 lo = _mm256_setzero_ps(), hi = lo;
    for (int64_t b = b0; b < b0 + nb; ++b) {
      const uint8_t *p = l.blockPtr(panel, b, r);
      __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
      __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p + 32));
      float *out = W + r * ldw + (b - b0) * L::kb;
      auto onPlane = [&](int i) {
        _mm256_storeu_ps(out + 16 * i, lookup<KIND>(v0, L::bits * i, lo, hi));
        _mm256_storeu_ps(out + 16 * i + 8, lookup<KIND>(v1, L::bits * i, lo, hi));
      };
      if (PPG > 0) {
        walkBlock<L::planes, (PPG > 0 ? PPG : L::planes)>(
            l, b, gNext, [&](int64_t g) { lutTable<KIND>(l, panel, r, g, lo, hi); }, onPlane);
        continue;
      }
      for (int i = 0; i < L::planes; ++i) {
        int64_t k = b * L::kb + 16 * i;
        if (k >= gNext) {
          int64_t g = minI(k / l.group, l.groups - 1);
          gNext = (g + 1) * l.group;
          lutTable<KIND>(l, panel, r, g, lo, hi);
        }
        onPlane(i);
      }
    }
  }
}

template <int KIND, int PPG>
__attribute__((noinline)) void gemvLut(const QuantLayout &l, const float *x, const float *bias,
                                       float *y, int64_t n_begin, int64_t n_end) {
  using L = Lut<KIND>;
  XTail<L::kb> xt(x, l.K);
  forPanels(n_begin, n_end, [&](int64_t panel, int rlo, int rhi) {
    __m256 acc[kPanelRows], lo[kPanelRows], hi[kPanelRows];
    for (int r = 0; r < kPanelRows; ++r)
      acc[r] = lo[r] = hi[r] = _mm256_setzero_ps();
    int64_t gNext = 0;
    const uint8_t *p = l.blockPtr(panel, 0, 0);
    for (int64_t b = 0; b < l.blocks; ++b, p += kPanelRows * L::rowBlockBytes) {
      const float *xb = xt.block(x, b);
      walkBlock<L::planes, PPG>(
          l, b, gNext,
          [&](int64_t g) {
            for (int r = 0; r < kPanelRows; ++r)
              lutTable<KIND>(l, panel, r, g, lo[r], hi[r]);
          },
          [&](int i) {
            __m256 x0 = _mm256_loadu_ps(xb + 16 * i), x1 = _mm256_loadu_ps(xb + 16 * i + 8);
            for (int r = 0; r < kPanelRows; ++r) {
              const uint8_t *pr = p + r * L::rowBlockBytes;
              __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(pr));
              __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(pr + 32));
              acc[r] = _mm256_fmadd_ps(x0, lookup<KIND>(v0, L::bits * i, lo[r], hi[r]), acc[r]);
              acc[r] = _mm256_fmadd_ps(x1, lookup<KIND>(v1, L::bits * i, lo[r], hi[r]), acc[r]);
            }
          });
    }
    for (int r = rlo; r < rhi; ++r) {
      int64_t n = panel * kPanelRows + r;
      y[n] = hsum(acc[r]) + (bias ? bias[n] : 0.0f);
    }
  });
}
#endif

/// The kernel body of a table-lookup format.
template <int KIND> SQZ_UK_ALWAYS_INLINE void kernelLut(SQZ_UK_KERNEL_PARAMS) {
  using L = Lut<KIND>;
  if (M <= 0 || n_begin >= n_end)
    return;
  QuantLayout l = quantLayoutOf(blob, L::kb, L::rowBlockBytes);
#if defined(__AVX512F__) || defined(__AVX2__)
  int ppg = l.planesPerGroup(L::planes);
  if (M == 1) {
    if (ppg == L::planes)
      return gemvLut<KIND, L::planes>(l, x, bias, y, n_begin, n_end);
    switch (ppg) {
    case 8:
      return gemvLut<KIND, 8>(l, x, bias, y, n_begin, n_end);
    case 4:
      return gemvLut<KIND, 4>(l, x, bias, y, n_begin, n_end);
    case 2:
      return gemvLut<KIND, 2>(l, x, bias, y, n_begin, n_end);
    case 1:
      return gemvLut<KIND, 1>(l, x, bias, y, n_begin, n_end);
    default:
      break;
    }
  }
  if (ppg == L::planes)
    return runChunked(l, deqLutSimd<KIND, L::planes>, x, M, ldx, bias, y, ldy, n_begin, n_end);
  if (l.planesInOneGroup())
    return runChunked(l, deqLutSimd<KIND, 0>, x, M, ldx, bias, y, ldy, n_begin, n_end);
#endif
  runChunked(l, deqLutScalar<KIND>, x, M, ldx, bias, y, ldy, n_begin, n_end);
}

} // namespace

#ifdef SQZ_UK_HOST
namespace {
/// Packs codes into the plane layout; columns and rows past the weight hold `padCode`.
template <int KIND> inline void packLut(const sqz_uk_logical &w, uint8_t *out, unsigned padCode) {
  using L = Lut<KIND>;
  QuantSizes s = packQuantCommon(w, out, L::kb, L::rowBlockBytes);
  int64_t blocks = ceilDiv(w.K, L::kb), panels = ceilDiv(w.N, kPanelRows);
  uint8_t *codes = out + s.codes;
  for (int64_t panel = 0; panel < panels; ++panel)
    for (int64_t b = 0; b < blocks; ++b)
      for (int r = 0; r < kPanelRows; ++r) {
        int64_t n = panel * kPanelRows + r;
        uint8_t *p = codes + ((panel * blocks + b) * kPanelRows + r) * L::rowBlockBytes;
        for (int j = 0; j < 16; ++j) {
          uint32_t word = 0;
          for (int i = 0; i < L::planes; ++i) {
            int64_t k = b * L::kb + 16 * i + j;
            unsigned c = n < w.N && k < w.K ? w.codes[n * w.K + k] : padCode;
            word |= (c & L::mask) << (L::bits * i);
          }
          memcpy(p + 4 * j, &word, 4);
        }
      }
}
} // namespace
#endif

#endif // SQZ_KERNELS_CPU_LUTPLANES_H
