//===- CudaPackTest.cpp - CUDA weight packing against the logical form ----===//
//
// Packs random logical weights of every CUDA format on odd shapes and unpacks the blob with a
// scalar decoder written from the PTX ISA fragment tables (NOT from CudaLayout.h's helpers):
// codes, fp16 values, scales, zero points and 2:4 nibbles must come back byte-exactly (nf4: the
// weights, through the blob's lookup table read with the ISA's prmt, within two fp16 roundings),
// padding
// must be zero weight, and the 2:4 metadata must obey the mma.sp rules (ordered nibbles only,
// even steps in lanes t = 0, 1 for selector 0, odd steps in lanes 2, 3 for selector 1). Also
// the error paths of the host functions and the launch plans.
//
//===----------------------------------------------------------------------===//

#include "CudaLayout.h"
#include "TestWeights.h"

#include <gtest/gtest.h>

#include <set>

#include <cmath>
#include <cstring>
#include <string>

using namespace sqz_cuk_test;

namespace {

uint32_t rd32(const std::vector<uint8_t> &b, int64_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}
uint16_t rd16(const std::vector<uint8_t> &b, int64_t at) {
  uint16_t v;
  std::memcpy(&v, b.data() + at, 2);
  return v;
}
int64_t up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

/// What the decoder reads back, indexed like the logical form.
struct Decoded {
  std::vector<uint16_t> half;    // f16: [N, K]; sp24_f16: [N, K/2]
  std::vector<int> codes;        // quantized: [N, K] or [N, K/2]
  std::vector<uint16_t> scales;  // [N, groups] fp16 bits
  std::vector<int> zeros;        // [N, groups]
  std::vector<unsigned> nibbles; // [N, K/4]
  float nf4[16] = {};            // nf4: the value of each table slot
  std::string error;             // first violated rule (padding, metadata)
};

/// PTX ISA, mma.m16n8k16 (and sparse m16n8k32 .f16 A): a_i for i = 0..7 of lane l lives at
/// row groupID (+8 for i in {2,3,6,7}), col threadID_in_group * 2 + (i & 1) (+8 for i >= 4).
/// Register r holds a_{2r}, a_{2r+1}.
void fragPos(int lane, int r, int h, int &row, int &col) {
  int i = 2 * r + h;
  int groupID = lane >> 2, tig = lane % 4;
  row = groupID + ((i == 2 || i == 3 || i == 6 || i == 7) ? 8 : 0);
  col = tig * 2 + (i & 1) + (i >= 4 ? 8 : 0);
}

/// PTX ISA, prmt.b32 default mode: byte i of d is byte c[4i+2:4i] of {b, a} (a = bytes 0-3),
/// or that byte's msb replicated to 8 bits when c[4i+3] is set.
uint32_t isaPrmt(uint32_t a, uint32_t b, uint32_t c) {
  uint8_t src[8];
  std::memcpy(src, &a, 4);
  std::memcpy(src + 4, &b, 4);
  uint32_t d = 0;
  for (int i = 0; i < 4; ++i) {
    unsigned sel = (c >> (4 * i)) & 0xfu;
    uint8_t v = src[sel & 7u];
    if (sel & 8u)
      v = (v & 0x80u) ? 0xff : 0x00;
    d |= static_cast<uint32_t>(v) << (8 * i);
  }
  return d;
}

Decoded decode(const std::vector<uint8_t> &blob) {
  Decoded d;
  sqz_uk_header h;
  std::memcpy(&h, blob.data(), sizeof(h));
  const int64_t N = h.N, K = h.K;
  const int f = h.format;
  const bool sparse = f == SQZ_CUK_SP24_F16 || f == SQZ_CUK_SP24_INT4;
  const bool quant = f != SQZ_CUK_F16 && f != SQZ_CUK_SP24_F16;
  const int bits = f == SQZ_CUK_INT8 ? 8 : f == SQZ_CUK_TERNARY2 ? 2 : 4;
  const bool nf4 = f == SQZ_CUK_NF4;
  if (nf4) {
    // The documented lookup (CudaLayout.h): slot s's fp16 bits are, per byte plane p,
    // prmt(lut[4p], lut[4p+1], s) ^ prmt(lut[4p+2], lut[4p+3], s ^ 8).
    uint32_t lut[8];
    for (int i = 0; i < 8; ++i)
      lut[i] = rd32(blob, h.offsets[2] + 4 * i);
    for (unsigned slot = 0; slot < 16; ++slot) {
      uint32_t lo = isaPrmt(lut[0], lut[1], slot) ^ isaPrmt(lut[2], lut[3], slot ^ 8u);
      uint32_t hi = isaPrmt(lut[4], lut[5], slot) ^ isaPrmt(lut[6], lut[7], slot ^ 8u);
      d.nf4[slot] = halfToFloat(static_cast<uint16_t>((lo & 0xffu) | ((hi & 0xffu) << 8)));
    }
  }
  const int stepCols = sparse ? 32 : 16;
  const int steps = f == SQZ_CUK_F16 || f == SQZ_CUK_SP24_F16 ? 1 : 16 / bits; // 16 bytes per lane, 8 codes per step
  const int64_t chunkCols = stepCols * steps;
  const int64_t kPad = up(K, sparse ? std::max<int64_t>(chunkCols, 64) : chunkCols);
  const int64_t nTiles = (N + 15) / 16, nChunks = kPad / chunkCols;
  const int64_t groups = quant ? (K + h.group - 1) / h.group : 0;
  const int64_t cols = sparse ? K / 2 : K;
  auto setErr = [&](const std::string &e) {
    if (d.error.empty())
      d.error = e;
  };

  // Scales / zeros first (padding codes are checked against the zero points).
  if (quant) {
    d.scales.assign(static_cast<size_t>(N * groups), 0);
    d.zeros.assign(static_cast<size_t>(N * groups), 0);
    for (int64_t nt = 0; nt < nTiles; ++nt)
      for (int64_t gi = 0; gi < groups; ++gi)
        for (int g = 0; g < 8; ++g)
          for (int j = 0; j < 2; ++j) {
            int64_t row = nt * 16 + g + 8 * j;
            int64_t at = (((nt * groups + gi) * 8 + g) * 2 + j) * 2;
            uint16_t s = rd16(blob, h.offsets[1] + at);
            int z = (h.flags & 1) ? rd16(blob, h.offsets[2] + at) - 0x6400
                                  : (f == SQZ_CUK_INT8 ? 128 : f == SQZ_CUK_TERNARY2 ? 1 : 8);
            if (row < N) {
              d.scales[row * groups + gi] = s;
              d.zeros[row * groups + gi] = z;
            } else if (s != 0) {
              setErr("padded row has a nonzero scale");
            }
          }
  }
  auto zeroFor = [&](int64_t row, int64_t kStep) {
    int64_t gi = std::min(kStep / h.group, groups - 1);
    return d.zeros[row * groups + gi];
  };

  if (quant)
    d.codes.assign(static_cast<size_t>(N * cols), -1);
  else
    d.half.assign(static_cast<size_t>(N * cols), 0xffff);
  for (int64_t nt = 0; nt < nTiles; ++nt)
    for (int64_t c = 0; c < nChunks; ++c)
      for (int lane = 0; lane < 32; ++lane) {
        int64_t base = h.offsets[0] + ((nt * nChunks + c) * 32 + lane) * 16;
        for (int st = 0; st < steps; ++st) {
          int64_t kStep = c * chunkCols + st * stepCols;
          for (int r = 0; r < 4; ++r)
            for (int hf = 0; hf < 2; ++hf) {
              int row16, col16;
              fragPos(lane, r, hf, row16, col16);
              int64_t row = nt * 16 + row16;
              // Logical column: dense k, or the kept-value index of a 2:4 group.
              int64_t col = sparse ? kStep / 2 + col16 : kStep + col16;
              bool valid = row < N && col < cols;
              if (!quant) {
                uint16_t v = static_cast<uint16_t>(rd32(blob, base + 4 * r) >> (16 * hf));
                if (valid)
                  d.half[row * cols + col] = v;
                else if (v != 0)
                  setErr("padding holds a nonzero fp16 weight");
                continue;
              }
              int P = st * 4 + r, ppw = 16 / bits;
              if (nf4) { // byte P of the lane, h = 0 in the low nibble: a table slot
                int slot = (blob[base + P] >> (4 * hf)) & 15;
                if (valid)
                  d.codes[row * cols + col] = slot;
                else if (d.nf4[slot] != 0.0f)
                  setErr("padded nf4 code is not a zero weight");
                continue;
              }
              uint32_t word = rd32(blob, base + 4 * (P / ppw));
              int code = static_cast<int>((word >> (bits * (P % ppw) + 16 * hf)) & ((1u << bits) - 1));
              if (valid)
                d.codes[row * cols + col] = code;
              else if (row < N && code != zeroFor(row, kStep))
                setErr("padded column code is not the zero point");
            }
        }
      }

  if (sparse) {
    d.nibbles.assign(static_cast<size_t>(N * (K / 4)), 0xff);
    const int64_t metaOff = up(h.offsets[0] + nTiles * nChunks * 512, 256);
    const int64_t pairs = kPad / 64;
    for (int64_t nt = 0; nt < nTiles; ++nt)
      for (int64_t p = 0; p < pairs; ++p)
        for (int lane = 0; lane < 32; ++lane) {
          uint32_t e = rd32(blob, metaOff + ((nt * pairs + p) * 32 + lane) * 4);
          // PTX ISA, sparse mma.m16n8k32 .f16 metadata: selector s picks lanes 2s, 2s+1 of each
          // quad; thread (groupID, 2s + x) holds row groupID in bits 0..15 and row groupID + 8
          // in bits 16..31, columns 16x .. 16x + 15 (4 nibbles, ascending).
          int tig = lane % 4, selector = tig / 2, x = tig % 2;
          int64_t step = 2 * p + selector; // even steps: selector 0, odd: selector 1
          for (int half = 0; half < 2; ++half)
            for (int j = 0; j < 4; ++j) {
              unsigned nib = (e >> (16 * half + 4 * j)) & 15u;
              if (nib != 0x4 && nib != 0x8 && nib != 0x9 && nib != 0xc && nib != 0xd &&
                  nib != 0xe)
                setErr("metadata nibble outside the ordered 2:4 set");
              int64_t row = nt * 16 + (lane >> 2) + 8 * half;
              int64_t grp = step * 8 + 4 * x + j;
              if (row < N && grp < K / 4)
                d.nibbles[row * (K / 4) + grp] = nib;
              else if (nib != 0x4)
                setErr("padded 2:4 group has metadata other than 0x4");
            }
        }
  }
  return d;
}

struct Case {
  int32_t format;
  int64_t N, K, group;
  bool asym;
};

std::string name(const Case &c) {
  return std::string("format ") + std::to_string(c.format) + " N=" + std::to_string(c.N) +
         " K=" + std::to_string(c.K) + " group=" + std::to_string(c.group) +
         (c.asym ? " asym" : "");
}

std::vector<Case> cases() {
  std::vector<Case> out;
  const int64_t shapes[][2] = {{1, 16}, {37, 200}, {16, 256}, {50, 72}, {129, 1040}};
  for (auto &s : shapes) {
    int64_t N = s[0], K = s[1];
    out.push_back({SQZ_UK_F32, N, K, 0, false});
    for (int32_t f : {SQZ_UK_INT8, SQZ_UK_INT4})
      for (bool asym : {false, true}) {
        out.push_back({f, N, K, K, asym});
        if (K > 32)
          out.push_back({f, N, K, 32, asym});
      }
    for (int32_t f : {SQZ_UK_TERNARY2, SQZ_UK_TERNARY16})
      out.push_back({f, N, K, K > 64 ? 64 : K, false});
    out.push_back({SQZ_UK_NF4, N, K, K, false});
    if (K > 64)
      out.push_back({SQZ_UK_NF4, N, K, 64, false});
    if (K % 4 == 0) {
      out.push_back({SQZ_UK_SP24_F32, N, K, 0, false});
      out.push_back({SQZ_UK_SP24_INT4, N, K, K, false});
      if (K > 64) {
        out.push_back({SQZ_UK_SP24_INT4, N, K, 64, false});
        out.push_back({SQZ_UK_SP24_INT4, N, K, 32, true});
      }
    }
  }
  return out;
}

TEST(CudaPack, RoundTripsEveryFormat) {
  uint32_t seed = 1;
  for (const Case &c : cases()) {
    SCOPED_TRACE(name(c));
    Weights w = makeWeights(c.format, c.N, c.K, c.group, c.asym, seed++);
    char err[512] = "";
    ASSERT_EQ(sqz_cuk_can_pack(&w.logical, err, sizeof(err)), 1) << err;
    int64_t bytes = sqz_cuk_packed_bytes(&w.logical);
    ASSERT_GT(bytes, 64);
    EXPECT_EQ(bytes % 256, 0);
    std::vector<uint8_t> blob(static_cast<size_t>(bytes), 0xAB), again(blob.size(), 0x11);
    ASSERT_EQ(sqz_cuk_pack(&w.logical, blob.data()), 0);
    ASSERT_EQ(sqz_cuk_pack(&w.logical, again.data()), 0);
    EXPECT_EQ(blob, again) << "packing is not deterministic";

    sqz_uk_header h;
    std::memcpy(&h, blob.data(), sizeof(h));
    EXPECT_EQ(h.magic, SQZ_CUK_MAGIC);
    EXPECT_EQ(h.version, SQZ_CUK_VERSION);
    EXPECT_EQ(h.format, sqz_cuk_format_of(&w.logical));
    EXPECT_EQ(h.N, c.N);
    EXPECT_EQ(h.K, c.K);
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(h.offsets[i] % 256, 0);

    Decoded d = decode(blob);
    EXPECT_EQ(d.error, "");
    const int64_t N = c.N, K = c.K;
    switch (c.format) {
    case SQZ_UK_F32:
      for (int64_t i = 0; i < N * K; ++i)
        ASSERT_EQ(d.half[i], floatToHalf(w.weights[i])) << "weight " << i;
      break;
    case SQZ_UK_SP24_F32:
      for (int64_t i = 0; i < N * K / 2; ++i)
        ASSERT_EQ(d.half[i], floatToHalf(w.values[i])) << "value " << i;
      break;
    case SQZ_UK_NF4: {
      // Table value * scale (both fp16 in the blob) against NF4[code] * scale: the table is
      // NF4 * alpha and the scales scale / alpha, each rounded to fp16 once.
      const int64_t G = w.groups();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) {
          const int64_t i = n * K + k, gi = k / w.group;
          const double want = static_cast<double>(kNF4Table[w.codes[i]]) * w.scales[n * G + gi];
          const double got = static_cast<double>(d.nf4[d.codes[i]]) *
                             halfToFloat(d.scales[n * G + gi]);
          ASSERT_NEAR(got, want, 1.1e-3 * std::fabs(w.scales[n * G + gi]))
              << "weight " << n << "," << k << " (code " << int(w.codes[i]) << ")";
          if (kNF4Table[w.codes[i]] == 0.0f)
            ASSERT_EQ(got, 0.0) << "the NF4 zero must stay exactly zero";
        }
      break;
    }
    default:
      for (size_t i = 0; i < w.codes.size(); ++i)
        ASSERT_EQ(d.codes[i], w.codes[i]) << "code " << i;
      for (size_t i = 0; i < w.scales.size(); ++i) {
        ASSERT_EQ(d.scales[i], floatToHalf(w.scales[i])) << "scale " << i;
        int zsym = c.format == SQZ_UK_INT8 ? 128 : c.format == SQZ_UK_INT4 || c.format == SQZ_UK_SP24_INT4 ? 8 : 1;
        ASSERT_EQ(d.zeros[i], c.asym ? w.zeros[i] : zsym) << "zero " << i;
      }
    }
    if (c.format == SQZ_UK_SP24_F32 || c.format == SQZ_UK_SP24_INT4)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t grp = 0; grp < K / 4; ++grp)
          ASSERT_EQ(d.nibbles[n * (K / 4) + grp],
                    (w.indices[n * ((K + 7) / 8) + grp / 2] >> (4 * (grp & 1))) & 15u)
              << "row " << n << " group " << grp;
  }
}

