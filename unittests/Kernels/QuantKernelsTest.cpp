//===- QuantKernelsTest.cpp - int8 / int4 / nf4 / ternary microkernels ----===//
//
// Every ISA variant of the quantized microkernels (lib/Kernels/CPU) against a scalar double
// reference computed from the LOGICAL weight (codes, scales, zero points; never the packed
// blob), on odd shapes: N not a multiple of 64 or 16, K not a multiple of 256 (nor of the
// format's block), ragged last groups, groups that do not fit the SIMD planes (the scalar
// fallback), M in {0, 1, 3, 8, 17, 33}, with and without bias, ldx > K, ldy > N, and output
// ranges split at multiples of SQZ_UK_N_STEP as generated code does; columns outside the range
// and the padding of y must stay untouched. Tolerance: 1e-5 relative (issue 7).
//
// Packing is checked byte-exactly on the oracles of compression.md §8.4, §8.5, §8.7 (TQ1_0
// trit bytes) and §8.8, produced by the library's own quantizers (lib/Compression), and the
// kernels' NF4 table is checked bit-identical to sqz::compression::nf4Table(). Variants the
// CPU cannot run are skipped.
//
//===----------------------------------------------------------------------===//

#include "Microkernels.h"

#include "sqz/Compression/Quantization.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace sqz::compression;

namespace {

const char *const kIsas[] = {"generic", "avx2", "avx512", "avx512vnni"};

bool cpuRuns(const std::string &isa) {
  __builtin_cpu_init();
  if (isa == "generic")
    return true;
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
              __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c");
  if (isa == "avx2")
    return avx2;
  bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                __builtin_cpu_supports("avx512cd");
  if (isa == "avx512")
    return avx512;
  return avx512 && __builtin_cpu_supports("avx512vnni");
}

const char *formatName(int32_t format) {
  switch (format) {
  case SQZ_UK_INT8:
    return "int8";
  case SQZ_UK_INT4:
    return "int4";
  case SQZ_UK_NF4:
    return "nf4";
  case SQZ_UK_TERNARY2:
    return "ternary2";
  case SQZ_UK_TERNARY16:
    return "ternary16";
  default:
    return "?";
  }
}

sqz_uk_kernel_fn kernelFor(int32_t format, const std::string &isa) {
  std::string name = std::string("sqz_uk_") + formatName(format) + "_" + isa;
  return sqz_uk_lookup(name.c_str());
}

/// A logical quantized weight with its storage.
struct Logical {
  int32_t format = SQZ_UK_INT4;
  bool asym = false;
  int64_t N = 0, K = 0, group = 0;
  std::vector<uint8_t> codes, zeros;
  std::vector<float> scales;

  int64_t groups() const { return (K + group - 1) / group; }
  sqz_uk_logical view() const {
    sqz_uk_logical w;
    std::memset(&w, 0, sizeof(w));
    w.format = format;
    w.asymmetric = asym;
    w.N = N;
    w.K = K;
    w.group = group;
    w.codes = codes.data();
    w.scales = scales.data();
    w.zeros = asym ? zeros.data() : nullptr;
    return w;
  }
  /// The dequantized weight in double, from the logical form only.
  double weight(int64_t n, int64_t k) const {
    int64_t g = k / group;
    double s = scales[n * groups() + g];
    int c = codes[n * K + k];
    switch (format) {
    case SQZ_UK_NF4:
      return s * static_cast<double>(nf4Table()[c]);
    case SQZ_UK_TERNARY2:
    case SQZ_UK_TERNARY16:
      return s * (c - 1);
    default: {
      int bits = format == SQZ_UK_INT8 ? 8 : 4;
      int z = asym ? zeros[n * groups() + g] : 1 << (bits - 1);
      return s * (c - z);
    }
    }
  }
};

Logical randomLogical(int32_t format, bool asym, int64_t N, int64_t K, int64_t group,
                      unsigned seed) {
  std::mt19937 rng(seed);
  Logical l;
  l.format = format;
  l.asym = asym;
  l.N = N;
  l.K = K;
  l.group = group;
  int maxCode = format == SQZ_UK_INT8                                     ? 255
                : format == SQZ_UK_TERNARY2 || format == SQZ_UK_TERNARY16 ? 2
                                                                          : 15;
  std::uniform_int_distribution<int> code(0, maxCode);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  l.codes.resize(N * K);
  for (auto &c : l.codes)
    c = static_cast<uint8_t>(code(rng));
  l.scales.resize(N * l.groups());
  for (auto &s : l.scales)
    s = scale(rng);
  if (asym) {
    l.zeros.resize(N * l.groups());
    for (auto &z : l.zeros)
      z = static_cast<uint8_t>(code(rng));
  }
  return l;
}

/// A 64-byte aligned packed blob.
struct Blob {
  uint8_t *data = nullptr;
  int64_t size = 0;
  explicit Blob(const sqz_uk_logical &w) {
    size = sqz_uk_packed_bytes(&w);
    if (size <= 0)
      return;
    data = static_cast<uint8_t *>(std::aligned_alloc(64, (size + 63) / 64 * 64));
    if (sqz_uk_pack(&w, data) != 0) {
      std::free(data);
      data = nullptr;
    }
  }
  ~Blob() { std::free(data); }
  Blob(const Blob &) = delete;
  Blob &operator=(const Blob &) = delete;
};

std::vector<float> randomVector(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto &x : v)
    x = d(rng);
  return v;
}

constexpr float kSentinel = 1234.5f;

