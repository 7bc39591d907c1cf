//===- KernelCommon.h - Internal helpers of the CPU microkernels -*- C++ -*-===//
//
// Included by every kernel source of lib/Kernels/CPU (not by users: they include
// Microkernels.h). Each kernel source is compiled once per ISA level (see CMakeLists.txt) with
// -DSQZ_UK_ISA_SUFFIX=<isa> and the matching -march; SQZ_UK_FN(int4) then names the kernel
// sqz_uk_int4_<isa>.
//
// Rules for kernel sources (they are linked into model .so files as bitcode):
// - Everything except the extern "C" kernels and (under SQZ_UK_HOST) the packers lives in an
//   anonymous namespace or is `static`: the same helper compiled for two ISA levels must never
//   be merged by the linker (a template or inline function with external linkage would be, and
//   an AVX-512 body could end up in the generic kernel).
// - No C++ runtime: no new/malloc, exceptions, RTTI, iostream or std:: containers; only
//   <stdint.h>, <string.h> (memcpy/memset), <immintrin.h> (and <math.h> if needed).
// - No heap, at most 256 KiB of stack, reentrant.
// - The packers (host side, called by Registry.cpp) are compiled only in the generic variant
//   of the static library SqzKernelsCPU, under `#ifdef SQZ_UK_HOST`.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_KERNELS_CPU_KERNELCOMMON_H
#define SQZ_KERNELS_CPU_KERNELCOMMON_H

#include "Microkernels.h"

#include <stdint.h>
#include <string.h>

#include <type_traits>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#define SQZ_UK_CAT_(a, b, c) a##b##_##c
#define SQZ_UK_CAT(a, b, c) SQZ_UK_CAT_(a, b, c)
#ifdef SQZ_UK_ISA_SUFFIX
/// The kernel symbol of `fmt` for the ISA level being compiled: sqz_uk_<fmt>_<isa>.
#define SQZ_UK_FN(fmt) SQZ_UK_CAT(sqz_uk_, fmt, SQZ_UK_ISA_SUFFIX)
#endif

/// The kernel parameter list (sqz_uk_kernel_fn).
#define SQZ_UK_KERNEL_PARAMS                                                                       \
  const uint8_t *blob, const float *x, int64_t M, int64_t ldx, const float *bias, float *y,        \
      int64_t ldy, int64_t n_begin, int64_t n_end

#define SQZ_UK_ALWAYS_INLINE inline __attribute__((always_inline))

//===----------------------------------------------------------------------===//
// Host side: one packer pair per format (defined in the format's kernel source under
// SQZ_UK_HOST, called by Registry.cpp after sqz_uk_can_pack validated the input).
//===----------------------------------------------------------------------===//

namespace sqz_uk {
/// Bytes of the packed blob, header included (the input is valid).
int64_t packedBytesF32(const sqz_uk_logical &w);
int64_t packedBytesInt8(const sqz_uk_logical &w);
int64_t packedBytesInt4(const sqz_uk_logical &w);
int64_t packedBytesNF4(const sqz_uk_logical &w);
int64_t packedBytesTernary2(const sqz_uk_logical &w);
int64_t packedBytesTernary16(const sqz_uk_logical &w);
int64_t packedBytesSp24F32(const sqz_uk_logical &w);
int64_t packedBytesSp24Int4(const sqz_uk_logical &w);
/// Writes the whole blob (header and payload, every byte defined) into `out`.
void packF32(const sqz_uk_logical &w, uint8_t *out);
void packInt8(const sqz_uk_logical &w, uint8_t *out);
void packInt4(const sqz_uk_logical &w, uint8_t *out);
void packNF4(const sqz_uk_logical &w, uint8_t *out);
void packTernary2(const sqz_uk_logical &w, uint8_t *out);
void packTernary16(const sqz_uk_logical &w, uint8_t *out);
void packSp24F32(const sqz_uk_logical &w, uint8_t *out);
void packSp24Int4(const sqz_uk_logical &w, uint8_t *out);
} // namespace sqz_uk

namespace {

//===----------------------------------------------------------------------===//
// Small helpers
//===----------------------------------------------------------------------===//

SQZ_UK_ALWAYS_INLINE int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
SQZ_UK_ALWAYS_INLINE int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }
SQZ_UK_ALWAYS_INLINE int64_t minI(int64_t a, int64_t b) { return a < b ? a : b; }

SQZ_UK_ALWAYS_INLINE const sqz_uk_header &headerOf(const uint8_t *blob) {
  return *reinterpret_cast<const sqz_uk_header *>(blob);
}