// Section 8.1 of the compression research notes: row [0.1, -0.5, 0.3, 0.05] keeps columns 1
// and 2, metadata 0x9; as the only group of a 1 x 4 sparse weight it lands in lane 0, bits 0..3.
// The weight section holds exactly the format's bits per weight: every byte a lane moves is a
// code or value (a chunk of 512 bytes covers 16 rows x KC dense columns), so a bandwidth-bound
// kernel reads no padding. (The quantized chunks were once half empty, consistently in packer,
// kernels and decoders.)
TEST(CudaPack, WeightBytesAreTheFormatsBits) {
  const int64_t N = 4096, K = 4096;
  struct Case {
    int32_t uk;
    double bytesPerWeight;
  } cases[] = {{SQZ_UK_F32, 2.0},       {SQZ_UK_INT8, 1.0},     {SQZ_UK_INT4, 0.5},
               {SQZ_UK_NF4, 0.5},       {SQZ_UK_TERNARY2, 0.25}, {SQZ_UK_SP24_F32, 1.0},
               {SQZ_UK_SP24_INT4, 0.25}};
  for (const Case &c : cases) {
    Weights w = makeWeights(c.uk, 64, 256, 128, false, 9);
    const int32_t f = sqz_cuk_format_of(&w.logical);
    ASSERT_NE(f, 0) << c.uk;
    const sqz_cuk::Layout L = sqz_cuk::layoutOf(f, N, K, 128, false);
    EXPECT_EQ(L.dataBytes, static_cast<int64_t>(c.bytesPerWeight * N * K))
        << sqz_cuk_format_name(f);
    // ... and the packer agrees with the layout (small shape, real blob).
    const sqz_cuk::Layout l = sqz_cuk::layoutOf(f, 64, 256, sqz_cuk::isQuant(f) ? 128 : 1, false);
    EXPECT_EQ(sqz_cuk_packed_bytes(&w.logical), l.totalBytes) << sqz_cuk_format_name(f);
    EXPECT_EQ(l.dataBytes, static_cast<int64_t>(c.bytesPerWeight * 64 * 256))
        << sqz_cuk_format_name(f);
  }
  // int4 g128 in all: 4 bits + a 16-bit scale per 128 weights.
  const sqz_cuk::Layout L = sqz_cuk::layoutOf(SQZ_CUK_INT4, N, K, 128, false);
  EXPECT_EQ(L.totalBytes, 256 + N * K / 2 + N * (K / 128) * 2);
}