/// Runs `fn` on the ranges [n0, n1) of `ranges` and compares with the double reference; y
/// outside the ranges must keep the sentinel.
void checkKernel(sqz_uk_kernel_fn fn, const Logical &lw, const Blob &blob, int64_t M, bool withBias,
                 const std::vector<std::pair<int64_t, int64_t>> &ranges, const std::string &what) {
  const int64_t N = lw.N, K = lw.K, ldx = K + 5, ldy = N + 3;
  std::vector<float> x = randomVector(std::max<int64_t>(M, 1) * ldx, 7 + M);
  std::vector<float> bias = randomVector(N, 11);
  std::vector<float> y(std::max<int64_t>(M, 1) * ldy, kSentinel);
  std::vector<bool> covered(N, false);
  for (auto [n0, n1] : ranges) {
    fn(blob.data, x.data(), M, ldx, withBias ? bias.data() : nullptr, y.data(), ldy, n0, n1);
    for (int64_t n = n0; n < n1; ++n)
      covered[n] = true;
  }
  double maxErr = 0, maxRef = 0;
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      float got = y[m * ldy + n];
      if (!covered[n]) {
        ASSERT_EQ(got, kSentinel) << what << ": y[" << m << ", " << n << "] outside the range";
        continue;
      }
      double ref = withBias ? bias[n] : 0.0, absSum = withBias ? std::fabs(bias[n]) : 0.0;
      for (int64_t k = 0; k < K; ++k) {
        double t = static_cast<double>(x[m * ldx + k]) * lw.weight(n, k);
        ref += t;
        absSum += std::fabs(t);
      }
      double err = std::fabs(got - ref);
      // Elementwise: the fp32 dot product error bound; norm-wise below.
      ASSERT_LE(err, 1e-5 * absSum + 1e-30)
          << what << ": y[" << m << ", " << n << "] = " << got << ", reference " << ref;
      maxErr = std::max(maxErr, err);
      maxRef = std::max(maxRef, std::fabs(ref));
    }
    for (int64_t n = N; n < ldy; ++n)
      ASSERT_EQ(y[m * ldy + n], kSentinel) << what << ": padding of y written";
  }
  if (M > 0)
    EXPECT_LE(maxErr, 1e-5 * maxRef) << what << ": max |error| / max |y| too large";
  if (M == 0)
    for (float v : y)
      ASSERT_EQ(v, kSentinel) << what << ": M = 0 wrote y";
}

/// The ranges generated code uses for T threads: N split at multiples of SQZ_UK_N_STEP.
std::vector<std::pair<int64_t, int64_t>> splitRanges(int64_t N, int threads) {
  int64_t steps = (N + SQZ_UK_N_STEP - 1) / SQZ_UK_N_STEP;
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int t = 0; t < threads; ++t) {
    int64_t s0 = steps * t / threads, s1 = steps * (t + 1) / threads;
    int64_t n0 = s0 * SQZ_UK_N_STEP, n1 = std::min(N, s1 * SQZ_UK_N_STEP);
    if (n0 < n1)
      out.push_back({n0, n1});
  }
  return out;
}

struct Case {
  int32_t format;
  bool asym;
  int64_t N, K, group; // group 0: per-channel (K)
};

std::string caseName(const Case &c) {
  std::string s = std::string(formatName(c.format)) + (c.asym ? "_asym" : "_sym") + "_N" +
                  std::to_string(c.N) + "_K" + std::to_string(c.K) + "_g" +
                  (c.group ? std::to_string(c.group) : std::string("K"));
  return s;
}

const Case kCases[] = {
    // int4: g32/g64/g128, per-channel, a group that is a multiple of 16 but not a power of
    // two, and groups that straddle the 16-column planes (the scalar fallback).
    {SQZ_UK_INT4, false, 67, 300, 32},
    {SQZ_UK_INT4, true, 67, 300, 32},
    {SQZ_UK_INT4, false, 130, 173, 64},
    {SQZ_UK_INT4, true, 130, 173, 128},
    {SQZ_UK_INT4, false, 21, 517, 128},
    {SQZ_UK_INT4, true, 21, 517, 0},
    {SQZ_UK_INT4, false, 70, 200, 48},
    {SQZ_UK_INT4, true, 19, 172, 20},
    {SQZ_UK_INT4, false, 9, 45, 1},
    {SQZ_UK_INT4, true, 33, 272, 16},
    {SQZ_UK_INT4, false, 66, 700, 256},
    // int8
    {SQZ_UK_INT8, false, 67, 300, 0},
    {SQZ_UK_INT8, true, 67, 300, 32},
    {SQZ_UK_INT8, false, 130, 173, 128},
    {SQZ_UK_INT8, true, 21, 517, 100},
    {SQZ_UK_INT8, true, 33, 200, 16},
    {SQZ_UK_INT8, false, 40, 130, 32},
    // nf4
    {SQZ_UK_NF4, false, 67, 300, 64},
    {SQZ_UK_NF4, false, 130, 173, 0},
    {SQZ_UK_NF4, false, 21, 517, 7},
    // ternary, 2 bits and 5 trits per byte
    {SQZ_UK_TERNARY2, false, 67, 300, 0},
    {SQZ_UK_TERNARY2, false, 130, 173, 64},
    {SQZ_UK_TERNARY2, false, 21, 517, 33},
    {SQZ_UK_TERNARY2, false, 33, 250, 32},
    {SQZ_UK_TERNARY2, false, 20, 600, 128},
    {SQZ_UK_TERNARY2, false, 17, 300, 16},
    {SQZ_UK_TERNARY2, false, 9, 700, 256},
    {SQZ_UK_TERNARY16, false, 67, 300, 0},
    {SQZ_UK_TERNARY16, false, 130, 173, 32},
    {SQZ_UK_TERNARY16, false, 21, 517, 48},
    {SQZ_UK_TERNARY16, false, 70, 81, 10},
    {SQZ_UK_TERNARY16, false, 33, 250, 16},
    {SQZ_UK_TERNARY16, false, 65, 500, 160},
};

class QuantKernels : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(QuantKernels, MatchesLogicalReference) {
  const Case &c = kCases[std::get<0>(GetParam())];
  std::string isa = kIsas[std::get<1>(GetParam())];
  if (!cpuRuns(isa))
    GTEST_SKIP() << "this CPU cannot run the " << isa << " variant";
  sqz_uk_kernel_fn fn = kernelFor(c.format, isa);
  ASSERT_NE(fn, nullptr);
  Logical lw = randomLogical(c.format, c.asym, c.N, c.K, c.group ? c.group : c.K,
                             static_cast<unsigned>(c.N * 131 + c.K));
  sqz_uk_logical view = lw.view();
  char error[256];
  ASSERT_TRUE(sqz_uk_can_pack(&view, error, sizeof(error))) << error;
  Blob blob(view);
  ASSERT_NE(blob.data, nullptr);
  for (int64_t M : {0, 1, 3, 8, 17, 33})
    for (bool withBias : {false, true}) {
      std::string what =
          caseName(c) + " " + isa + " M=" + std::to_string(M) + (withBias ? " bias" : "");
      checkKernel(fn, lw, blob, M, withBias, {{0, c.N}}, what + " full");
      checkKernel(fn, lw, blob, M, withBias, splitRanges(c.N, 2), what + " 2 threads");
      if (c.N > SQZ_UK_N_STEP)
        checkKernel(fn, lw, blob, M, withBias, {{SQZ_UK_N_STEP, c.N}}, what + " tail range");
      // Not required by the ABI, but supported: ranges that do not start on a panel.
      checkKernel(fn, lw, blob, M, withBias, {{3, c.N - 1}}, what + " unaligned range");
    }
}