/// Fills the 64-byte header (the rest of the blob is the caller's).
inline void writeHeader(uint8_t *out, int32_t format, const sqz_uk_logical &w, uint32_t flags,
                        int64_t off0, int64_t off1, int64_t off2) {
  sqz_uk_header h;
  memset(&h, 0, sizeof(h));
  h.magic = SQZ_UK_MAGIC;
  h.version = SQZ_UK_VERSION;
  h.format = static_cast<uint16_t>(format);
  h.N = w.N;
  h.K = w.K;
  h.group = w.group;
  h.flags = flags;
  h.offsets[0] = off0;
  h.offsets[1] = off1;
  h.offsets[2] = off2;
  memcpy(out, &h, sizeof(h));
}

/// The 16 NF4 values (bitsandbytes get_4bit_type('nf4'), compression.md §3.5). The same
/// constants as sqz::compression::nf4Table() (lib/Compression); the kernels cannot link that
/// library, so unittests/Kernels checks that the two tables are bit-identical.
alignas(64) static const float kNF4Table[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

//===----------------------------------------------------------------------===//
// The quantized panel layout shared by int8/int4/nf4/ternary (docs/Kernels.md):
// rows are grouped in panels of kPanelRows; a panel's codes are stored block after block
// along K (KB columns per block, a format constant), and within a block row after row, so a
// panel is one contiguous stream. Scales are [panels][groups][kPanelRows] floats, zero points
// (asymmetric) [panels][groups][kPanelRows] bytes; rows past N are padding (scale 0).
// Header offsets: [0] codes, [1] scales, [2] zero points (0 when symmetric).
//===----------------------------------------------------------------------===//

constexpr int kPanelRows = 4;

template <int V> struct IntConst { static constexpr int value = V; };

/// Runs tile(IntConst<MT>(), m) over the whole MT-row tiles of [0, rows), then once over the
/// last 1..MT-1 rows with their count as a compile-time constant (MT <= 6).
template <int MT, class Tile> inline void forRowTiles(int64_t rows, Tile &&tile) {
  static_assert(MT >= 1 && MT <= 6, "remainder tiles exist for 1..5 rows");
  int64_t m = 0;
  for (; m + MT <= rows; m += MT)
    tile(IntConst<MT>(), m);
  switch (rows - m) {
  case 5:
    tile(IntConst<5>(), m);
    break;
  case 4:
    tile(IntConst<4>(), m);
    break;
  case 3:
    tile(IntConst<3>(), m);
    break;
  case 2:
    tile(IntConst<2>(), m);
    break;
  case 1:
    tile(IntConst<1>(), m);
    break;
  default:
    break;
  }
}

struct QuantLayout {
  int64_t N, K, group, groups, panels, blocks;
  int64_t kb;            // columns per block
  int64_t rowBlockBytes; // bytes of one row's block
  bool asym;
  const uint8_t *codes;
  const float *scales;
  const uint8_t *zeros;

  const uint8_t *blockPtr(int64_t panel, int64_t block, int r) const {
    return codes + ((panel * blocks + block) * kPanelRows + r) * rowBlockBytes;
  }
  const float *scalePtr(int64_t panel, int64_t g) const {
    return scales + (panel * groups + g) * kPanelRows;
  }
  const uint8_t *zeroPtr(int64_t panel, int64_t g) const {
    return zeros + (panel * groups + g) * kPanelRows;
  }
  /// The SIMD paths require every 16-column plane to lie in one group.
  bool planesInOneGroup() const { return group % 16 == 0 || groups == 1; }
  /// Planes per group run inside a block of `planes` 16-column planes for the fused paths:
  /// `planes` when groups are whole blocks (or one group per row), group / 16 when a group
  /// is a divisor of the block; 0 otherwise (the kernels then dequantize through chunks).
  int planesPerGroup(int planes) const {
    if (groups == 1 || group % kb == 0)
      return planes;
    if (group % 16 == 0 && planes % (group / 16) == 0)
      return static_cast<int>(group / 16);
    return 0;
  }
};

/// The fp32 vector of the ISA level (16 lanes with AVX-512, 8 with AVX2) and its basic ops.
#if defined(__AVX512F__)
using VecF = __m512;
constexpr int kLanes = 16;
SQZ_UK_ALWAYS_INLINE VecF vset1(float v) { return _mm512_set1_ps(v); }
SQZ_UK_ALWAYS_INLINE VecF vzero() { return _mm512_setzero_ps(); }
SQZ_UK_ALWAYS_INLINE VecF vload(const float *p) { return _mm512_loadu_ps(p); }
SQZ_UK_ALWAYS_INLINE void vstore(float *p, VecF v) { _mm512_storeu_ps(p, v); }
SQZ_UK_ALWAYS_INLINE VecF vsub(VecF a, VecF b) { return _mm512_sub_ps(a, b); }
SQZ_UK_ALWAYS_INLINE VecF vmul(VecF a, VecF b) { return _mm512_mul_ps(a, b); }
SQZ_UK_ALWAYS_INLINE VecF vfma(VecF a, VecF b, VecF c) { return _mm512_fmadd_ps(a, b, c); }
#elif defined(__AVX2__)
using VecF = __m256;
constexpr int kLanes = 8;
SQZ_UK_ALWAYS_INLINE VecF vset1(float v) { return _mm256_set1_ps(v); }
SQZ_UK_ALWAYS_INLINE VecF vzero() { return _mm256_setzero_ps(); }
SQZ_UK_ALWAYS_INLINE VecF vload(const float *p) { return _mm256_loadu_ps(p); }
SQZ_UK_ALWAYS_INLINE void vstore(float *p, VecF v) { _mm256_storeu_ps(p, v); }
SQZ_UK_ALWAYS_INLINE VecF vsub(VecF a, VecF b) { return _mm256_sub_ps(a, b); }
SQZ_UK_ALWAYS_INLINE VecF vmul(VecF a, VecF b) { return _mm256_mul_ps(a, b); }
SQZ_UK_ALWAYS_INLINE VecF vfma(VecF a, VecF b, VecF c) { return _mm256_fmadd_ps(a, b, c); }
#endif

/// Hides a value from the optimizer (an empty asm that "modifies" the register): used on the
/// dequantization tables, which LLVM would otherwise push through every lookup (a permute of
/// `base * splat(scale)` becomes `permute(base) * scale`, one multiply per 16 weights instead of
/// one per group).
template <typename V> SQZ_UK_ALWAYS_INLINE V opaque(V v) {
#if defined(__AVX2__) || defined(__AVX512F__)
  __asm__("" : "+v"(v));
#endif
  return v;
}

/// A zero-padded copy of x's last partial block of `KB` columns.
template <int64_t KB> struct XTail {
  alignas(64) float buf[KB];
  int64_t full;
  XTail(const float *x, int64_t K) {
    full = K / KB;
    int64_t tail = K % KB;
    if (tail) {
      memset(buf, 0, sizeof(buf));
      memcpy(buf, x + full * KB, tail * sizeof(float));
    }
  }
  const float *block(const float *x, int64_t b) const { return b < full ? x + b * KB : buf; }
};

/// Walks the `PLANES` 16-column planes of block b in runs of PPG planes that share a group:
/// onGroup(g) when a run starts a new group (with PPG == PLANES: only when the group changes;
/// gNext carries that state, start it at 0), then onPlane(i) for the run's planes. Padding
/// planes past K use the last group.
template <int PLANES, int PPG, typename OnGroup, typename OnPlane>
SQZ_UK_ALWAYS_INLINE void walkBlock(const QuantLayout &l, int64_t b, int64_t &gNext,
                                    OnGroup onGroup, OnPlane onPlane) {
  static_assert(PLANES % PPG == 0, "runs must tile the block");
  constexpr int runs = PLANES / PPG;
#pragma clang loop unroll(full)
  for (int s = 0; s < runs; ++s) {
    if (PPG < PLANES) {
      onGroup(minI(b * runs + s, l.groups - 1));
    } else {
      int64_t k = b * l.kb;
      if (k >= gNext) {
        int64_t g = minI(k / l.group, l.groups - 1);
        gNext = (g + 1) * l.group;
        onGroup(g);
      }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < PPG; ++i)
      onPlane(s * PPG + i);
  }
}

SQZ_UK_ALWAYS_INLINE QuantLayout quantLayoutOf(const uint8_t *blob, int64_t kb,
                                               int64_t rowBlockBytes) {
  const sqz_uk_header &h = headerOf(blob);
  QuantLayout l;
  l.N = h.N;
  l.K = h.K;
  l.group = h.group;
  l.groups = ceilDiv(h.K, h.group);
  l.panels = ceilDiv(h.N, kPanelRows);
  l.blocks = ceilDiv(h.K, kb);
  l.kb = kb;
  l.rowBlockBytes = rowBlockBytes;
  l.asym = (h.flags & SQZ_UK_FLAG_ASYMMETRIC) != 0;
  l.codes = blob + h.offsets[0];
  l.scales = reinterpret_cast<const float *>(blob + h.offsets[1]);
  l.zeros = h.offsets[2] ? blob + h.offsets[2] : nullptr;
  return l;
}

#ifdef SQZ_UK_HOST
/// Bytes of a quantized panel blob and the offsets of its three regions.
struct QuantSizes {
  int64_t codes, scales, zeros, total;
};
inline QuantSizes quantSizes(const sqz_uk_logical &w, int64_t kb, int64_t rowBlockBytes) {
  int64_t panels = ceilDiv(w.N, kPanelRows), groups = ceilDiv(w.K, w.group);
  int64_t blocks = ceilDiv(w.K, kb);
  QuantSizes s;
  s.codes = sizeof(sqz_uk_header);
  s.scales = s.codes + roundUp(panels * blocks * kPanelRows * rowBlockBytes, 64);
  int64_t scaleBytes = roundUp(panels * groups * kPanelRows * 4, 64);
  if (w.asymmetric) {
    s.zeros = s.scales + scaleBytes;
    s.total = s.zeros + roundUp(panels * groups * kPanelRows, 64);
  } else {
    s.zeros = 0;
    s.total = s.scales + scaleBytes;
  }
  return s;
}

/// Writes header, scales and zero points of a quantized panel blob (zero-filled first); the
/// caller writes the codes.
inline QuantSizes packQuantCommon(const sqz_uk_logical &w, uint8_t *out, int64_t kb,
                                  int64_t rowBlockBytes) {
  QuantSizes s = quantSizes(w, kb, rowBlockBytes);
  memset(out, 0, s.total);
  writeHeader(out, w.format, w, w.asymmetric ? SQZ_UK_FLAG_ASYMMETRIC : 0u, s.codes, s.scales,
              s.zeros);
  int64_t groups = ceilDiv(w.K, w.group);
  float *scales = reinterpret_cast<float *>(out + s.scales);
  for (int64_t n = 0; n < w.N; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      int64_t at = ((n / kPanelRows) * groups + g) * kPanelRows + n % kPanelRows;
      scales[at] = w.scales[n * groups + g];
      if (w.asymmetric)
        out[s.zeros + at] = w.zeros[n * groups + g];
    }
  return s;
}
#endif // SQZ_UK_HOST

//===----------------------------------------------------------------------===//
// The fp32 panel GEMM shared by the quantized kernels for M >= 2 (and the fallback): a chunk of
// a panel is dequantized into W[kPanelRows][ldw] floats (kc valid columns) and
//   y[m, n0 + r] += sum_{k < kc} x[m, k0 + k] * W[r][k]    for the panel's rows in range.
//===----------------------------------------------------------------------===//

/// y[r] += sums[r] for rlo <= r < rhi.
SQZ_UK_ALWAYS_INLINE void addRows(float *y, const float *sums, int rlo, int rhi) {
  for (int r = rlo; r < rhi; ++r)
    y[r] += sums[r];
}

#if defined(__AVX512F__)
SQZ_UK_ALWAYS_INLINE float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

/// The horizontal sums of four vectors as one __m128 (13 operations instead of 4 x 8).
SQZ_UK_ALWAYS_INLINE __m128 hsum4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
  __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  __m512 u = _mm512_add_ps(_mm512_shuffle_ps(t0, t1, 0x44), _mm512_shuffle_ps(t0, t1, 0xEE));
  __m256 v = _mm256_add_ps(_mm512_castps512_ps256(u),
                           _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(u), 1)));
  return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
}

