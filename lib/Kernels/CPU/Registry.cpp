//===- Registry.cpp - Host side of the CPU microkernels -------------------===//
//
// Validation, packing dispatch and the kernel symbol table (Microkernels.h). Compiled once,
// for the host, into SqzKernelsCPU; the packers it calls live in the kernel sources (under
// SQZ_UK_HOST, generic variant only). The dense and 2:4 formats are listed only when their
// sources are built (SQZ_UK_HAVE_F32 / SQZ_UK_HAVE_SP24, set by CMakeLists.txt).
//
//===----------------------------------------------------------------------===//

#include "KernelCommon.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

using namespace sqz_uk;

namespace {

struct FormatInfo {
  int32_t format;
  const char *name;
  int64_t (*packedBytes)(const sqz_uk_logical &);
  void (*pack)(const sqz_uk_logical &, uint8_t *);
};

const FormatInfo kFormats[] = {
#ifdef SQZ_UK_HAVE_F32
    {SQZ_UK_F32, "f32", packedBytesF32, packF32},
#endif
    {SQZ_UK_INT8, "int8", packedBytesInt8, packInt8},
    {SQZ_UK_INT4, "int4", packedBytesInt4, packInt4},
    {SQZ_UK_NF4, "nf4", packedBytesNF4, packNF4},
    {SQZ_UK_TERNARY2, "ternary2", packedBytesTernary2, packTernary2},
    {SQZ_UK_TERNARY16, "ternary16", packedBytesTernary16, packTernary16},
#ifdef SQZ_UK_HAVE_SP24
    {SQZ_UK_SP24_F32, "sp24_f32", packedBytesSp24F32, packSp24F32},
    {SQZ_UK_SP24_INT4, "sp24_int4", packedBytesSp24Int4, packSp24Int4},
#endif
};

const FormatInfo *formatInfo(int32_t format) {
  for (const FormatInfo &f : kFormats)
    if (f.format == format)
      return &f;
  return nullptr;
}

const char *const kIsaNames[] = {"generic", "avx2", "avx512", "avx512vnni"};

} // namespace

// Every kernel symbol of the built formats.
#define SQZ_UK_DECLARE(fmt)                                                                        \
  extern "C" void sqz_uk_##fmt##_generic(SQZ_UK_KERNEL_PARAMS);                                    \
  extern "C" void sqz_uk_##fmt##_avx2(SQZ_UK_KERNEL_PARAMS);                                       \
  extern "C" void sqz_uk_##fmt##_avx512(SQZ_UK_KERNEL_PARAMS);                                     \
  extern "C" void sqz_uk_##fmt##_avx512vnni(SQZ_UK_KERNEL_PARAMS);

#ifdef SQZ_UK_HAVE_F32
SQZ_UK_DECLARE(f32)
#endif
SQZ_UK_DECLARE(int8)
SQZ_UK_DECLARE(int4)
SQZ_UK_DECLARE(nf4)
SQZ_UK_DECLARE(ternary2)
SQZ_UK_DECLARE(ternary16)
#ifdef SQZ_UK_HAVE_SP24
SQZ_UK_DECLARE(sp24_f32)
SQZ_UK_DECLARE(sp24_int4)
#endif