TEST(CudaPack, MetadataOracle) {
  float values[2] = {-0.5f, 0.3f};
  uint8_t indices[1] = {0x9};
  sqz_uk_logical l{};
  l.format = SQZ_UK_SP24_F32;
  l.N = 1;
  l.K = 4;
  l.values = values;
  l.indices = indices;
  int64_t bytes = sqz_cuk_packed_bytes(&l);
  ASSERT_GT(bytes, 0);
  std::vector<uint8_t> blob(static_cast<size_t>(bytes));
  ASSERT_EQ(sqz_cuk_pack(&l, blob.data()), 0);
  sqz_uk_header h;
  std::memcpy(&h, blob.data(), sizeof(h));
  // One n-tile, K padded to 64: two chunks of 512 bytes, then the metadata (256-aligned).
  int64_t meta = up(h.offsets[0] + 2 * 512, 256);
  EXPECT_EQ(rd32(blob, meta) & 0xffffu, 0x4449u); // groups 1..3 are padding (0x4)
  EXPECT_EQ(rd32(blob, meta) >> 16, 0x4444u);     // row 8: padding
  // Lane 0, register 0 holds the two kept values of group 0, row 0.
  uint32_t a0 = rd32(blob, h.offsets[0]);
  EXPECT_EQ(a0 & 0xffffu, floatToHalf(-0.5f));
  EXPECT_EQ(a0 >> 16, floatToHalf(0.3f));
}