template <int MT>
SQZ_UK_ALWAYS_INLINE void gemmTile(const float *W, int64_t ldw, int64_t kc, const float *x,
                                   int64_t ldx, float *y, int64_t ldy, int rlo, int rhi) {
  __m512 acc[MT][kPanelRows];
  for (int m = 0; m < MT; ++m)
    for (int r = 0; r < kPanelRows; ++r)
      acc[m][r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= kc; k += 16) {
    __m512 w[kPanelRows];
    for (int r = 0; r < kPanelRows; ++r)
      w[r] = _mm512_loadu_ps(W + r * ldw + k);
    for (int m = 0; m < MT; ++m) {
      __m512 xv = _mm512_loadu_ps(x + m * ldx + k);
      for (int r = 0; r < kPanelRows; ++r)
        acc[m][r] = _mm512_fmadd_ps(xv, w[r], acc[m][r]);
    }
  }
  if (k < kc) {
    __mmask16 mask = (__mmask16)((1u << (kc - k)) - 1);
    __m512 w[kPanelRows];
    for (int r = 0; r < kPanelRows; ++r)
      w[r] = _mm512_maskz_loadu_ps(mask, W + r * ldw + k);
    for (int m = 0; m < MT; ++m) {
      __m512 xv = _mm512_maskz_loadu_ps(mask, x + m * ldx + k);
      for (int r = 0; r < kPanelRows; ++r)
        acc[m][r] = _mm512_fmadd_ps(xv, w[r], acc[m][r]);
    }
  }
  static_assert(kPanelRows == 4, "hsum4 sums four rows");
  for (int m = 0; m < MT; ++m) {
    __m128 sums = hsum4(acc[m][0], acc[m][1], acc[m][2], acc[m][3]);
    if (rlo == 0 && rhi == 4) {
      _mm_storeu_ps(y + m * ldy, _mm_add_ps(_mm_loadu_ps(y + m * ldy), sums));
    } else {
      alignas(16) float t[4];
      _mm_store_ps(t, sums);
      addRows(y + m * ldy, t, rlo, rhi);
    }
  }
}
#elif defined(__AVX2__)
SQZ_UK_ALWAYS_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

