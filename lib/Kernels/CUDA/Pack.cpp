//===- Pack.cpp - Host side of the CUDA kernels ---------------------------===//
//
// Validation, packing into the CUDA layout (CudaLayout.h, docs/Kernels.md) and launch planning
// (CudaKernels.h). Plain C++; needs no CUDA. The logical form is checked by the CPU side's
// sqz_uk_can_pack first (one owner of the logical rules), then the CUDA-specific limits.
//
//===----------------------------------------------------------------------===//

#include "CudaKernels.h"
#include "CudaLayout.h"
#include "KernelCommon.h" // kNF4Table: the CPU kernels' copy of the NF4 values

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

using namespace sqz_cuk;

namespace {

int fail(char *error, int64_t errorSize, const char *fmt, ...) {
  if (error && errorSize > 0) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(error, static_cast<size_t>(errorSize), fmt, args);
    va_end(args);
  }
  return 0;
}

int32_t cudaFormatOf(int32_t uk) {
  switch (uk) {
  case SQZ_UK_F32:
    return SQZ_CUK_F16;
  case SQZ_UK_INT8:
    return SQZ_CUK_INT8;
  case SQZ_UK_INT4:
    return SQZ_CUK_INT4;
  case SQZ_UK_NF4:
    return SQZ_CUK_NF4;
  case SQZ_UK_TERNARY2:
  case SQZ_UK_TERNARY16:
    return SQZ_CUK_TERNARY2;
  case SQZ_UK_SP24_F32:
    return SQZ_CUK_SP24_F16;
  case SQZ_UK_SP24_INT4:
    return SQZ_CUK_SP24_INT4;
  default:
    return 0;
  }
}

/// Index of a CUDA format in the kernel table, -1 if none.
int formatIndex(int32_t f) {
  switch (f) {
  case SQZ_CUK_F16:
    return 0;
  case SQZ_CUK_INT8:
    return 1;
  case SQZ_CUK_INT4:
    return 2;
  case SQZ_CUK_TERNARY2:
    return 3;
  case SQZ_CUK_SP24_F16:
    return 4;
  case SQZ_CUK_SP24_INT4:
    return 5;
  case SQZ_CUK_NF4:
    return 6;
  default:
    return -1;
  }
}

const char *const kFormatNames[] = {"f16",      "int8",      "int4", "ternary2",
                                    "sp24_f16", "sp24_int4", "nf4"};

// [format][variant gemv, gemm, gemm64][sm80, sm90]
const char *const kKernelNames[] = {
    "sqz_cuk_f16_gemv_sm80", "sqz_cuk_f16_gemv_sm90", "sqz_cuk_f16_gemm_sm80",
    "sqz_cuk_f16_gemm_sm90", "sqz_cuk_f16_gemm64_sm80", "sqz_cuk_f16_gemm64_sm90",
    "sqz_cuk_int8_gemv_sm80", "sqz_cuk_int8_gemv_sm90", "sqz_cuk_int8_gemm_sm80",
    "sqz_cuk_int8_gemm_sm90", "sqz_cuk_int8_gemm64_sm80", "sqz_cuk_int8_gemm64_sm90",
    "sqz_cuk_int4_gemv_sm80", "sqz_cuk_int4_gemv_sm90", "sqz_cuk_int4_gemm_sm80",
    "sqz_cuk_int4_gemm_sm90", "sqz_cuk_int4_gemm64_sm80", "sqz_cuk_int4_gemm64_sm90",
    "sqz_cuk_ternary2_gemv_sm80", "sqz_cuk_ternary2_gemv_sm90", "sqz_cuk_ternary2_gemm_sm80",
    "sqz_cuk_ternary2_gemm_sm90", "sqz_cuk_ternary2_gemm64_sm80", "sqz_cuk_ternary2_gemm64_sm90",
    "sqz_cuk_sp24_f16_gemv_sm80", "sqz_cuk_sp24_f16_gemv_sm90", "sqz_cuk_sp24_f16_gemm_sm80",
    "sqz_cuk_sp24_f16_gemm_sm90", "sqz_cuk_sp24_f16_gemm64_sm80", "sqz_cuk_sp24_f16_gemm64_sm90",
    "sqz_cuk_sp24_int4_gemv_sm80", "sqz_cuk_sp24_int4_gemv_sm90", "sqz_cuk_sp24_int4_gemm_sm80",
    "sqz_cuk_sp24_int4_gemm_sm90", "sqz_cuk_sp24_int4_gemm64_sm80", "sqz_cuk_sp24_int4_gemm64_sm90",
    "sqz_cuk_nf4_gemv_sm80", "sqz_cuk_nf4_gemv_sm90", "sqz_cuk_nf4_gemm_sm80",
    "sqz_cuk_nf4_gemm_sm90", "sqz_cuk_nf4_gemm64_sm80", "sqz_cuk_nf4_gemm64_sm90",
    // [format] wgmma, sm_90a
    "sqz_cuk_f16_wgmma_sm90a", "sqz_cuk_int8_wgmma_sm90a", "sqz_cuk_int4_wgmma_sm90a",
    "sqz_cuk_ternary2_wgmma_sm90a", "sqz_cuk_sp24_f16_wgmma_sm90a", "sqz_cuk_sp24_int4_wgmma_sm90a",
    "sqz_cuk_nf4_wgmma_sm90a",
};
constexpr int32_t kGenericKernelCount = 7 * 6; // the [format][variant][sm] part
static_assert(sizeof(kKernelNames) / sizeof(kKernelNames[0]) == kGenericKernelCount + 7,
              "one wgmma kernel per format, in kFormatNames order");