TEST(CudaPack, RejectsBadInput) {
  char err[512];
  EXPECT_EQ(sqz_cuk_can_pack(nullptr, err, sizeof(err)), 0);
  EXPECT_NE(std::string(err).find("null"), std::string::npos) << err;
  EXPECT_EQ(sqz_cuk_packed_bytes(nullptr), -1);
  EXPECT_NE(sqz_cuk_pack(nullptr, nullptr), 0);

  // A format without a CUDA kernel.
  Weights unknown = makeWeights(SQZ_UK_INT4, 8, 64, 32, false, 7);
  unknown.logical.format = 99;
  EXPECT_EQ(sqz_cuk_can_pack(&unknown.logical, err, sizeof(err)), 0);
  EXPECT_NE(std::string(err).find("no CUDA kernel"), std::string::npos) << err;
  EXPECT_EQ(sqz_cuk_format_of(&unknown.logical), 0);
  // nf4 has no zero points.
  Weights nf4 = makeWeights(SQZ_UK_NF4, 8, 64, 32, true, 7);
  EXPECT_EQ(sqz_cuk_can_pack(&nf4.logical, err, sizeof(err)), 0);
  EXPECT_NE(std::string(err).find("zero points"), std::string::npos) << err;

  // A group that is not a multiple of the mma step.
  Weights g24 = makeWeights(SQZ_UK_INT4, 8, 96, 24, false, 8);
  EXPECT_EQ(sqz_cuk_can_pack(&g24.logical, err, sizeof(err)), 0);
  EXPECT_NE(std::string(err).find("multiple of 16"), std::string::npos) << err;
  EXPECT_EQ(sqz_cuk_packed_bytes(&g24.logical), -1);
  Weights s16 = makeWeights(SQZ_UK_SP24_INT4, 8, 96, 16, false, 9);
  EXPECT_EQ(sqz_cuk_can_pack(&s16.logical, err, sizeof(err)), 0);
  EXPECT_NE(std::string(err).find("multiple of 32"), std::string::npos) << err;

  // Out of fp16 range.
  Weights big = makeWeights(SQZ_UK_F32, 4, 16, 0, false, 10);
  big.weights[5] = 1e6f;
  EXPECT_EQ(sqz_cuk_can_pack(&big.logical, err, sizeof(err)), 0);
  EXPECT_NE(std::string(err).find("fp16"), std::string::npos) << err;
  Weights inf = makeWeights(SQZ_UK_INT8, 4, 32, 32, false, 11);
  inf.scales[1] = INFINITY;
  EXPECT_EQ(sqz_cuk_can_pack(&inf.logical, err, sizeof(err)), 0);
  EXPECT_NE(std::string(err).find("scale"), std::string::npos) << err;

  // Logical-form errors come from the CPU checks (one owner): bad 2:4 nibble, code range.
  Weights sp = makeWeights(SQZ_UK_SP24_F32, 4, 16, 0, false, 12);
  sp.indices[0] = 0x05;
  EXPECT_EQ(sqz_cuk_can_pack(&sp.logical, err, sizeof(err)), 0);
  EXPECT_NE(std::string(err).find("nibble"), std::string::npos) << err;
  Weights code = makeWeights(SQZ_UK_INT4, 4, 32, 32, false, 13);
  code.codes[3] = 16;
  EXPECT_EQ(sqz_cuk_can_pack(&code.logical, err, sizeof(err)), 0);
  EXPECT_NE(sqz_cuk_pack(&code.logical, std::vector<uint8_t>(4096).data()), 0);
}