INSTANTIATE_TEST_SUITE_P(
    AllFormats, QuantKernels,
    ::testing::Combine(::testing::Range(0, static_cast<int>(sizeof(kCases) / sizeof(kCases[0]))),
                       ::testing::Range(0, 4)),
    [](const ::testing::TestParamInfo<std::tuple<int, int>> &info) {
      return caseName(kCases[std::get<0>(info.param)]) + "_" + kIsas[std::get<1>(info.param)];
    });

/// Runs every runnable variant with x = e_k and returns W[n, k] as the kernel sees it.
std::vector<float> kernelColumn(const Blob &blob, int32_t format, const std::string &isa, int64_t N,
                                int64_t K, int64_t k) {
  std::vector<float> x(K, 0.0f), y(N, kSentinel);
  x[k] = 1.0f;
  kernelFor(format, isa)(blob.data, x.data(), 1, K, nullptr, y.data(), N, 0, N);
  return y;
}

template <typename T> T readAt(const Blob &b, int64_t offset) {
  T v;
  std::memcpy(&v, b.data + offset, sizeof(T));
  return v;
}

uint32_t readFlags(const Blob &b) { return readAt<uint32_t>(b, 32); }

TEST(QuantPacking, HeaderAndRegions) {
  // 1 x 4 int4 asymmetric, group 4 (compression.md §8.4.1 via the library's RTN).
  std::vector<float> w = {-1.0f, -0.2f, 0.3f, 0.5f};
  auto q = quantizeRTN(w, 1, 4, {QuantFormat::Asymmetric, 4, -1});
  ASSERT_TRUE(static_cast<bool>(q)) << llvm::toString(q.takeError());
  ASSERT_EQ(q->codes, (std::vector<uint8_t>{0, 8, 13, 15}));
  ASSERT_EQ(q->zeros, (std::vector<uint8_t>{10}));
  Logical l;
  l.format = SQZ_UK_INT4;
  l.asym = true;
  l.N = 1;
  l.K = 4;
  l.group = 4;
  l.codes = q->codes;
  l.scales = q->scales;
  l.zeros = q->zeros;
  sqz_uk_logical view = l.view();
  Blob blob(view);
  ASSERT_NE(blob.data, nullptr);
  // Header: 64 bytes; codes 1 panel x 1 block x 4 rows x 64 bytes at 64; scales
  // [1 panel][1 group][4 rows] floats at 320 (64-byte padded); zero points at 384; 448 total.
  EXPECT_EQ(blob.size, 448);
  EXPECT_EQ(readAt<uint32_t>(blob, 0), SQZ_UK_MAGIC);
  EXPECT_EQ(readAt<uint16_t>(blob, 4), SQZ_UK_VERSION);
  EXPECT_EQ(readAt<uint16_t>(blob, 6), SQZ_UK_INT4);
  EXPECT_EQ(readAt<int64_t>(blob, 8), 1);
  EXPECT_EQ(readAt<int64_t>(blob, 16), 4);
  EXPECT_EQ(readAt<int64_t>(blob, 24), 4);
  EXPECT_EQ(readAt<uint32_t>(blob, 32), SQZ_UK_FLAG_ASYMMETRIC);
  EXPECT_EQ(readAt<int64_t>(blob, 40), 64);
  EXPECT_EQ(readAt<int64_t>(blob, 48), 320);
  EXPECT_EQ(readAt<int64_t>(blob, 56), 384);
  // Columns 0..3 are plane 0, words 0..3: the low nibbles of bytes 0, 4, 8, 12.
  for (int64_t i = 64; i < 320; ++i) {
    uint8_t want = i == 64 ? 0x00 : i == 68 ? 0x08 : i == 72 ? 0x0D : i == 76 ? 0x0F : 0;
    ASSERT_EQ(blob.data[i], want) << "code byte " << i - 64;
  }
  EXPECT_EQ(readAt<float>(blob, 320), q->scales[0]);
  EXPECT_EQ(readAt<float>(blob, 324), 0.0f); // padding rows
  EXPECT_EQ(blob.data[384], 10);
  // ŵ = w exactly (up to the float scale) in every variant.
  for (const char *isa : kIsas) {
    if (!cpuRuns(isa))
      continue;
    for (int64_t k = 0; k < 4; ++k)
      EXPECT_NEAR(kernelColumn(blob, SQZ_UK_INT4, isa, 1, 4, k)[0], w[k], 1e-6) << isa;
  }
}

TEST(QuantPacking, Int4NibbleOrder) {
  // One row, K = 256 (two blocks): code(k) = k % 16 except a few marked columns. Word j of
  // block b holds columns 128 b + 16 i + j in bits 4 i .. 4 i + 3.
  Logical l = randomLogical(SQZ_UK_INT4, false, 1, 256, 256, 1);
  for (int64_t k = 0; k < 256; ++k)
    l.codes[k] = 0;
  l.codes[0] = 0x1;   // block 0, i 0, j 0: byte 0 low
  l.codes[16] = 0x2;  // i 1, j 0: byte 0 high
  l.codes[33] = 0x3;  // i 2, j 1: byte 5 low
  l.codes[127] = 0xF; // i 7, j 15: byte 63 high
  l.codes[128] = 0x5; // block 1, byte 0 low (after the panel's 4 rows x 64 bytes)
  sqz_uk_logical view = l.view();
  Blob blob(view);
  ASSERT_NE(blob.data, nullptr);
  const uint8_t *codes = blob.data + 64;
  EXPECT_EQ(codes[0], 0x21);
  EXPECT_EQ(codes[5], 0x03);
  EXPECT_EQ(codes[63], 0xF0);
  EXPECT_EQ(codes[256], 0x05);
  int nonzero = 0;
  for (int i = 0; i < 512; ++i)
    nonzero += codes[i] != 0;
  EXPECT_EQ(nonzero, 4);
}