constexpr int32_t kKernelCount = sizeof(kKernelNames) / sizeof(kKernelNames[0]);

bool fitsHalf(float v) { return isfinite(v) && fabsf(v) <= 65504.0f; }

uint16_t toHalf(float v) {
  _Float16 h = static_cast<_Float16>(v);
  uint16_t bits;
  memcpy(&bits, &h, 2);
  return bits;
}

void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/// The first value of a[count] that is not a finite fp16 (|v| <= 65504); -1 if none.
int64_t firstNonHalf(const float *a, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    if (!fitsHalf(a[i]))
      return i;
  return -1;
}

/// The nf4 lookup table of the kernels (CudaLayout.h, "NF4 lookup table"): each NF4 code's slot,
/// the factor alpha and the 8 table words. The kernels look four codes up at once with two prmt
/// per byte plane, XOR-combined; that is exact only when slot j and slot j + 8 agree on the msb
/// of both bytes of their fp16 values. So: try alpha = 1 + k / 1024 (k = 0, 1, ...) and both
/// signs of the zero entry until the four (low msb, high msb) classes of fp16(NF4[c] * alpha)
/// all have an even size, then pair codes within a class in code order. Scaling the table by
/// alpha and the scales by 1 / alpha keeps the accuracy of one fp16 rounding each.
struct NF4Codebook {
  float alpha = 1.0f;
  uint8_t slot[16] = {};
  uint32_t lut[kNF4LutWords] = {};
  bool ok = false;
};