TEST(CudaPack, Plans) {
  char err_[256];
  Weights w = makeWeights(SQZ_UK_INT4, 4096, 4096, 128, false, 3);
  std::vector<uint8_t> blob(static_cast<size_t>(sqz_cuk_packed_bytes(&w.logical)));
  ASSERT_EQ(sqz_cuk_pack(&w.logical, blob.data()), 0);
  sqz_uk_header h;
  std::memcpy(&h, blob.data(), sizeof(h));
  sqz_cuk_launch l;
  ASSERT_EQ(sqz_cuk_plan(&h, 1, 80, &l), 0);
  EXPECT_STREQ(l.symbol, "sqz_cuk_int4_gemv_sm80");
  EXPECT_EQ(l.grid[0], 1u);   // activation-row blocks
  EXPECT_EQ(l.grid[1], 256u); // n-tiles
  EXPECT_EQ(l.block[0], 128u);
  EXPECT_LE(l.shared_bytes, 48u * 1024);
  ASSERT_EQ(sqz_cuk_plan(&h, 33, 90, &l), 0);
  EXPECT_STREQ(l.symbol, "sqz_cuk_int4_gemm_sm90");
  EXPECT_EQ(l.grid[0], 2u);
  EXPECT_EQ(l.grid[1], 256u);
  EXPECT_LE(l.shared_bytes, 48u * 1024);
  ASSERT_EQ(sqz_cuk_plan(&h, 0, 80, &l), 0);
  EXPECT_EQ(l.grid[0], 1u);
  // M >= 128: gemm64, 64 rows x 4 n-tiles per block.
  ASSERT_EQ(sqz_cuk_plan(&h, 128, 80, &l), 0);
  EXPECT_STREQ(l.symbol, "sqz_cuk_int4_gemm64_sm80");
  EXPECT_EQ(l.grid[0], 2u);
  EXPECT_EQ(l.grid[1], 64u);
  EXPECT_LE(l.shared_bytes, 48u * 1024);
  ASSERT_EQ(sqz_cuk_plan(&h, 127, 90, &l), 0);
  EXPECT_STREQ(l.symbol, "sqz_cuk_int4_gemm_sm90");
  ASSERT_EQ(sqz_cuk_plan_checked(&h, 3, 90, SQZ_CUK_VARIANT_GEMM64, &l, err_, sizeof(err_)), 0);
  EXPECT_STREQ(l.symbol, "sqz_cuk_int4_gemm64_sm90");

  // sm_90a (90 | SQZ_CUK_SM_ARCH_SPECIFIC): wgmma for M >= 128 (gemm64's grid, no row padding
  // in shared memory), the sm_90 kernels below.
  const int32_t sm90a = 90 | SQZ_CUK_SM_ARCH_SPECIFIC;
  ASSERT_EQ(sqz_cuk_plan(&h, 130, sm90a, &l), 0);
  EXPECT_STREQ(l.symbol, "sqz_cuk_int4_wgmma_sm90a");
  EXPECT_EQ(l.grid[0], 3u);
  EXPECT_EQ(l.grid[1], 64u);
  EXPECT_EQ(l.block[0], 128u);
  EXPECT_EQ(l.shared_bytes, 64u * 256 * 2 + 4 * 4 * 512);
  ASSERT_EQ(sqz_cuk_plan(&h, 127, sm90a, &l), 0);
  EXPECT_STREQ(l.symbol, "sqz_cuk_int4_gemm_sm90");
  ASSERT_EQ(sqz_cuk_plan(&h, 1, sm90a, &l), 0);
  EXPECT_STREQ(l.symbol, "sqz_cuk_int4_gemv_sm90");
  ASSERT_EQ(sqz_cuk_plan_checked(&h, 5, sm90a, SQZ_CUK_VARIANT_WGMMA, &l, err_, sizeof(err_)), 0)
      << err_;
  EXPECT_STREQ(l.symbol, "sqz_cuk_int4_wgmma_sm90a");
  // wgmma is sm_90a only: not on sm_90, nor on a later architecture-specific target.
  EXPECT_NE(sqz_cuk_plan_checked(&h, 130, 90, SQZ_CUK_VARIANT_WGMMA, &l, err_, sizeof(err_)), 0);
  EXPECT_NE(std::string(err_).find("sm_90a"), std::string::npos) << err_;
  ASSERT_EQ(sqz_cuk_plan(&h, 130, 100 | SQZ_CUK_SM_ARCH_SPECIFIC, &l), 0);
  EXPECT_STREQ(l.symbol, "sqz_cuk_int4_gemm64_sm90");
  {
    // 2:4 too (wgmma.sp); sm_90 keeps gemm64.
    Weights sp = makeWeights(SQZ_UK_SP24_F32, 64, 256, 256, false, 5);
    std::vector<uint8_t> sblob(static_cast<size_t>(sqz_cuk_packed_bytes(&sp.logical)));
    ASSERT_EQ(sqz_cuk_pack(&sp.logical, sblob.data()), 0);
    sqz_uk_header sh;
    std::memcpy(&sh, sblob.data(), sizeof(sh));
    ASSERT_EQ(sqz_cuk_plan(&sh, 256, sm90a, &l), 0);
    EXPECT_STREQ(l.symbol, "sqz_cuk_sp24_f16_wgmma_sm90a");
    ASSERT_EQ(sqz_cuk_plan(&sh, 256, 90, &l), 0);
    EXPECT_STREQ(l.symbol, "sqz_cuk_sp24_f16_gemm64_sm90");
  }

  char err[256];
  EXPECT_NE(sqz_cuk_plan_checked(&h, 1, 75, SQZ_CUK_VARIANT_AUTO, &l, err, sizeof(err)), 0);
  EXPECT_NE(std::string(err).find("sm_80"), std::string::npos) << err;
  EXPECT_NE(sqz_cuk_plan_checked(&h, -1, 80, SQZ_CUK_VARIANT_AUTO, &l, err, sizeof(err)), 0);
  EXPECT_NE(sqz_cuk_plan_checked(nullptr, 1, 80, SQZ_CUK_VARIANT_AUTO, &l, err, sizeof(err)), 0);
  sqz_uk_header bad = h;
  bad.magic = SQZ_UK_MAGIC; // a CPU blob
  EXPECT_NE(sqz_cuk_plan_checked(&bad, 1, 80, SQZ_CUK_VARIANT_AUTO, &l, err, sizeof(err)), 0);
  EXPECT_NE(std::string(err).find("magic"), std::string::npos) << err;
  bad = h;
  bad.format = 6; // ternary16 packs to ternary2: no CUDA format 6
  EXPECT_NE(sqz_cuk_plan(&bad, 1, 80, &l), 0);
  EXPECT_NE(sqz_cuk_plan_checked(&h, 1, 80, 7, &l, err, sizeof(err)), 0);

  // Every symbol is listed once, and every format/variant/sm plans to a listed one.
  EXPECT_EQ(sqz_cuk_kernel_count(), 49);
  EXPECT_EQ(sqz_cuk_kernel_name(49), nullptr);
  std::set<std::string> names;
  for (int32_t i = 0; i < sqz_cuk_kernel_count(); ++i) {
    EXPECT_EQ(std::string(sqz_cuk_kernel_name(i)).rfind("sqz_cuk_", 0), 0u);
    EXPECT_TRUE(names.insert(sqz_cuk_kernel_name(i)).second) << sqz_cuk_kernel_name(i);
  }
  EXPECT_EQ(names.count("sqz_cuk_nf4_wgmma_sm90a"), 1u);
  EXPECT_EQ(names.count("sqz_cuk_ternary2_wgmma_sm90a"), 1u);
  EXPECT_EQ(names.count("sqz_cuk_sp24_int4_wgmma_sm90a"), 1u);
  EXPECT_STREQ(sqz_cuk_format_name(SQZ_CUK_SP24_INT4), "sp24_int4");
  EXPECT_STREQ(sqz_cuk_format_name(SQZ_CUK_NF4), "nf4");
  Weights nf4 = makeWeights(SQZ_UK_NF4, 40, 256, 64, false, 4);
  std::vector<uint8_t> nblob(static_cast<size_t>(sqz_cuk_packed_bytes(&nf4.logical)));
  ASSERT_EQ(sqz_cuk_pack(&nf4.logical, nblob.data()), 0);
  sqz_uk_header nh;
  std::memcpy(&nh, nblob.data(), sizeof(nh));
  ASSERT_EQ(sqz_cuk_plan(&nh, 1, 90, &l), 0);
  EXPECT_STREQ(l.symbol, "sqz_cuk_nf4_gemv_sm90");
  ASSERT_EQ(sqz_cuk_plan(&nh, 9, 80, &l), 0);
  EXPECT_STREQ(l.symbol, "sqz_cuk_nf4_gemm_sm80");
  EXPECT_EQ(sqz_cuk_format_name(6), nullptr);
}