TEST(QuantPacking, GPTQSymmetricOracle) {
  // compression.md §8.4.2: GPTQ-sym 4-bit of [-1, -0.2, 0.3, 0.5] in fp64: scale 2/15, zero 8,
  // q = [0, 6, 10, 12], ŵ = [-1.0667, -0.2667, 0.2667, 0.5333]. (The float32 quantizer gives
  // code 1 for -1, see unittests/Compression; the packing oracle starts from the fp64 codes.)
  Logical l;
  l.format = SQZ_UK_INT4;
  l.N = 1;
  l.K = 4;
  l.group = 4;
  l.codes = {0, 6, 10, 12};
  l.scales = {2.0f / 15.0f};
  sqz_uk_logical view = l.view();
  Blob blob(view);
  ASSERT_NE(blob.data, nullptr);
  EXPECT_EQ(blob.data[64 + 0], 0x00);
  EXPECT_EQ(blob.data[64 + 4], 0x06);
  EXPECT_EQ(blob.data[64 + 8], 0x0A);
  EXPECT_EQ(blob.data[64 + 12], 0x0C);
  const double want[4] = {-1.0667, -0.2667, 0.2667, 0.5333};
  for (const char *isa : kIsas) {
    if (!cpuRuns(isa))
      continue;
    for (int64_t k = 0; k < 4; ++k)
      EXPECT_NEAR(kernelColumn(blob, SQZ_UK_INT4, isa, 1, 4, k)[0], want[k], 1e-4) << isa;
  }
}

TEST(QuantPacking, Int8SignedBytes) {
  Logical l = randomLogical(SQZ_UK_INT8, false, 2, 3, 3, 2);
  l.codes = {0, 128, 255, 1, 127, 200};
  sqz_uk_logical view = l.view();
  Blob blob(view);
  ASSERT_NE(blob.data, nullptr);
  // Row r of the panel at 64 + 64 r; byte = code XOR 0x80 (code - 128 as int8).
  const uint8_t want[2][3] = {{0x80, 0x00, 0x7F}, {0x81, 0xFF, 0x48}};
  for (int r = 0; r < 2; ++r)
    for (int k = 0; k < 3; ++k)
      EXPECT_EQ(blob.data[64 + 64 * r + k], want[r][k]);
}

TEST(QuantPacking, NF4OracleAndTable) {
  // compression.md §8.5: block [0, 0.3, -1.2, 0.05, 0.6, -0.2, 0.9, -0.45]: absmax 1.2, codes
  // [7, 10, 0, 8, 12, 5, 14, 3], dequant [0, 0.2953, -1.2, 0.0955, 0.5289, -0.2217, 0.8675,
  // -0.4739]. Our packing puts column j of plane 0 in the low nibble of word j.
  std::vector<float> w = {0, 0.3f, -1.2f, 0.05f, 0.6f, -0.2f, 0.9f, -0.45f};
  auto q = quantizeNF4(w, 1, 8, {8, false});
  ASSERT_TRUE(static_cast<bool>(q)) << llvm::toString(q.takeError());
  ASSERT_EQ(q->codes, (std::vector<uint8_t>{7, 10, 0, 8, 12, 5, 14, 3}));
  Logical l;
  l.format = SQZ_UK_NF4;
  l.N = 1;
  l.K = 8;
  l.group = 8;
  l.codes = q->codes;
  l.scales = q->scales;
  sqz_uk_logical view = l.view();
  Blob blob(view);
  ASSERT_NE(blob.data, nullptr);
  for (int k = 0; k < 8; ++k)
    EXPECT_EQ(blob.data[64 + 4 * k], q->codes[k]) << k;
  const double want[8] = {0, 0.2953, -1.2, 0.0955, 0.5289, -0.2217, 0.8675, -0.4739};
  for (const char *isa : kIsas) {
    if (!cpuRuns(isa))
      continue;
    for (int64_t k = 0; k < 8; ++k)
      EXPECT_NEAR(kernelColumn(blob, SQZ_UK_NF4, isa, 1, 8, k)[0], want[k], 1e-4) << isa;
  }
  // The kernels' table is bit-identical to the library's: codes 0..15 with scale 1.
  Logical t;
  t.format = SQZ_UK_NF4;
  t.N = 1;
  t.K = 16;
  t.group = 16;
  for (int c = 0; c < 16; ++c)
    t.codes.push_back(static_cast<uint8_t>(c));
  t.scales = {1.0f};
  sqz_uk_logical tv = t.view();
  Blob tb(tv);
  ASSERT_NE(tb.data, nullptr);
  for (const char *isa : kIsas) {
    if (!cpuRuns(isa))
      continue;
    for (int64_t k = 0; k < 16; ++k)
      EXPECT_EQ(kernelColumn(tb, SQZ_UK_NF4, isa, 1, 16, k)[0], nf4Table()[k]) << isa;
  }
}

TEST(QuantPacking, TernaryBitNetOracle) {
  // compression.md §8.8: W = [[0.2, -0.5], [0.05, 1.0]] -> gamma 0.4375, W_q = [[0, -1],
  // [0, 1]], i.e. codes [[1, 0], [1, 2]].
  std::vector<float> w = {0.2f, -0.5f, 0.05f, 1.0f};
  auto q = quantizeTernary(w, 2, 2, /*perRow=*/false);
  ASSERT_TRUE(static_cast<bool>(q)) << llvm::toString(q.takeError());
  ASSERT_EQ(q->codes, (std::vector<uint8_t>{1, 0, 1, 2}));
  ASSERT_FLOAT_EQ(q->scales[0], 0.4375f);
  for (int32_t format : {SQZ_UK_TERNARY2, SQZ_UK_TERNARY16}) {
    Logical l;
    l.format = format;
    l.N = 2;
    l.K = 2;
    l.group = 2;
    l.codes = q->codes;
    l.scales = q->scales;
    sqz_uk_logical view = l.view();
    Blob blob(view);
    ASSERT_NE(blob.data, nullptr);
    if (format == SQZ_UK_TERNARY2) {
      // Row r at 64 + 64 r; word j holds columns 16 i + j at bits 2 i; padding is code 1.
      auto word = [&](int64_t at) { return readAt<uint32_t>(blob, at); };
      EXPECT_EQ(word(64), 0x55555555u);      // row 0, column 0: code 1
      EXPECT_EQ(word(68), 0x55555554u);      // row 0, column 1: code 0 (-1)
      EXPECT_EQ(word(128), 0x55555555u);     // row 1, column 0: code 1
      EXPECT_EQ(word(132), 0x55555556u);     // row 1, column 1: code 2 (+1)
      EXPECT_EQ(word(64 + 60), 0x55555555u); // padding columns
    } else {
      // Row 0: byte 0 holds trits (t(0), t(16), t(32), t(48), t(64)) = (1, 1, 1, 1, 1) -> 128;
      // byte 1: (0, 1, 1, 1, 1) -> v = 40 -> ceil(40 * 256 / 243) = 43.
      EXPECT_EQ(blob.data[64 + 0], 128);
      EXPECT_EQ(blob.data[64 + 1], 43);
      EXPECT_EQ(blob.data[64 + 16 + 1], 213); // row 1: (2, 1, 1, 1, 1) -> v = 202 -> 213
    }
    for (const char *isa : kIsas) {
      if (!cpuRuns(isa))
        continue;
      for (int64_t k = 0; k < 2; ++k) {
        std::vector<float> col = kernelColumn(blob, format, isa, 2, 2, k);
        for (int64_t n = 0; n < 2; ++n)
          EXPECT_FLOAT_EQ(col[n], 0.4375f * (q->codes[n * 2 + k] - 1)) << isa;
      }
    }
  }
}