NF4Codebook deriveNF4Codebook() {
  NF4Codebook cb;
  for (int k = 0; k <= 1024 && !cb.ok; ++k) {
    const float alpha = 1.0f + static_cast<float>(k) / 1024.0f;
    for (int zeroSign = 0; zeroSign < 2 && !cb.ok; ++zeroSign) {
      uint16_t h[16];
      for (int c = 0; c < 16; ++c)
        h[c] = kNF4Table[c] == 0.0f ? static_cast<uint16_t>(zeroSign ? 0x8000 : 0)
                                    : toHalf(kNF4Table[c] * alpha);
      int members[4][16], count[4] = {0, 0, 0, 0};
      for (int c = 0; c < 16; ++c) {
        int cls = ((h[c] >> 7) & 1) | ((h[c] >> 14) & 2);
        members[cls][count[cls]++] = c;
      }
      if (count[0] % 2 || count[1] % 2 || count[2] % 2 || count[3] % 2)
        continue;
      int j = 0;
      for (int cls = 0; cls < 4; ++cls)
        for (int i = 0; i < count[cls]; i += 2, ++j) {
          const int a = members[cls][i], b = members[cls][i + 1];
          cb.slot[a] = static_cast<uint8_t>(j);
          cb.slot[b] = static_cast<uint8_t>(j + 8);
          for (int plane = 0; plane < 2; ++plane) {
            // Slot j's byte x sits in the A word, slot j + 8's byte y in the B word. A lookup
            // of slot j reads x plainly and B's byte in sign mode (0x00 or 0xFF); one of slot
            // j + 8 the other way round. x ^ rep(y) = X and rep(x) ^ y = Y hold with
            // (x, y) = (X, Y) when the shared msb is 0, (~X, Y) when it is 1.
            const uint32_t X = (h[a] >> (8 * plane)) & 0xFFu, Y = (h[b] >> (8 * plane)) & 0xFFu;
            const uint32_t x = (X & 0x80u) ? (~X & 0xFFu) : X;
            const int wa = 4 * plane + j / 4, wb = 4 * plane + 2 + j / 4;
            cb.lut[wa] |= x << (8 * (j % 4));
            cb.lut[wb] |= Y << (8 * (j % 4));
          }
        }
      cb.alpha = alpha;
      cb.ok = true;
    }
  }
  return cb;
}

const NF4Codebook &nf4Codebook() {
  static const NF4Codebook cb = deriveNF4Codebook();
  return cb;
}

int validate(const sqz_uk_logical *w, char *error, int64_t es) {
  if (!w)
    return fail(error, es, "no weight description (null sqz_uk_logical)");
  int32_t cf = cudaFormatOf(w->format);
  if (!cf)
    return fail(error, es,
                "weight format %d has no CUDA kernel; expected f32 (1), int8 (2), int4 (3), "
                "nf4 (4), ternary2 (5), ternary16 (6), sp24_f32 (7) or sp24_int4 (8)",
                static_cast<int>(w->format));
  if (!sqz_uk_can_pack(w, error, es))
    return 0;
  const char *name = kFormatNames[formatIndex(cf)];
  if (cf == SQZ_CUK_NF4 && w->asymmetric)
    return fail(error, es, "nf4 (CUDA): the weights are asymmetric; nf4 has no zero points");
  if (cf == SQZ_CUK_NF4 && !nf4Codebook().ok)
    return fail(error, es, "nf4 (CUDA): no lookup-table arrangement of the NF4 values found");
  if (isQuant(cf)) {
    int step = stepCols(cf);
    if (w->group % step != 0 && w->group != w->K)
      return fail(error, es,
                  "%s (CUDA): group = %lld must be a multiple of %d (one group per mma step) "
                  "or K = %lld",
                  name, static_cast<long long>(w->group), step, static_cast<long long>(w->K));
    int64_t groups = ceilDiv(w->K, w->group);
    int64_t bad = firstNonHalf(w->scales, w->N * groups);
    if (bad >= 0)
      return fail(error, es,
                  "%s (CUDA): scale[%lld, %lld] = %g is not a finite fp16 value (|s| <= 65504)",
                  name, static_cast<long long>(bad / groups), static_cast<long long>(bad % groups),
                  static_cast<double>(w->scales[bad]));
    // The kernels form (code - zero) * scale in fp16 (nf4: table value * scale, |value| <= 1):
    // it must stay finite.
    const float maxSpan =
        cf == SQZ_CUK_NF4 ? 1.0f : static_cast<float>((1u << codeBits(cf)) - 1);
    for (int64_t i = 0; i < w->N * groups; ++i)
      if (fabsf(w->scales[i]) * maxSpan > 65504.0f)
        return fail(error, es,
                    "%s (CUDA): scale[%lld, %lld] = %g times the largest code span %g exceeds "
                    "the fp16 range (65504)",
                    name, static_cast<long long>(i / groups), static_cast<long long>(i % groups),
                    static_cast<double>(w->scales[i]), static_cast<double>(maxSpan));
    if (w->asymmetric) {
      unsigned maxZero = (1u << codeBits(cf)) - 1;
      for (int64_t i = 0; i < w->N * groups; ++i)
        if (w->zeros[i] > maxZero)
          return fail(error, es, "%s (CUDA): zero point[%lld, %lld] = %u is out of range 0..%u",
                      name, static_cast<long long>(i / groups), static_cast<long long>(i % groups),
                      static_cast<unsigned>(w->zeros[i]), maxZero);
    }
  } else if (cf == SQZ_CUK_F16) {
    int64_t bad = firstNonHalf(w->weights, w->N * w->K);
    if (bad >= 0)
      return fail(error, es,
                  "f16 (CUDA): weight[%lld, %lld] = %g is not a finite fp16 value (|w| <= 65504)",
                  static_cast<long long>(bad / w->K), static_cast<long long>(bad % w->K),
                  static_cast<double>(w->weights[bad]));
  } else if (cf == SQZ_CUK_SP24_F16) {
    int64_t bad = firstNonHalf(w->values, w->N * (w->K / 2));
    if (bad >= 0)
      return fail(error, es,
                  "sp24_f16 (CUDA): kept value[%lld, %lld] = %g is not a finite fp16 value "
                  "(|v| <= 65504)",
                  static_cast<long long>(bad / (w->K / 2)),
                  static_cast<long long>(bad % (w->K / 2)), static_cast<double>(w->values[bad]));
  }
  return 1;
}