SQZ_UK_ALWAYS_INLINE __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

template <int MT>
SQZ_UK_ALWAYS_INLINE void gemmTile(const float *W, int64_t ldw, int64_t kc, const float *x,
                                   int64_t ldx, float *y, int64_t ldy, int rlo, int rhi) {
  __m256 acc[MT][kPanelRows];
  for (int m = 0; m < MT; ++m)
    for (int r = 0; r < kPanelRows; ++r)
      acc[m][r] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    __m256 w[kPanelRows];
    for (int r = 0; r < kPanelRows; ++r)
      w[r] = _mm256_loadu_ps(W + r * ldw + k);
    for (int m = 0; m < MT; ++m) {
      __m256 xv = _mm256_loadu_ps(x + m * ldx + k);
      for (int r = 0; r < kPanelRows; ++r)
        acc[m][r] = _mm256_fmadd_ps(xv, w[r], acc[m][r]);
    }
  }
  float tail[MT][kPanelRows];
  for (int m = 0; m < MT; ++m)
    for (int r = 0; r < kPanelRows; ++r) {
      float s = 0;
      for (int64_t kk = k; kk < kc; ++kk)
        s += x[m * ldx + kk] * W[r * ldw + kk];
      tail[m][r] = s;
    }
  static_assert(kPanelRows == 4, "hsum4 sums four rows");
  for (int m = 0; m < MT; ++m) {
    alignas(16) float t[4];
    _mm_store_ps(
        t, _mm_add_ps(hsum4(acc[m][0], acc[m][1], acc[m][2], acc[m][3]), _mm_loadu_ps(tail[m])));
    addRows(y + m * ldy, t, rlo, rhi);
  }
}
#else
template <int MT>
SQZ_UK_ALWAYS_INLINE void gemmTile(const float *W, int64_t ldw, int64_t kc, const float *x,
                                   int64_t ldx, float *y, int64_t ldy, int rlo, int rhi) {
  for (int m = 0; m < MT; ++m)
    for (int r = rlo; r < rhi; ++r) {
      // Four partial sums so the compiler can vectorize without reassociation flags.
      float s[4] = {0, 0, 0, 0};
      int64_t k = 0;
      for (; k + 4 <= kc; k += 4)
        for (int j = 0; j < 4; ++j)
          s[j] += x[m * ldx + k + j] * W[r * ldw + k + j];
      for (; k < kc; ++k)
        s[0] += x[m * ldx + k] * W[r * ldw + k];
      y[m * ldy + r] += (s[0] + s[1]) + (s[2] + s[3]);
    }
}
#endif