TEST(QuantPacking, Ternary16TritBytes) {
  // compression.md §8.7 (ggml TQ1_0): trits [2, 0, 1, 2, 0] -> 187; all 0 -> 0; all 2 -> 255;
  // all 1 -> 128. Byte j of a block holds columns 16 n + j, n = 0 most significant.
  const int trits[4][5] = {{2, 0, 1, 2, 0}, {0, 0, 0, 0, 0}, {2, 2, 2, 2, 2}, {1, 1, 1, 1, 1}};
  const uint8_t want[4] = {187, 0, 255, 128};
  Logical l = randomLogical(SQZ_UK_TERNARY16, false, 1, 80, 80, 3);
  for (int j = 0; j < 16; ++j)
    for (int n = 0; n < 5; ++n)
      l.codes[16 * n + j] = static_cast<uint8_t>(trits[j % 4][n]);
  sqz_uk_logical view = l.view();
  Blob blob(view);
  ASSERT_NE(blob.data, nullptr);
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(blob.data[64 + j], want[j % 4]) << j;
  // Every one of the 243 bytes decodes back (through the kernels, x = e_k): 243 rows of one
  // block, row v holding the trits of v.
  Logical all;
  all.format = SQZ_UK_TERNARY16;
  all.N = 243;
  all.K = 80;
  all.group = 80;
  all.codes.assign(243 * 80, 1);
  all.scales.assign(243, 1.0f);
  for (int v = 0; v < 243; ++v)
    for (int n = 0, rest = v; n < 5; ++n, rest /= 3)
      all.codes[v * 80 + 16 * (4 - n)] = static_cast<uint8_t>(rest % 3);
  sqz_uk_logical av = all.view();
  Blob ab(av);
  ASSERT_NE(ab.data, nullptr);
  for (const char *isa : kIsas) {
    if (!cpuRuns(isa))
      continue;
    for (int n = 0; n < 5; ++n) {
      std::vector<float> col = kernelColumn(ab, SQZ_UK_TERNARY16, isa, 243, 80, 16 * n);
      for (int v = 0; v < 243; ++v)
        ASSERT_EQ(col[v], all.codes[v * 80 + 16 * n] - 1.0f) << isa << " v=" << v << " n=" << n;
    }
  }
}

TEST(QuantKernelsAccuracy, OutlierActivations) {
  // One activation 1e6 times the others: every variant stays within 1e-5 of sum |x w| (the
  // ternary16 VNNI fixed-point path must fall back to fp32 for such x); an all-zero x gives 0.
  for (int32_t format : {SQZ_UK_TERNARY16, SQZ_UK_TERNARY2, SQZ_UK_INT4, SQZ_UK_INT8}) {
    Logical lw = randomLogical(format, false, 64, 300, 300, 77);
    sqz_uk_logical view = lw.view();
    Blob blob(view);
    ASSERT_NE(blob.data, nullptr);
    std::vector<float> x = randomVector(300, 78);
    x[5] = 1e6f;
    std::vector<float> zeros(300, 0.0f);
    for (const char *isa : kIsas) {
      if (!cpuRuns(isa))
        continue;
      std::vector<float> y(64);
      kernelFor(format, isa)(blob.data, x.data(), 1, 300, nullptr, y.data(), 64, 0, 64);
      for (int64_t n = 0; n < 64; ++n) {
        double ref = 0, abs = 0;
        for (int64_t k = 0; k < 300; ++k) {
          ref += static_cast<double>(x[k]) * lw.weight(n, k);
          abs += std::fabs(static_cast<double>(x[k]) * lw.weight(n, k));
        }
        ASSERT_LE(std::fabs(y[n] - ref), 1e-5 * abs + 1e-30)
            << formatName(format) << " " << isa << " n=" << n;
      }
      kernelFor(format, isa)(blob.data, zeros.data(), 1, 300, nullptr, y.data(), 64, 0, 64);
      for (float v : y)
        ASSERT_EQ(v, 0.0f) << formatName(format) << " " << isa;
    }
  }
}

TEST(QuantPacking, Deterministic) {
  Logical l = randomLogical(SQZ_UK_INT4, true, 33, 200, 64, 9);
  sqz_uk_logical view = l.view();
  Blob a(view), b(view);
  ASSERT_NE(a.data, nullptr);
  ASSERT_EQ(a.size, b.size);
  EXPECT_EQ(std::memcmp(a.data, b.data, a.size), 0);
}

