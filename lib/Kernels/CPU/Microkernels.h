/*===- Microkernels.h - CPU microkernel ABI and weight packing ----*- C -*-===*
 *
 * The contract between the CPU microkernels (lib/Kernels/CPU/, compiled by
 * clang-22 to LLVM bitcode and linked into each model), the compiler's
 * `sqz-materialize{target=cpu}` pass (which packs logical compressed weights
 * with sqz_uk_pack and emits calls), and the kernel tests and benchmarks.
 *
 * Plain C so that generated code, kernels (C++) and tools agree on one ABI.
 *===----------------------------------------------------------------------===*/

#ifndef SQZ_KERNELS_CPU_MICROKERNELS_H
#define SQZ_KERNELS_CPU_MICROKERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Weight formats a microkernel family exists for. The numeric values are
 * stored in packed blobs (sqz_uk_header::format); never renumber. */
enum sqz_uk_format {
  SQZ_UK_F32 = 1,       /* dense fp32 */
  SQZ_UK_INT8 = 2,      /* 8-bit codes, group scales [+ zero points] */
  SQZ_UK_INT4 = 3,      /* 4-bit codes, group scales [+ zero points] */
  SQZ_UK_NF4 = 4,       /* 4-bit NormalFloat codes, group (absmax) scales */
  SQZ_UK_TERNARY2 = 5,  /* ternary codes at 2 bits per weight */
  SQZ_UK_TERNARY16 = 6, /* ternary codes, 5 trits per byte (1.6 bits) */
  SQZ_UK_SP24_F32 = 7,  /* 2:4-sparse fp32: kept values + 2-bit indices */
  SQZ_UK_SP24_INT4 = 8, /* 2:4-sparse with int4 kept values */
};

/* ISA levels, ordered: a CPU that has level L runs every variant <= L. */
enum sqz_uk_isa {
  SQZ_UK_ISA_GENERIC = 0,    /* portable C++ (baseline x86-64 / any CPU) */
  SQZ_UK_ISA_AVX2 = 1,       /* x86-64-v3: AVX2, FMA, F16C, BMI2 */
  SQZ_UK_ISA_AVX512 = 2,     /* x86-64-v4: AVX-512 F/BW/CD/DQ/VL */
  SQZ_UK_ISA_AVX512VNNI = 3, /* x86-64-v4 + AVX512-VNNI */
};

/* The logical (target independent) form of a compressed linear
 * y[m, n] = sum_k x[m, k] * W[n, k] + bias[n], W of shape [N, K], as the sqz
 * dialect stores it (see include/sqz/Dialect/Sqz/IR/SqzOps.td). Fields a
 * format does not use are ignored (may be NULL / 0).
 *
 * - F32:        weights [N, K].
 * - INT8/INT4:  codes [N, K] unsigned, one per byte; scales [N, groups];
 *               zeros [N, groups] when asymmetric, else the zero point is
 *               2^(bits-1). W = scale * (code - zero).
 * - NF4:        codes [N, K] in 0..15; W = scale * NF4[code].
 * - TERNARY*:   codes [N, K] in 0..2; W = scale * (code - 1).
 * - SP24_F32:   K % 4 == 0; values [N, K/2] (per group of 4 columns the two
 *               kept weights in increasing column order); indices
 *               [N, K/8] bytes, the sqz.sparse_linear 2:4 metadata (one
 *               nibble per group, low 2 bits = first kept column, byte j =
 *               group 2j in the low nibble, 2j+1 in the high nibble).
 * - SP24_INT4:  as SP24_F32 but the kept values are int4 codes [N, K/2]
 *               (one per byte) with scales [N, groups] [+ zeros], the group
 *               measured in DENSE columns (group % 4 == 0): kept value of
 *               dense column k uses group k / group.
 * groups = ceil(K / group); the last group may be shorter (ragged). group
 * is in 1..K (per-channel: group == K). */