// A launch for a dynamic M (sqz-cuda-lower-kernels): within each range of M the plan's variant,
// grid y, block and shared memory are the same, and grid x = ceil(M / rows_per_block).
TEST(CudaPack, DynamicRowsPlans) {
  Weights w = makeWeights(SQZ_UK_INT4, 200, 256, 128, false, 5);
  std::vector<uint8_t> blob(static_cast<size_t>(sqz_cuk_packed_bytes(&w.logical)));
  ASSERT_EQ(sqz_cuk_pack(&w.logical, blob.data()), 0);
  sqz_uk_header h;
  std::memcpy(&h, blob.data(), sizeof(h));
  const int64_t ranges[3][2] = {{1, SQZ_CUK_GEMV_MAX_M},
                                {SQZ_CUK_GEMV_MAX_M + 1, SQZ_CUK_GEMM64_MIN_M - 1},
                                {SQZ_CUK_GEMM64_MIN_M, 1000}};
  for (int32_t sm : {80, 90, 90 | SQZ_CUK_SM_ARCH_SPECIFIC})
    for (const auto &range : ranges) {
      sqz_cuk_launch first;
      ASSERT_EQ(sqz_cuk_plan(&h, range[0], sm, &first), 0);
      ASSERT_GT(first.rows_per_block, 0u);
      for (int64_t m = range[0]; m <= range[1]; ++m) {
        sqz_cuk_launch l;
        ASSERT_EQ(sqz_cuk_plan(&h, m, sm, &l), 0);
        EXPECT_STREQ(l.symbol, first.symbol) << "M " << m << " sm " << sm;
        EXPECT_EQ(l.grid[0], (m + first.rows_per_block - 1) / first.rows_per_block) << m;
        EXPECT_EQ(l.grid[1], first.grid[1]);
        EXPECT_EQ(l.grid[2], first.grid[2]);
        EXPECT_EQ(l.block[0], first.block[0]);
        EXPECT_EQ(l.shared_bytes, first.shared_bytes);
        EXPECT_EQ(l.rows_per_block, first.rows_per_block);
      }
    }
  sqz_cuk_launch l;
  ASSERT_EQ(sqz_cuk_plan(&h, 1, 80, &l), 0);
  EXPECT_EQ(l.rows_per_block, 8u);
  ASSERT_EQ(sqz_cuk_plan(&h, 9, 80, &l), 0);
  EXPECT_EQ(l.rows_per_block, 32u);
  ASSERT_EQ(sqz_cuk_plan(&h, 128, 80, &l), 0);
  EXPECT_EQ(l.rows_per_block, 64u);
}

} // namespace