TEST(QuantRegistry, ValidationMessages) {
  char error[256];
  auto expectError = [&](const Logical &l, const char *needle) {
    sqz_uk_logical v = l.view();
    EXPECT_FALSE(sqz_uk_can_pack(&v, error, sizeof(error)));
    EXPECT_NE(std::string(error).find(needle), std::string::npos) << error;
    EXPECT_EQ(sqz_uk_packed_bytes(&v), -1);
    alignas(64) uint8_t out[64];
    EXPECT_NE(sqz_uk_pack(&v, out), 0);
  };
  Logical l = randomLogical(SQZ_UK_INT4, false, 4, 64, 32, 5);
  l.codes[70] = 16;
  expectError(l, "code[1, 6] = 16 is out of range; expected 0..15");
  l = randomLogical(SQZ_UK_INT4, false, 4, 64, 32, 5);
  l.group = 0;
  expectError(l, "group = 0 must be in 1..K");
  l.group = 65;
  expectError(l, "group = 65 must be in 1..K");
  l = randomLogical(SQZ_UK_TERNARY2, false, 4, 64, 64, 5);
  l.codes[3] = 3;
  expectError(l, "expected 0..2");
  l = randomLogical(SQZ_UK_NF4, false, 4, 64, 64, 5);
  l.asym = true;
  l.zeros.assign(4, 0);
  expectError(l, "nf4: has no zero points");
  l = randomLogical(SQZ_UK_INT4, true, 4, 64, 64, 5);
  l.zeros[2] = 200;
  expectError(l, "zero point [2, 0] = 200 is out of range");
  l = randomLogical(SQZ_UK_INT8, false, 4, 64, 64, 5);
  l.N = 0;
  expectError(l, "N >= 1 and K >= 1");
  l = randomLogical(SQZ_UK_INT8, false, 4, 64, 64, 5);
  l.format = 99;
  expectError(l, "unsupported weight format 99");
  sqz_uk_logical v = randomLogical(SQZ_UK_INT4, true, 4, 64, 64, 5).view();
  v.zeros = nullptr;
  EXPECT_FALSE(sqz_uk_can_pack(&v, error, sizeof(error)));
  EXPECT_NE(std::string(error).find("zero points [N, groups] are missing"), std::string::npos);
  EXPECT_FALSE(sqz_uk_can_pack(nullptr, error, sizeof(error)));
  // A misaligned output buffer is refused.
  Logical ok = randomLogical(SQZ_UK_INT8, false, 4, 64, 64, 5);
  sqz_uk_logical okv = ok.view();
  ASSERT_TRUE(sqz_uk_can_pack(&okv, error, sizeof(error))) << error;
  std::vector<uint8_t> buf(sqz_uk_packed_bytes(&okv) + 128);
  uint8_t *aligned =
      reinterpret_cast<uint8_t *>((reinterpret_cast<uintptr_t>(buf.data()) + 63) / 64 * 64);
  EXPECT_EQ(sqz_uk_pack(&okv, aligned), 0);
  EXPECT_NE(sqz_uk_pack(&okv, aligned + 4), 0);
}

TEST(QuantRegistry, Symbols) {
  EXPECT_STREQ(sqz_uk_kernel_symbol(SQZ_UK_INT4, SQZ_UK_ISA_AVX512), "sqz_uk_int4_avx512");
  EXPECT_STREQ(sqz_uk_kernel_symbol(SQZ_UK_TERNARY16, SQZ_UK_ISA_GENERIC),
               "sqz_uk_ternary16_generic");
  EXPECT_STREQ(sqz_uk_kernel_symbol(SQZ_UK_NF4, 17), "sqz_uk_nf4_avx512vnni");
  EXPECT_EQ(sqz_uk_kernel_symbol(SQZ_UK_INT8, -1), nullptr);
  EXPECT_EQ(sqz_uk_kernel_symbol(99, SQZ_UK_ISA_AVX2), nullptr);
  for (int32_t f : {SQZ_UK_INT8, SQZ_UK_INT4, SQZ_UK_NF4, SQZ_UK_TERNARY2, SQZ_UK_TERNARY16})
    for (int isa = 0; isa < 4; ++isa) {
      const char *name = sqz_uk_kernel_symbol(f, isa);
      ASSERT_NE(name, nullptr);
      EXPECT_NE(sqz_uk_lookup(name), nullptr) << name;
    }
  EXPECT_EQ(sqz_uk_lookup("sqz_uk_int4_avx1024"), nullptr);
  EXPECT_EQ(sqz_uk_lookup(nullptr), nullptr);
}