typedef struct sqz_uk_logical {
  int32_t format;
  int32_t asymmetric;
  int64_t N, K;
  int64_t group;
  const float *weights;   /* F32 */
  const float *values;    /* SP24_F32 */
  const uint8_t *codes;   /* INT8, INT4, NF4, TERNARY*, SP24_INT4 */
  const float *scales;
  const uint8_t *zeros;
  const uint8_t *indices; /* SP24_* */
  /* INT4, NF4, INT8: nonzero asks for the int8-activation path (x quantized to int8 per
   * 32 columns on the fly, integer dot products; docs/Kernels.md). The packer sets
   * SQZ_UK_FLAG_ACT_INT8 in the blob when the weight supports it (group 32, 64 or a
   * multiple of the format's block, or per-channel; K <= 32768) and ignores it otherwise;
   * other formats ignore it. Added at the end: zero-initialized users keep the fp32 path. */
  int32_t act_int8;
} sqz_uk_logical;

/* Every packed blob starts with this 64-byte header; the payload layout
 * after it belongs to the format's kernel file and is documented there and
 * in docs/Kernels.md. Blobs are placed 64-byte aligned. */
typedef struct sqz_uk_header {
  uint32_t magic; /* SQZ_UK_MAGIC */
  uint16_t version;
  uint16_t format; /* enum sqz_uk_format */
  int64_t N, K;
  int64_t group;
  uint32_t flags; /* SQZ_UK_FLAG_* */
  uint32_t reserved0;
  int64_t offsets[3]; /* format-defined byte offsets from the blob start */
} sqz_uk_header;

#define SQZ_UK_MAGIC 0x4b5a5153u /* "SQZK" little-endian */
#define SQZ_UK_VERSION 1
#define SQZ_UK_FLAG_ASYMMETRIC 1u
/* The blob's kernels quantize activations to int8 (sqz_uk_logical::act_int8). */
#define SQZ_UK_FLAG_ACT_INT8 2u

/* Output columns are handed to a kernel call in ranges [n_begin, n_end)
 * with n_begin a multiple of SQZ_UK_N_STEP and n_end either a multiple of
 * it or N. Generated code splits N this way across threads. */
#define SQZ_UK_N_STEP 64

/* ---- Host side (linked into the compiler, tests and benchmarks) ---- */

/* Checks that `w` describes something the format's kernels accept; on
 * failure returns 0 and writes a message naming what was expected. */
int sqz_uk_can_pack(const sqz_uk_logical *w, char *error, int64_t error_size);
/* Bytes of the packed blob (header included); -1 if it cannot be packed. */
int64_t sqz_uk_packed_bytes(const sqz_uk_logical *w);
/* Packs into `out` (sqz_uk_packed_bytes(w) bytes, 64-byte aligned).
 * Deterministic. Returns 0 on success, nonzero on invalid input. */
int sqz_uk_pack(const sqz_uk_logical *w, uint8_t *out);
/* Name of the best kernel symbol for `format` whose ISA level is <= `isa`,
 * e.g. "sqz_uk_int4_avx512"; NULL if none. */
const char *sqz_uk_kernel_symbol(int32_t format, int32_t isa);

/* ---- Kernels (bitcode linked into models; also a static library) ----
 *
 * Every kernel has this signature and is named sqz_uk_<format>_<isa>, with
 * <format> one of f32, int8, int4, nf4, ternary2, ternary16, sp24_f32,
 * sp24_int4 and <isa> one of generic, avx2, avx512, avx512vnni:
 *
 *   void sqz_uk_int4_avx512(const uint8_t *blob, const float *x, int64_t M,
 *                           int64_t ldx, const float *bias, float *y,
 *                           int64_t ldy, int64_t n_begin, int64_t n_end);
 *
 * computes, for 0 <= m < M and n_begin <= n < n_end,
 *   y[m * ldy + n] = sum_k x[m * ldx + k] * W[n, k] (+ bias[n] if bias)
 * overwriting y. M may be 0 or large (a kernel tiles M itself). Kernels
 * never allocate heap memory and use at most 256 KiB of stack; they are
 * reentrant (called concurrently on disjoint column ranges). */
typedef void (*sqz_uk_kernel_fn)(const uint8_t *blob, const float *x,
                                 int64_t M, int64_t ldx, const float *bias,
                                 float *y, int64_t ldy, int64_t n_begin,
                                 int64_t n_end);

/* Looks a kernel up by symbol name in the static library (tests/benches). */
sqz_uk_kernel_fn sqz_uk_lookup(const char *symbol);

#ifdef __cplusplus
}
#endif

#endif /* SQZ_KERNELS_CPU_MICROKERNELS_H */
