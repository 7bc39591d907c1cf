/*===- CudaLayout.h - Packed-blob layout of the CUDA kernels ------*- C++ -*-===*
 *
 * One definition of the CUDA weight layout, shared by the packer (Pack.cpp,
 * host), the kernels (Kernels.cu, device) and the tests' scalar decoder.
 * docs/Kernels.md ("CUDA kernels") describes the same thing in prose.
 *
 * Every format computes D[16 n x 8 m] = A[16 n x 16] * B[16 x 8 m] with the
 * WEIGHTS as the A operand of mma.sync.m16n8k16 (dense) or of
 * mma.sp.sync.m16n8k32 (2:4; A is the 16 x 16 compressed matrix) and the
 * activations as B. Weights are cut into n-tiles of 16 rows and k-chunks of
 * KC dense columns; one (n-tile, k-chunk) is 512 bytes: 32 lanes x 16 bytes,
 * lane l's 16 bytes being exactly its A fragments for the chunk's steps, so
 * one cp.async of 16 bytes per lane moves a whole chunk.
 *
 * A fragment element (lane l, register r in 0..3, half h in 0..1), with
 * g = l / 4, t = l % 4, of one 16-column step:
 *     row = g + 8 * (r & 1),  col = 2 * t + h + 8 * (r >> 1)
 * (PTX ISA "Matrix fragments for mma.m16n8k16 with floating point type",
 * identical for the compressed A of sparse mma.m16n8k32 .f16).
 *
 * Bit layouts of a lane's 16 bytes (4 little-endian 32-bit words), with
 * "pair" P = step * 4 + r holding the two halves (h = 0, 1) of register r:
 *  - f16, sp24_f16: word P = register r of step P / 4 (fp16 h=0 low half).
 *  - int8 / int4 / ternary2 / sp24_int4 (b = 8 / 4 / 2 / 4 bits): pairs per
 *    word ppw = 16 / b; pair P in word P / ppw at position q = P % ppw: the
 *    h = 0 code in bits [b*q, b*q + b), the h = 1 code in bits
 *    [16 + b*q, 16 + b*q + b). So ((word >> b*q) & mask16x2) | 0x64006400 is
 *    the half2 (1024 + code0, 1024 + code1) — dequantization is one or, one
 *    sub (1024 + zero) and one mul (scale) on f16x2.
 *  - nf4 (4 bits, a 16-entry codebook): pair P is byte P of the lane's 16
 *    bytes (word P / 4, bits [8 (P % 4), 8 (P % 4) + 8)), the h = 0 code in
 *    the low nibble; so step st's four pairs are word st, and each 16-bit half
 *    holds four codes = one prmt selector. The codes are not the NF4 codes but
 *    their slots in the blob's lookup table (below).
 *
 * Steps per chunk: f16 1 (KC 16), int8 2 (KC 32), int4 and nf4 4 (KC 64), ternary2 8
 * (KC 128), sp24_f16 1 (KC 32, a sparse step covers 32 dense columns),
 * sp24_int4 4 (KC 128).
 *
 * 2:4 metadata (mma.sp .f16 m16n8k32, PTX ISA "sparse mma metadata 16832
 * f16/bf16"): per (n-tile, PAIR of sparse steps (64 dense columns)) 32 lanes
 * x 4 bytes. Lane (g, t): step = 2 * pair + (t >> 1) (even steps are issued
 * with sparsity selector 0, read from lanes t = 0, 1; odd steps with selector
 * 1, lanes t = 2, 3), groups-of-4 half hh = t & 1: bits [4j, 4j + 4) are the
 * nibble of row g, 4-column group 4 * hh + j of the step (j = 0..3) and bits
 * [16 + 4j, 20 + 4j) the same for row g + 8. Nibble = first kept column |
 * second kept column << 2 (first < second), the logical sqz encoding.
 *
 * Scales (quantized formats): fp16 [n_tiles][groups][8][2]: entry (g, 0) is
 * row g of the tile, (g, 1) row g + 8, so one 32-bit load gives a lane both of
 * its rows. Zero points (asymmetric only): same layout, fp16 holding
 * 1024 + zero. groups = ceil(K / group); the kernels need one group per step:
 * group % 16 == 0 (dense) / group % 32 == 0 (sp24_int4) or group == K.
 *
 * NF4 lookup table (nf4 only; header offsets[2], after the scales): 8 words,
 * planes of bytes for the PTX prmt lookup. A slot-j code (j < 8) and a
 * slot-(j + 8) code share the bytes of word j / 4 (byte j % 4) of each plane:
 *   words 0-1 "A lo", 2-3 "B lo", 4-5 "A hi", 6-7 "B hi".
 * For a 16-bit selector s of four slots, with prmt's sign mode (selector bit
 * 3 replicates the chosen byte's msb):
 *   lo = prmt(w0, w1, s) ^ prmt(w2, w3, s ^ 0x8888)   (hi: w4-w7 alike)
 * gives the low / high bytes of the four fp16 values. This needs slot j and
 * slot j + 8 to agree on the msb of each byte, which the packer arranges by
 * choosing the slots and a factor alpha: the table holds fp16(NF4[c] * alpha)
 * and the scales hold fp16(scale / alpha) (Pack.cpp, nf4Codebook).
 *
 * Padding: rows >= N and columns >= K are packed as zero weights (f16 0,
 * code == zero point with scale 0 for padded rows, nibble 0x4 with zero
 * values for padded 2:4 groups).
 *===----------------------------------------------------------------------===*/