/// Packing context: the logical weights and their CUDA layout.
struct Packer {
  const sqz_uk_logical &w;
  int32_t f;
  Layout L;
  int64_t N, K, group, groups;

  Packer(const sqz_uk_logical &w, int32_t f)
      : w(w), f(f), L(layoutOf(f, w.N, w.K, isQuant(f) ? w.group : 1, w.asymmetric != 0)),
        N(w.N), K(w.K), group(isQuant(f) ? w.group : 1), groups(L.groups) {}

  /// The scale/zero group the kernels use for the step starting at dense column kStep.
  int64_t groupOfStep(int64_t kStep) const {
    int64_t gi = kStep / group;
    return gi > groups - 1 ? groups - 1 : gi;
  }
  unsigned zeroOf(int64_t row, int64_t gi) const {
    if (f == SQZ_CUK_NF4) // the slot of the NF4 zero (pads exactly zero weights)
      return nf4Codebook().slot[7];
    if (row >= N)
      return 0;
    return w.asymmetric ? w.zeros[row * groups + gi] : static_cast<unsigned>(symmetricZero(f));
  }
  /// 4-bit 2:4 nibble of row, 4-column group grp (0x4 for padding).
  unsigned nibble(int64_t row, int64_t grp) const {
    if (row >= N || grp >= K / 4)
      return 0x4;
    return (w.indices[row * ((K + 7) / 8) + grp / 2] >> (4 * (grp & 1))) & 15u;
  }