/// Sets y[m, n] = bias[n] (or 0) for n in [n0, n1).
SQZ_UK_ALWAYS_INLINE void initOutput(const float *bias, float *y, int64_t M, int64_t ldy,
                                     int64_t n0, int64_t n1) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = n0; n < n1; ++n)
      y[m * ldy + n] = bias ? bias[n] : 0.0f;
}

/// Iterates the panels that intersect [n_begin, n_end): f(panel, rlo, rhi) with the panel's
/// rows [rlo, rhi) in range (n_begin need not be panel aligned).
template <typename F> SQZ_UK_ALWAYS_INLINE void forPanels(int64_t n_begin, int64_t n_end, F f) {
  for (int64_t n = n_begin; n < n_end;) {
    int64_t panel = n / kPanelRows;
    int rlo = static_cast<int>(n - panel * kPanelRows);
    int rhi = static_cast<int>(minI(kPanelRows, n_end - panel * kPanelRows));
    f(panel, rlo, rhi);
    n = (panel + 1) * kPanelRows;
  }
}

/// forPanels two panels at a time: f(std::integral_constant<int, P>{}, panel, rlo, rhi) with
/// P = 2 (panels panel and panel + 1; rows rlo.. of the first, ..rhi of the second) while two
/// panels remain, else P = 1; for kernels whose x-side operands are shared by both panels.
template <typename F>
SQZ_UK_ALWAYS_INLINE void forPanelPairs(int64_t n_begin, int64_t n_end, F f) {
  const int64_t panelEnd = ceilDiv(n_end, kPanelRows);
  for (int64_t n = n_begin; n < n_end;) {
    int64_t panel = n / kPanelRows;
    int rlo = static_cast<int>(n - panel * kPanelRows);
    if (panelEnd - panel >= 2) {
      int rhi = static_cast<int>(minI(kPanelRows, n_end - (panel + 1) * kPanelRows));
      f(std::integral_constant<int, 2>{}, panel, rlo, rhi);
      n = (panel + 2) * kPanelRows;
    } else {
      int rhi = static_cast<int>(minI(kPanelRows, n_end - panel * kPanelRows));
      f(std::integral_constant<int, 1>{}, panel, rlo, rhi);
      n = (panel + 1) * kPanelRows;
    }
  }
}