#ifndef SQZ_KERNELS_CUDA_CUDALAYOUT_H
#define SQZ_KERNELS_CUDA_CUDALAYOUT_H

#include <stdint.h>

#if defined(__CUDA__)
#define SQZ_CUK_HD __attribute__((host)) __attribute__((device))
#else
#define SQZ_CUK_HD
#endif

namespace sqz_cuk {

constexpr int kTileN = 16;           // rows of W per n-tile (mma M)
constexpr int kLanes = 32;           // lanes of a warp
constexpr int kLaneBytes = 16;       // bytes per lane per chunk
constexpr int kChunkBytes = kLanes * kLaneBytes; // 512
constexpr int kMetaPairCols = 64;    // dense columns per metadata word set
constexpr int kMetaPairBytes = kLanes * 4;       // 128
constexpr int64_t kAlign = 256;      // section alignment inside a blob
constexpr int64_t kHeaderBytes = 64; // sizeof(sqz_uk_header)

// Kernel launch shape (Kernels.cu and sqz_cuk_plan agree on these).
constexpr int kWarps = 4;                // warps per block (split K)
constexpr int kStagesGemv = 8;           // cp.async ring slots per warp, gemv
constexpr int kStagesGemm = 4;           // ... gemm (keeps shared memory <= 48 KiB)
constexpr int kMTilesGemv = 1;           // 8-row m-tiles per block, gemv
constexpr int kMTilesGemm = 4;           // 8-row m-tiles per block, gemm
constexpr int kWindowGemv = 1024;        // dense K columns staged per window
constexpr int kWindowGemm = 512;
constexpr int kXPad = 8;                 // halves of padding per staged row
// gemm64: warps split N instead of K (warp w owns n-tile 4 * by + w, all of K), 8 m-tiles.
constexpr int kMTilesGemm64 = 8;
constexpr int kWindowGemm64 = 256;
constexpr int kStagesGemm64 = 4;
constexpr int kNF4LutWords = 8;          // words of the nf4 lookup table

// Format numbers (enum sqz_cuk_format in CudaKernels.h).
enum : int32_t {
  kF16 = 1,
  kInt8 = 2,
  kInt4 = 3,
  kNF4 = 4,
  kTernary2 = 5,
  kSp24F16 = 7,
  kSp24Int4 = 8,
};

SQZ_CUK_HD constexpr bool isSparse(int32_t f) { return f == kSp24F16 || f == kSp24Int4; }
SQZ_CUK_HD constexpr bool isQuant(int32_t f) {
  return f == kInt8 || f == kInt4 || f == kNF4 || f == kTernary2 || f == kSp24Int4;
}
/// Bits per code of a quantized format (0 for f16 formats).
SQZ_CUK_HD constexpr int codeBits(int32_t f) {
  return f == kInt8                                    ? 8
         : (f == kInt4 || f == kNF4 || f == kSp24Int4) ? 4
         : f == kTernary2                              ? 2
                                                       : 0;
}
/// Dense K columns covered by one mma step (16, or 32 for mma.sp).
SQZ_CUK_HD constexpr int stepCols(int32_t f) { return isSparse(f) ? 32 : 16; }
/// mma steps per 16-byte lane chunk.
SQZ_CUK_HD constexpr int stepsPerChunk(int32_t f) {
  return (f == kF16 || f == kSp24F16) ? 1 : 16 / codeBits(f);
}
/// Dense K columns per chunk.
SQZ_CUK_HD constexpr int chunkCols(int32_t f) { return stepCols(f) * stepsPerChunk(f); }
/// The zero point of a symmetric format (2^(bits-1); ternary: 1; nf4 has none: its codes are
/// table slots).
SQZ_CUK_HD constexpr int symmetricZero(int32_t f) {
  return f == kTernary2 ? 1 : f == kInt8 ? 128 : 8;
}

/// Launch shape of a kernel variant (0 gemv, 1 gemm, 2 gemm64, 3 wgmma): the one table
/// sqz_cuk_plan reads; the kernels take the same constants as template arguments
/// (GemmCommon.cuh). xPad: halves of padding per staged activation row (the wgmma variant's
/// core-matrix layout has none).
struct VariantShape {
  int mTiles, window, stages, nTilesPerBlock, xPad;
};
SQZ_CUK_HD constexpr VariantShape variantShape(int vi) {
  return vi == 0   ? VariantShape{kMTilesGemv, kWindowGemv, kStagesGemv, 1, kXPad}
         : vi == 1 ? VariantShape{kMTilesGemm, kWindowGemm, kStagesGemm, 1, kXPad}
         : vi == 2 ? VariantShape{kMTilesGemm64, kWindowGemm64, kStagesGemm64, kWarps, kXPad}
                   : VariantShape{kMTilesGemm64, kWindowGemm64, kStagesGemm64, kWarps, 0};
}

/// Bytes of dynamic shared memory of the kernel for MT m-tiles, window KW, S ring stages and
/// xPad halves of padding per staged row.
SQZ_CUK_HD constexpr int sharedBytes(int MT, int KW, int S, int xPad = kXPad) {
  return 8 * MT * (KW + xPad) * 2 + kWarps * S * kChunkBytes;
}

SQZ_CUK_HD constexpr int64_t alignUp(int64_t v, int64_t a) { return (v + a - 1) / a * a; }
SQZ_CUK_HD constexpr int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Section sizes and offsets of a blob; computed identically by host and device.
struct Layout {
  int64_t nTiles, nChunks, kPad, groups;
  int64_t dataOffset, dataBytes;
  int64_t metaOffset, metaBytes;   // sparse only (0 otherwise)
  int64_t scaleOffset, scaleBytes; // quantized only
  int64_t zeroOffset, zeroBytes;   // asymmetric only
  int64_t lutOffset, lutBytes;     // nf4 only: the 32-byte lookup table
  int64_t totalBytes;
};

SQZ_CUK_HD inline Layout layoutOf(int32_t format, int64_t N, int64_t K, int64_t group,
                                  bool asymmetric) {
  Layout l{};
  int kc = chunkCols(format);
  // Sparse: metadata comes in pairs of steps (64 dense columns).
  int64_t kUnit = isSparse(format) && kc < kMetaPairCols ? kMetaPairCols : kc;
  l.kPad = alignUp(K, kUnit);
  l.nTiles = ceilDiv(N, kTileN);
  l.nChunks = l.kPad / kc;
  l.groups = isQuant(format) ? ceilDiv(K, group) : 0;
  int64_t off = kHeaderBytes;
  off = alignUp(off, kAlign);
  l.dataOffset = off;
  l.dataBytes = l.nTiles * l.nChunks * kChunkBytes;
  off = alignUp(off + l.dataBytes, kAlign);
  if (isSparse(format)) {
    l.metaOffset = off;
    l.metaBytes = l.nTiles * (l.kPad / kMetaPairCols) * kMetaPairBytes;
    off = alignUp(off + l.metaBytes, kAlign);
  }
  if (isQuant(format)) {
    l.scaleOffset = off;
    l.scaleBytes = l.nTiles * l.groups * kTileN * 2;
    off = alignUp(off + l.scaleBytes, kAlign);
    if (asymmetric) {
      l.zeroOffset = off;
      l.zeroBytes = l.scaleBytes;
      off = alignUp(off + l.zeroBytes, kAlign);
    }
    if (format == kNF4) {
      l.lutOffset = off;
      l.lutBytes = kNF4LutWords * 4;
      off = alignUp(off + l.lutBytes, kAlign);
    }
  }
  l.totalBytes = off;
  return l;
}

/// A fragment position of (lane, register, half) within one 16-column step.
SQZ_CUK_HD constexpr int fragRow(int lane, int r) { return lane / 4 + 8 * (r & 1); }
SQZ_CUK_HD constexpr int fragCol(int lane, int r, int h) {
  return 2 * (lane % 4) + h + 8 * (r >> 1);
}

} // namespace sqz_cuk

#endif // SQZ_KERNELS_CUDA_CUDALAYOUT_H