TEST(QuantKernelsLibrary, MatchesLibraryDequantization) {
  // End to end with the library's quantizers: RTN (sym g128 and asym g32, ragged), NF4 blocks
  // of 64 and per-row ternary, K = 172 as stories260K's FFN down projection.
  const int64_t N = 40, K = 172;
  std::vector<float> w = randomVector(N * K, 21);
  std::vector<std::pair<int32_t, QuantizedMatrix>> mats;
  auto rtnSym = quantizeRTN(w, N, K, {QuantFormat::Symmetric, 4, 128});
  auto rtnAsym = quantizeRTN(w, N, K, {QuantFormat::Asymmetric, 4, 32});
  auto rtn8 = quantizeRTN(w, N, K, {QuantFormat::SymmetricAbsmax, 8, -1});
  auto nf4 = quantizeNF4(w, N, K, {64, false});
  auto ter = quantizeTernary(w, N, K, true);
  ASSERT_TRUE(rtnSym && rtnAsym && rtn8 && nf4 && ter);
  mats.push_back({SQZ_UK_INT4, std::move(*rtnSym)});
  mats.push_back({SQZ_UK_INT4, std::move(*rtnAsym)});
  mats.push_back({SQZ_UK_INT8, std::move(*rtn8)});
  mats.push_back({SQZ_UK_NF4, std::move(*nf4)});
  mats.push_back({SQZ_UK_TERNARY2, *ter});
  mats.push_back({SQZ_UK_TERNARY16, std::move(*ter)});
  std::vector<float> x = randomVector(K, 22);
  for (auto &[format, q] : mats) {
    sqz_uk_logical v;
    std::memset(&v, 0, sizeof(v));
    v.format = format;
    v.asymmetric = q.format == QuantFormat::Asymmetric;
    v.N = N;
    v.K = K;
    v.group = q.groupSize < 0 ? K : q.groupSize;
    v.codes = q.codes.data();
    v.scales = q.scales.data();
    v.zeros = v.asymmetric ? q.zeros.data() : nullptr;
    Blob blob(v);
    ASSERT_NE(blob.data, nullptr) << formatName(format);
    std::vector<float> deq = q.dequantize();
    for (const char *isa : kIsas) {
      if (!cpuRuns(isa))
        continue;
      std::vector<float> y(N);
      kernelFor(format, isa)(blob.data, x.data(), 1, K, nullptr, y.data(), N, 0, N);
      for (int64_t n = 0; n < N; ++n) {
        double ref = 0, abs = 0;
        for (int64_t k = 0; k < K; ++k) {
          ref += static_cast<double>(x[k]) * deq[n * K + k];
          abs += std::fabs(static_cast<double>(x[k]) * deq[n * K + k]);
        }
        EXPECT_NEAR(y[n], ref, 1e-5 * abs) << formatName(format) << " " << isa << " n=" << n;
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// The int8-activation path (sqz_uk_logical::act_int8, SQZ_UK_FLAG_ACT_INT8; docs/Kernels.md):
// every variant against a double reference OF THE SAME SEMANTICS — x quantized per 32
// columns exactly as documented (float ops, round half to even), integer dots, one
// (scale * xs) product per block — from the logical weight.
//===----------------------------------------------------------------------===//

/// x quantized as the int8-activation kernels do: q[k] and xs per 32-column block.
void quantizeActivations(const float *x, int64_t K, bool nf4, std::vector<int> &q,
                         std::vector<float> &xs) {
  int64_t T = (K + 31) / 32;
  q.assign(T * 32, 0);
  xs.assign(T, 0.0f);
  for (int64_t t = 0; t < T; ++t) {
    float amax = 0.0f;
    for (int64_t k = 32 * t; k < std::min(K, 32 * t + 32); ++k)
      amax = std::max(amax, std::fabs(x[k]));
    if (amax == 0.0f)
      continue;
    float inv = 127.0f / amax;
    xs[t] = amax / (nf4 ? 16129.0f : 127.0f);
    for (int64_t k = 32 * t; k < std::min(K, 32 * t + 32); ++k) {
      float v = x[k] * inv;
      q[k] = static_cast<int>(std::nearbyint(v));
    }
  }
}

/// The integer weight of the int8-activation semantics.
int actIntWeight(const Logical &lw, int64_t n, int64_t k) {
  int c = lw.codes[n * lw.K + k];
  if (lw.format == SQZ_UK_NF4)
    return static_cast<int>(std::nearbyint(127.0 * nf4Table()[c]));
  int64_t g = k / lw.group;
  int z = lw.asym ? lw.zeros[n * lw.groups() + g] : (lw.format == SQZ_UK_INT8 ? 128 : 8);
  return c - z;
}

void checkActKernel(sqz_uk_kernel_fn fn, const Logical &lw, const Blob &blob, int64_t M,
                    bool withBias, const std::vector<std::pair<int64_t, int64_t>> &ranges,
                    const std::string &what) {
  const int64_t N = lw.N, K = lw.K, ldx = K + 5, ldy = N + 3;
  std::vector<float> x = randomVector(std::max<int64_t>(M, 1) * ldx, 7 + M);
  // A row of zeros (xs = 0) and a row with one huge value exercise the block scales.
  if (M > 2) {
    for (int64_t k = 0; k < K; ++k)
      x[1 * ldx + k] = 0.0f;
    x[2 * ldx + K / 2] = 1e4f;
  }
  std::vector<float> bias = randomVector(N, 11);
  std::vector<float> y(std::max<int64_t>(M, 1) * ldy, kSentinel);
  std::vector<bool> covered(N, false);
  for (auto [n0, n1] : ranges) {
    fn(blob.data, x.data(), M, ldx, withBias ? bias.data() : nullptr, y.data(), ldy, n0, n1);
    for (int64_t n = n0; n < n1; ++n)
      covered[n] = true;
  }
  std::vector<int> q;
  std::vector<float> xs;
  for (int64_t m = 0; m < M; ++m) {
    quantizeActivations(x.data() + m * ldx, K, lw.format == SQZ_UK_NF4, q, xs);
    for (int64_t n = 0; n < N; ++n) {
      float got = y[m * ldy + n];
      if (!covered[n]) {
        ASSERT_EQ(got, kSentinel) << what << ": y[" << m << ", " << n << "] outside the range";
        continue;
      }
      double ref = withBias ? bias[n] : 0.0, absSum = withBias ? std::fabs(bias[n]) : 0.0;
      for (int64_t t = 0; t < (K + 31) / 32; ++t) {
        int64_t I = 0, absI = 0;
        for (int64_t k = 32 * t; k < std::min(K, 32 * t + 32); ++k) {
          int64_t p = static_cast<int64_t>(q[k]) * actIntWeight(lw, n, k);
          I += p;
          absI += p < 0 ? -p : p;
        }
        float d = lw.scales[n * lw.groups() + 32 * t / lw.group] * xs[t];
        ref += static_cast<double>(d) * static_cast<double>(I);
        // The fp32 dot product bound over the products q_k * w_k (as for the fp32 path).
        absSum += std::fabs(static_cast<double>(d)) * static_cast<double>(absI);
      }
      ASSERT_LE(std::fabs(got - ref), 1e-5 * absSum + 1e-30)
          << what << ": y[" << m << ", " << n << "] = " << got << ", reference " << ref;
    }
    for (int64_t n = N; n < ldy; ++n)
      ASSERT_EQ(y[m * ldy + n], kSentinel) << what << ": padding of y written";
  }
  if (M == 0)
    for (float v : y)
      ASSERT_EQ(v, kSentinel) << what << ": M = 0 wrote y";
}

const Case kActCases[] = {
    {SQZ_UK_INT4, false, 67, 300, 32},  {SQZ_UK_INT4, true, 67, 300, 32},
    {SQZ_UK_INT4, false, 130, 173, 64}, {SQZ_UK_INT4, true, 37, 333, 64},
    {SQZ_UK_INT4, false, 21, 517, 128}, {SQZ_UK_INT4, true, 130, 173, 128},
    {SQZ_UK_INT4, true, 21, 517, 0},    {SQZ_UK_INT4, false, 66, 700, 256},
    {SQZ_UK_INT4, false, 9, 45, 0},     {SQZ_UK_INT8, false, 67, 300, 0},
    {SQZ_UK_INT8, true, 67, 300, 32},   {SQZ_UK_INT8, false, 40, 130, 32},
    {SQZ_UK_INT8, true, 130, 173, 128}, {SQZ_UK_INT8, false, 21, 517, 64},
    {SQZ_UK_INT8, true, 19, 172, 0},    {SQZ_UK_NF4, false, 67, 300, 64},
    {SQZ_UK_NF4, false, 130, 173, 0},   {SQZ_UK_NF4, false, 21, 517, 32},
    {SQZ_UK_NF4, false, 33, 600, 128},
    // Long rows: the quantized activations of M rows do not fit the stack buffer at once
    // (rows are taken in chunks).
    {SQZ_UK_INT4, true, 70, 14300, 128}, {SQZ_UK_INT8, false, 33, 14336, 0},
};

class ActInt8Kernels : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(ActInt8Kernels, MatchesSameSemanticsReference) {
  const Case &c = kActCases[std::get<0>(GetParam())];
  std::string isa = kIsas[std::get<1>(GetParam())];
  if (!cpuRuns(isa))
    GTEST_SKIP() << "this CPU cannot run the " << isa << " variant";
  sqz_uk_kernel_fn fn = kernelFor(c.format, isa);
  ASSERT_NE(fn, nullptr);
  Logical lw = randomLogical(c.format, c.asym, c.N, c.K, c.group ? c.group : c.K,
                             static_cast<unsigned>(c.N * 131 + c.K));
  sqz_uk_logical view = lw.view();
  view.act_int8 = 1;
  Blob blob(view);
  ASSERT_NE(blob.data, nullptr);
  ASSERT_EQ(readFlags(blob) & SQZ_UK_FLAG_ACT_INT8, SQZ_UK_FLAG_ACT_INT8);
  for (int64_t M : {0, 1, 3, 5, 8, 17, 33})
    for (bool withBias : {false, true}) {
      std::string what =
          caseName(c) + " act_int8 " + isa + " M=" + std::to_string(M) + (withBias ? " bias" : "");
      checkActKernel(fn, lw, blob, M, withBias, {{0, c.N}}, what + " full");
      checkActKernel(fn, lw, blob, M, withBias, splitRanges(c.N, 2), what + " 2 threads");
      checkActKernel(fn, lw, blob, M, withBias, {{3, c.N - 1}}, what + " unaligned range");
    }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, ActInt8Kernels,
    ::testing::Combine(
        ::testing::Range(0, static_cast<int>(sizeof(kActCases) / sizeof(kActCases[0]))),
        ::testing::Range(0, 4)),
    [](const ::testing::TestParamInfo<std::tuple<int, int>> &info) {
      return caseName(kActCases[std::get<0>(info.param)]) + "_" + kIsas[std::get<1>(info.param)];
    });

TEST(ActInt8Packing, FlagOnlyWhenSupported) {
  struct Want {
    int32_t format;
    int64_t K, group;
    bool act;
  };
  const Want wants[] = {
      {SQZ_UK_INT4, 300, 32, true},    {SQZ_UK_INT4, 300, 64, true},
      {SQZ_UK_INT4, 300, 128, true},   {SQZ_UK_INT4, 300, 300, true},
      {SQZ_UK_INT4, 300, 48, false},   {SQZ_UK_INT4, 300, 96, false},
      {SQZ_UK_INT4, 300, 16, false},   {SQZ_UK_INT8, 300, 64, true},
      {SQZ_UK_INT8, 300, 100, false},  {SQZ_UK_NF4, 300, 20, false},
      {SQZ_UK_INT4, 40000, 128, false}, {SQZ_UK_TERNARY2, 300, 300, false},
  };
  for (const Want &w : wants) {
    Logical lw = randomLogical(w.format, false, 5, w.K, w.group, 3);
    sqz_uk_logical view = lw.view();
    view.act_int8 = 1;
    Blob blob(view);
    ASSERT_NE(blob.data, nullptr);
    EXPECT_EQ((readFlags(blob) & SQZ_UK_FLAG_ACT_INT8) != 0, w.act)
        << formatName(w.format) << " K=" << w.K << " g=" << w.group;
    // Without the request the flag is never set (the fp32 path, the default).
    view.act_int8 = 0;
    Blob plain(view);
    EXPECT_EQ(readFlags(plain) & SQZ_UK_FLAG_ACT_INT8, 0u);
  }
}

/// A NaN or infinite activation never gives a finite output on the int8-activation path: its
/// 32-column block has xs = NaN, so every row is NaN (vmaxps alone would drop a NaN from the
/// block's max|x| and the NaN would be quantized to 0). Other x rows stay finite.
TEST(ActInt8Packing, NonFiniteActivations) {
  for (int32_t format : {SQZ_UK_INT4, SQZ_UK_INT8, SQZ_UK_NF4}) {
    Logical lw = randomLogical(format, false, 20, 300, format == SQZ_UK_INT8 ? 64 : 128, 4);
    sqz_uk_logical view = lw.view();
    view.act_int8 = 1;
    Blob act(view);
    ASSERT_NE(act.data, nullptr);
    ASSERT_EQ(readFlags(act) & SQZ_UK_FLAG_ACT_INT8, SQZ_UK_FLAG_ACT_INT8);
    for (const char *isa : kIsas) {
      if (!cpuRuns(isa))
        continue;
      for (float bad : {NAN, INFINITY, -INFINITY}) {
        std::vector<float> x = randomVector(600, 6), y(40);
        x[300 + 37] = bad; // row 1, inside a full 16-column chunk
        kernelFor(format, isa)(act.data, x.data(), 2, 300, nullptr, y.data(), 20, 0, 20);
        for (int n = 0; n < 20; ++n) {
          EXPECT_TRUE(std::isfinite(y[n])) << formatName(format) << " " << isa << " n=" << n;
          EXPECT_FALSE(std::isfinite(y[20 + n]))
              << formatName(format) << " " << isa << " x=" << bad << " n=" << n;
        }
      }
    }
  }
}

/// The int8-activation result stays close to the exact product (the quantization error of x
/// and, for nf4, of the table): a sanity bound, not the 1e-5 check above.
TEST(ActInt8Packing, CloseToFp32Path) {
  for (int32_t format : {SQZ_UK_INT4, SQZ_UK_INT8, SQZ_UK_NF4}) {
    Logical lw = randomLogical(format, false, 64, 512, 128, 9);
    sqz_uk_logical view = lw.view();
    Blob f32(view);
    view.act_int8 = 1;
    Blob act(view);
    std::vector<float> x = randomVector(512, 5), y0(64), y1(64);
    for (const char *isa : kIsas) {
      if (!cpuRuns(isa))
        continue;
      kernelFor(format, isa)(f32.data, x.data(), 1, 512, nullptr, y0.data(), 64, 0, 64);
      kernelFor(format, isa)(act.data, x.data(), 1, 512, nullptr, y1.data(), 64, 0, 64);
      double num = 0, den = 0;
      for (int n = 0; n < 64; ++n) {
        num += (y1[n] - y0[n]) * (y1[n] - y0[n]);
        den += y0[n] * y0[n];
      }
      EXPECT_LT(std::sqrt(num / den), format == SQZ_UK_NF4 ? 0.03 : 0.02)
          << formatName(format) << " " << isa;
    }
  }
}

} // namespace