namespace {

struct SymbolRow {
  const char *name;
  sqz_uk_kernel_fn fn;
};

#define SQZ_UK_SYMBOLS(fmt)                                                                        \
  {"sqz_uk_" #fmt "_generic", sqz_uk_##fmt##_generic},                                             \
      {"sqz_uk_" #fmt "_avx2", sqz_uk_##fmt##_avx2},                                               \
      {"sqz_uk_" #fmt "_avx512", sqz_uk_##fmt##_avx512},                                           \
      {"sqz_uk_" #fmt "_avx512vnni", sqz_uk_##fmt##_avx512vnni},

const SymbolRow kSymbols[] = {
#ifdef SQZ_UK_HAVE_F32
    SQZ_UK_SYMBOLS(f32)
#endif
        SQZ_UK_SYMBOLS(int8) SQZ_UK_SYMBOLS(int4) SQZ_UK_SYMBOLS(nf4) SQZ_UK_SYMBOLS(ternary2)
            SQZ_UK_SYMBOLS(ternary16)
#ifdef SQZ_UK_HAVE_SP24
                SQZ_UK_SYMBOLS(sp24_f32) SQZ_UK_SYMBOLS(sp24_int4)
#endif
};

/// Writes a printf-style message into error (if any) and returns 0.
int fail(char *error, int64_t errorSize, const char *fmt, ...) {
  if (error && errorSize > 0) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(error, static_cast<size_t>(errorSize), fmt, args);
    va_end(args);
  }
  return 0;
}

/// The first code in codes[rows, cols] above maxCode, as (row, col); false if none.
bool findCodeAbove(const uint8_t *codes, int64_t rows, int64_t cols, unsigned maxCode, int64_t &row,
                   int64_t &col) {
  for (int64_t i = 0; i < rows * cols; ++i)
    if (codes[i] > maxCode) {
      row = i / cols;
      col = i % cols;
      return true;
    }
  return false;
}

/// The 2:4 metadata nibble of group `grp` of a row: valid iff lo < hi (both 0..3).
bool validIndexNibble(unsigned nibble) { return (nibble & 3u) < ((nibble >> 2) & 3u); }

int validate(const sqz_uk_logical *w, char *error, int64_t es) {
  if (!w)
    return fail(error, es, "no weight description (null sqz_uk_logical)");
  const FormatInfo *info = formatInfo(w->format);
  if (!info)
    return fail(error, es,
                "unsupported weight format %d; expected one of the built formats (int8=2, "
                "int4=3, nf4=4, ternary2=5, ternary16=6"
#ifdef SQZ_UK_HAVE_F32
                ", f32=1"
#endif
#ifdef SQZ_UK_HAVE_SP24
                ", sp24_f32=7, sp24_int4=8"
#endif
                ")",
                static_cast<int>(w->format));
  const char *name = info->name;
  if (w->N <= 0 || w->K <= 0)
    return fail(error, es, "%s: weight shape [%lld, %lld] must have N >= 1 and K >= 1", name,
                static_cast<long long>(w->N), static_cast<long long>(w->K));
  if (w->N > (int64_t(1) << 31) || w->K > (int64_t(1) << 31))
    return fail(error, es, "%s: weight shape [%lld, %lld] too large; expected N, K <= 2^31", name,
                static_cast<long long>(w->N), static_cast<long long>(w->K));
  int32_t f = w->format;
  bool sparse = f == SQZ_UK_SP24_F32 || f == SQZ_UK_SP24_INT4;
  if (sparse) {
    if (w->K % 4 != 0)
      return fail(error, es, "%s: K = %lld must be a multiple of 4 (2:4 groups of columns)", name,
                  static_cast<long long>(w->K));
    if (!w->indices)
      return fail(error, es, "%s: missing the 2:4 indices [N, K/8]", name);
    for (int64_t n = 0; n < w->N; ++n)
      for (int64_t grp = 0; grp < w->K / 4; ++grp) {
        uint8_t byte = w->indices[n * ((w->K + 7) / 8) + grp / 2];
        unsigned nibble = (byte >> (4 * (grp & 1))) & 15u;
        if (!validIndexNibble(nibble))
          return fail(error, es,
                      "%s: 2:4 index nibble 0x%x of row %lld, column group %lld is invalid; "
                      "expected two distinct kept columns, first < second (0x4, 0x8, 0x9, "
                      "0xc, 0xd or 0xe)",
                      name, nibble, static_cast<long long>(n), static_cast<long long>(grp));
      }
  }
  if (f == SQZ_UK_F32) {
    if (!w->weights)
      return fail(error, es, "f32: missing the weights [N, K]");
    return 1;
  }
  if (f == SQZ_UK_SP24_F32) {
    if (!w->values)
      return fail(error, es, "sp24_f32: missing the kept values [N, K/2]");
    return 1;
  }
  // The quantized formats.
  if (!w->codes)
    return fail(error, es, "%s: missing the codes", name);
  if (!w->scales)
    return fail(error, es, "%s: missing the scales [N, groups]", name);
  if (w->group < 1 || w->group > w->K)
    return fail(error, es, "%s: group = %lld must be in 1..K (K = %lld; per-channel is K)", name,
                static_cast<long long>(w->group), static_cast<long long>(w->K));
  if (f == SQZ_UK_SP24_INT4 && w->group % 4 != 0 && w->group != w->K)
    return fail(error, es, "sp24_int4: group = %lld must be a multiple of 4 dense columns (or K)",
                static_cast<long long>(w->group));
  bool zeroPoints = f == SQZ_UK_INT8 || f == SQZ_UK_INT4 || f == SQZ_UK_SP24_INT4;
  if (w->asymmetric && !zeroPoints)
    return fail(error, es, "%s: has no zero points; expected asymmetric = 0", name);
  if (w->asymmetric && !w->zeros)
    return fail(error, es, "%s: asymmetric but the zero points [N, groups] are missing", name);
  unsigned maxCode = f == SQZ_UK_INT8                                ? 255u
                     : f == SQZ_UK_TERNARY2 || f == SQZ_UK_TERNARY16 ? 2u
                                                                     : 15u;
  int64_t cols = f == SQZ_UK_SP24_INT4 ? w->K / 2 : w->K;
  int64_t row, col;
  if (findCodeAbove(w->codes, w->N, cols, maxCode, row, col))
    return fail(error, es, "%s: code[%lld, %lld] = %u is out of range; expected 0..%u", name,
                static_cast<long long>(row), static_cast<long long>(col),
                static_cast<unsigned>(w->codes[row * cols + col]), maxCode);
  if (w->asymmetric &&
      findCodeAbove(w->zeros, w->N, (w->K + w->group - 1) / w->group, maxCode, row, col))
    return fail(error, es, "%s: zero point [%lld, %lld] = %u is out of range; expected 0..%u", name,
                static_cast<long long>(row), static_cast<long long>(col),
                static_cast<unsigned>(w->zeros[row * ((w->K + w->group - 1) / w->group) + col]),
                maxCode);
  return 1;
}

} // namespace

extern "C" int sqz_uk_can_pack(const sqz_uk_logical *w, char *error, int64_t error_size) {
  if (error && error_size > 0)
    error[0] = '\0';
  return validate(w, error, error_size);
}

extern "C" int64_t sqz_uk_packed_bytes(const sqz_uk_logical *w) {
  if (!validate(w, nullptr, 0))
    return -1;
  return formatInfo(w->format)->packedBytes(*w);
}

extern "C" int sqz_uk_pack(const sqz_uk_logical *w, uint8_t *out) {
  if (!out || (reinterpret_cast<uintptr_t>(out) & 63) != 0 || !validate(w, nullptr, 0))
    return 1;
  formatInfo(w->format)->pack(*w, out);
  return 0;
}

extern "C" const char *sqz_uk_kernel_symbol(int32_t format, int32_t isa) {
  const FormatInfo *info = formatInfo(format);
  if (!info || isa < SQZ_UK_ISA_GENERIC)
    return nullptr;
  if (isa > SQZ_UK_ISA_AVX512VNNI)
    isa = SQZ_UK_ISA_AVX512VNNI;
  // Every built format has all four variants; the names are static strings of kSymbols.
  char want[64];
  snprintf(want, sizeof(want), "sqz_uk_%s_%s", info->name, kIsaNames[isa]);
  for (const SymbolRow &row : kSymbols)
    if (strcmp(row.name, want) == 0)
      return row.name;
  return nullptr;
}

extern "C" sqz_uk_kernel_fn sqz_uk_lookup(const char *symbol) {
  if (!symbol)
    return nullptr;
  for (const SymbolRow &row : kSymbols)
    if (strcmp(row.name, symbol) == 0)
      return row.fn;
  return nullptr;
}