  /// The 4 words of lane `lane` for chunk c of n-tile nt.
  void laneWords(int64_t nt, int64_t c, int lane, uint32_t (&out)[4]) const {
    out[0] = out[1] = out[2] = out[3] = 0;
    const int KC = chunkCols(f), SPC = stepsPerChunk(f);
    for (int st = 0; st < SPC; ++st) {
      const int64_t kStep = c * KC + st * stepCols(f);
      const int64_t gi = isQuant(f) ? groupOfStep(kStep) : 0;
      for (int r = 0; r < 4; ++r)
        for (int h = 0; h < 2; ++h) {
          const int64_t row = nt * kTileN + fragRow(lane, r);
          const int cc = fragCol(lane, r, h);
          if (f == SQZ_CUK_F16 || f == SQZ_CUK_SP24_F16) {
            float v = 0.0f;
            if (f == SQZ_CUK_F16) {
              int64_t col = kStep + cc;
              if (row < N && col < K)
                v = w.weights[row * K + col];
            } else {
              int64_t grp = kStep / 4 + cc / 2;
              if (row < N && grp < K / 4)
                v = w.values[row * (K / 2) + grp * 2 + cc % 2];
            }
            out[r] |= static_cast<uint32_t>(toHalf(v)) << (16 * h);
            continue;
          }
          unsigned code;
          if (f == SQZ_CUK_SP24_INT4) {
            int64_t grp = kStep / 4 + cc / 2;
            code = row < N && grp < K / 4 ? w.codes[row * (K / 2) + grp * 2 + cc % 2]
                                          : zeroOf(row, gi);
          } else {
            int64_t col = kStep + cc;
            code = row < N && col < K ? w.codes[row * K + col] : zeroOf(row, gi);
          }
          const int P = st * 4 + r;
          if (f == SQZ_CUK_NF4) { // byte P: h = 0 slot in the low nibble
            const unsigned slot = row < N && kStep + cc < K ? nf4Codebook().slot[code & 15u]
                                                            : code;
            out[P / 4] |= static_cast<uint32_t>(slot) << (8 * (P % 4) + 4 * h);
            continue;
          }
          const int b = codeBits(f), ppw = 16 / b;
          out[P / ppw] |= static_cast<uint32_t>(code) << (b * (P % ppw) + 16 * h);
        }
    }
  }

  void pack(uint8_t *out) const {
    memset(out, 0, static_cast<size_t>(L.totalBytes));
    sqz_uk_header hdr;
    memset(&hdr, 0, sizeof(hdr));
    hdr.magic = SQZ_CUK_MAGIC;
    hdr.version = SQZ_CUK_VERSION;
    hdr.format = static_cast<uint16_t>(f);
    hdr.N = N;
    hdr.K = K;
    hdr.group = isQuant(f) ? group : 0;
    hdr.flags = w.asymmetric && isQuant(f) ? SQZ_UK_FLAG_ASYMMETRIC : 0;
    hdr.offsets[0] = L.dataOffset;
    hdr.offsets[1] = isQuant(f) ? L.scaleOffset : 0;
    hdr.offsets[2] = f == SQZ_CUK_NF4                ? L.lutOffset
                     : isQuant(f) && w.asymmetric ? L.zeroOffset
                                                  : 0;
    memcpy(out, &hdr, sizeof(hdr));

    uint8_t *data = out + L.dataOffset;
    for (int64_t nt = 0; nt < L.nTiles; ++nt)
      for (int64_t c = 0; c < L.nChunks; ++c)
        for (int lane = 0; lane < kLanes; ++lane) {
          uint32_t words[4];
          laneWords(nt, c, lane, words);
          uint8_t *p = data + ((nt * L.nChunks + c) * kLanes + lane) * kLaneBytes;
          for (int i = 0; i < 4; ++i)
            put32(p + 4 * i, words[i]);
        }

    if (isSparse(f)) {
      const int64_t pairs = L.kPad / kMetaPairCols;
      for (int64_t nt = 0; nt < L.nTiles; ++nt)
        for (int64_t p = 0; p < pairs; ++p)
          for (int lane = 0; lane < kLanes; ++lane) {
            const int g = lane / 4, t = lane % 4;
            const int64_t step = 2 * p + (t >> 1);
            const int hh = t & 1;
            uint32_t word = 0;
            for (int j = 0; j < 4; ++j) {
              const int64_t grp = step * 8 + 4 * hh + j;
              word |= nibble(nt * kTileN + g, grp) << (4 * j);
              word |= nibble(nt * kTileN + g + 8, grp) << (16 + 4 * j);
            }
            put32(out + L.metaOffset + ((nt * pairs + p) * kLanes + lane) * 4, word);
          }
    }

    if (isQuant(f)) {
      for (int64_t nt = 0; nt < L.nTiles; ++nt)
        for (int64_t gi = 0; gi < groups; ++gi)
          for (int g = 0; g < 8; ++g)
            for (int j = 0; j < 2; ++j) {
              const int64_t row = nt * kTileN + g + 8 * j;
              const int64_t at = (((nt * groups + gi) * 8 + g) * 2 + j) * 2;
              const float alpha = f == SQZ_CUK_NF4 ? nf4Codebook().alpha : 1.0f;
              put16(out + L.scaleOffset + at,
                    row < N ? toHalf(w.scales[row * groups + gi] / alpha) : 0);
              if (w.asymmetric)
                put16(out + L.zeroOffset + at,
                      static_cast<uint16_t>(0x6400u + (row < N ? w.zeros[row * groups + gi] : 0)));
            }
      if (f == SQZ_CUK_NF4)
        for (int i = 0; i < kNF4LutWords; ++i)
          put32(out + L.lutOffset + 4 * i, nf4Codebook().lut[i]);
    }
  }
};

} // namespace