/// The generic driver of a quantized kernel through dequantized chunks (M >= 2, and M == 1
/// for groups the fused paths do not take):
///   deq(layout, panel, block0, nblocks, W, ldw) fills W[r][0 .. nblocks * kb) for a panel.
/// kGroupPanels panels are dequantized together, kChunkCols columns at a time (W: 24 KiB), and
/// each tile of up to MT rows of x is multiplied with all of them while it is in L1.
template <typename Deq>
SQZ_UK_ALWAYS_INLINE void runChunked(const QuantLayout &l, Deq deq, const float *x, int64_t M,
                                     int64_t ldx, const float *bias, float *y, int64_t ldy,
                                     int64_t n_begin, int64_t n_end) {
  constexpr int kGroupPanels = 4;
  constexpr int64_t kChunkCols = 384;
  constexpr int MT = 6;
  alignas(64) float W[kGroupPanels * kPanelRows * kChunkCols];
  const int64_t chunkBlocks = kChunkCols / l.kb > 0 ? kChunkCols / l.kb : 1;
  const int64_t ldw = chunkBlocks * l.kb; // <= kChunkCols for every format's block
  initOutput(bias, y, M, ldy, n_begin, n_end);
  const int64_t pEnd = ceilDiv(n_end, kPanelRows);
  for (int64_t p0 = n_begin / kPanelRows; p0 < pEnd; p0 += kGroupPanels) {
    const int np = static_cast<int>(minI(kGroupPanels, pEnd - p0));
    int rlo[kGroupPanels], rhi[kGroupPanels];
    for (int q = 0; q < np; ++q) {
      int64_t base = (p0 + q) * kPanelRows;
      rlo[q] = static_cast<int>(n_begin > base ? n_begin - base : 0);
      rhi[q] = static_cast<int>(minI(kPanelRows, n_end - base));
    }
    for (int64_t b0 = 0; b0 < l.blocks; b0 += chunkBlocks) {
      int64_t nb = minI(chunkBlocks, l.blocks - b0);
      for (int q = 0; q < np; ++q)
        deq(l, p0 + q, b0, nb, W + q * kPanelRows * ldw, ldw);
      const int64_t k0 = b0 * l.kb, kc = minI(nb * l.kb, l.K - k0);
      const float *xk = x + k0;
      auto tile = [&](auto mt, int64_t m) {
        for (int q = 0; q < np; ++q)
          gemmTile<decltype(mt)::value>(W + q * kPanelRows * ldw, ldw, kc, xk + m * ldx, ldx,
                                        y + m * ldy + (p0 + q) * kPanelRows, ldy, rlo[q], rhi[q]);
      };
      forRowTiles<MT>(M, tile);
    }
  }
}

} // namespace

#endif // SQZ_KERNELS_CPU_KERNELCOMMON_H