extern "C" {

int sqz_cuk_can_pack(const sqz_uk_logical *w, char *error, int64_t error_size) {
  return validate(w, error, error_size);
}

int32_t sqz_cuk_format_of(const sqz_uk_logical *w) { return w ? cudaFormatOf(w->format) : 0; }

int64_t sqz_cuk_packed_bytes(const sqz_uk_logical *w) {
  if (!validate(w, nullptr, 0))
    return -1;
  int32_t f = cudaFormatOf(w->format);
  return layoutOf(f, w->N, w->K, isQuant(f) ? w->group : 1, w->asymmetric != 0).totalBytes;
}

int sqz_cuk_pack(const sqz_uk_logical *w, uint8_t *out) {
  if (!out || !validate(w, nullptr, 0))
    return 1;
  Packer(*w, cudaFormatOf(w->format)).pack(out);
  return 0;
}

const char *sqz_cuk_format_name(int32_t format) {
  int i = formatIndex(format);
  return i < 0 ? nullptr : kFormatNames[i];
}

int32_t sqz_cuk_kernel_count(void) { return kKernelCount; }

/// The wgmma kernel of format index fi (kFormatNames order).
static const char *wgmmaKernelName(int fi) { return kKernelNames[kGenericKernelCount + fi]; }

const char *sqz_cuk_kernel_name(int32_t i) {
  return i >= 0 && i < kKernelCount ? kKernelNames[i] : nullptr;
}

int sqz_cuk_plan_checked(const sqz_uk_header *h, int64_t M, int32_t sm, int32_t variant,
                         sqz_cuk_launch *out, char *error, int64_t es) {
  if (!h || !out)
    return fail(error, es, "sqz_cuk_plan: null header or output"), 1;
  if (h->magic != SQZ_CUK_MAGIC)
    return fail(error, es, "sqz_cuk_plan: bad magic 0x%08x; expected 0x%08x (a CUDA blob)",
                static_cast<unsigned>(h->magic), static_cast<unsigned>(SQZ_CUK_MAGIC)),
           1;
  if (h->version != SQZ_CUK_VERSION)
    return fail(error, es, "sqz_cuk_plan: blob version %u; expected %u",
                static_cast<unsigned>(h->version), static_cast<unsigned>(SQZ_CUK_VERSION)),
           1;
  int fi = formatIndex(h->format);
  if (fi < 0)
    return fail(error, es, "sqz_cuk_plan: unknown CUDA format %u", static_cast<unsigned>(h->format)),
           1;
  if (h->N <= 0 || h->K <= 0 || h->N > (int64_t(1) << 31) || h->K > (int64_t(1) << 31))
    return fail(error, es, "sqz_cuk_plan: bad shape [%lld, %lld]", static_cast<long long>(h->N),
                static_cast<long long>(h->K)),
           1;
  if (isQuant(h->format) &&
      (h->group < 1 || h->group > h->K ||
       (h->group % stepCols(h->format) != 0 && h->group != h->K)))
    return fail(error, es, "sqz_cuk_plan: bad group %lld for K = %lld",
                static_cast<long long>(h->group), static_cast<long long>(h->K)),
           1;
  if (M < 0)
    return fail(error, es, "sqz_cuk_plan: M = %lld must be >= 0", static_cast<long long>(M)), 1;
  const bool archSpecific = (sm & SQZ_CUK_SM_ARCH_SPECIFIC) != 0;
  const int32_t cc = sm & ~SQZ_CUK_SM_ARCH_SPECIFIC;
  if (cc < 80)
    return fail(error, es,
                "sqz_cuk_plan: sm_%d is not supported; the CUDA kernels need sm_80 or newer "
                "(mma.sync m16n8k16, mma.sp, cp.async, ldmatrix)",
                static_cast<int>(cc)),
           1;
  // wgmma: sm_90a only (architecture-specific, compute capability 9.0).
  const bool wgmmaTarget = archSpecific && cc == 90;
  if (variant == SQZ_CUK_VARIANT_AUTO)
    variant = M <= SQZ_CUK_GEMV_MAX_M       ? SQZ_CUK_VARIANT_GEMV
              : M < SQZ_CUK_GEMM64_MIN_M    ? SQZ_CUK_VARIANT_GEMM
              : wgmmaTarget                 ? SQZ_CUK_VARIANT_WGMMA
                                            : SQZ_CUK_VARIANT_GEMM64;
  if (variant != SQZ_CUK_VARIANT_GEMV && variant != SQZ_CUK_VARIANT_GEMM &&
      variant != SQZ_CUK_VARIANT_GEMM64 && variant != SQZ_CUK_VARIANT_WGMMA)
    return fail(error, es, "sqz_cuk_plan: unknown variant %d", static_cast<int>(variant)), 1;
  if (variant == SQZ_CUK_VARIANT_WGMMA && !wgmmaTarget)
    return fail(error, es,
                "sqz_cuk_plan: the wgmma variant needs sm_90a (90 | SQZ_CUK_SM_ARCH_SPECIFIC), "
                "got sm_%d%s",
                static_cast<int>(cc), archSpecific ? "a" : ""),
           1;
  const int vi = variant - SQZ_CUK_VARIANT_GEMV; // 0 gemv, 1 gemm, 2 gemm64, 3 wgmma
  const VariantShape shape = variantShape(vi);
  const int64_t rowsPerBlock = 8 * shape.mTiles;
  // x: the activation-row blocks, y: the n-tiles (the blocks of an n-tile run together and
  // share its weights through L2).
  const int64_t gridX = M == 0 ? 1 : sqz_cuk::ceilDiv(M, rowsPerBlock);
  const int64_t gridY = sqz_cuk::ceilDiv(h->N, int64_t(kTileN) * shape.nTilesPerBlock);
  if (gridX > 0x7fffffff)
    return fail(error, es, "sqz_cuk_plan: M = %lld needs %lld blocks in x (max 2^31 - 1)",
                static_cast<long long>(M), static_cast<long long>(gridX)),
           1;
  if (gridY > 65535)
    return fail(error, es, "sqz_cuk_plan: N = %lld needs %lld blocks in y (max 65535)",
                static_cast<long long>(h->N), static_cast<long long>(gridY)),
           1;
  out->symbol = variant == SQZ_CUK_VARIANT_WGMMA
                    ? wgmmaKernelName(fi)
                    : kKernelNames[fi * 6 + vi * 2 + (cc >= 90 ? 1 : 0)];
  out->grid[0] = static_cast<uint32_t>(gridX);
  out->grid[1] = static_cast<uint32_t>(gridY);
  out->grid[2] = 1;
  out->block[0] = kWarps * 32;
  out->block[1] = 1;
  out->block[2] = 1;
  out->shared_bytes =
      static_cast<uint32_t>(sharedBytes(shape.mTiles, shape.window, shape.stages, shape.xPad));
  out->rows_per_block = static_cast<uint32_t>(rowsPerBlock);
  return 0;
}

int sqz_cuk_plan(const sqz_uk_header *h, int64_t M, int32_t sm, sqz_cuk_launch *out) {
  return sqz_cuk_plan_checked(h, M, sm, SQZ_CUK_VARIANT_AUTO, out, nullptr, 0);
}

} // extern "C"
