//===- TernaryKernelsTest.cpp - the ternary GEMV paths (VNNI and fp32) ----===//
//
// The batch-1 paths of ternary2 and ternary16 in every ISA variant against a double reference
// from the logical weights, on shapes that reach the exact-integer AVX512-VNNI GEMVs
// (Ternary.cpp: per-channel and whole-block groups, several blocks per group, ragged last
// groups, K at and just past the stack-buffer limit, where the fp32 path takes over) and on
// activations of a wide dynamic range, all positive, or with one value near the outlier
// guard or the three-limb limits. Tolerance as in QuantKernelsTest.cpp: 1e-5 of sum |x w| per output, 1e-5 of
// max |y| overall. Variants the CPU cannot run are skipped.
//
//===----------------------------------------------------------------------===//

#include "Microkernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

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

struct Ternary {
  int32_t format;
  int64_t N, K, group;
  std::vector<uint8_t> codes;
  std::vector<float> scales;
  int64_t groups() const { return (K + group - 1) / group; }
  double weight(int64_t n, int64_t k) const {
    return static_cast<double>(scales[n * groups() + k / group]) * (codes[n * K + k] - 1);
  }
};

Ternary randomTernary(int32_t format, int64_t N, int64_t K, int64_t group, unsigned seed) {
  std::mt19937 rng(seed);
  Ternary t{format, N, K, group ? group : K, {}, {}};
  std::uniform_int_distribution<int> code(0, 2);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  t.codes.resize(N * K);
  for (auto &c : t.codes)
    c = static_cast<uint8_t>(code(rng));
  t.scales.resize(N * t.groups());
  for (auto &s : t.scales)
    s = scale(rng);
  return t;
}

struct Blob {
  uint8_t *data = nullptr;
  explicit Blob(const Ternary &t) {
    sqz_uk_logical w;
    std::memset(&w, 0, sizeof(w));
    w.format = t.format;
    w.N = t.N;
    w.K = t.K;
    w.group = t.group;
    w.codes = t.codes.data();
    w.scales = t.scales.data();
    int64_t size = sqz_uk_packed_bytes(&w);
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

/// NearGuard*: one activation at 200, 120 or 30 times the mean |x| of the others, just under
/// the VNNI paths' limits (Ternary.cpp: four limbs up to 256 times, three limbs up to 128
/// times for ternary2 and 32 times for ternary16), where the fixed point is coarsest relative
/// to the rest.
enum class XKind { Gaussian, WideRange, Positive, NearGuard, NearGuard3Limbs, NearGuard3LimbsT16 };

std::vector<float> makeX(XKind kind, int64_t K, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(K);
  for (auto &v : x) {
    v = g(rng);
    if (kind == XKind::WideRange)
      v *= std::pow(10.0f, -4.0f * u(rng)); // |x| over about five decades
    else if (kind == XKind::Positive)
      v = std::fabs(v) + 1.0f;
  }
  if (kind == XKind::NearGuard || kind == XKind::NearGuard3Limbs ||
      kind == XKind::NearGuard3LimbsT16) {
    double mean = 0;
    for (auto v : x)
      mean += std::fabs(v);
    mean /= K;
    double factor = kind == XKind::NearGuard ? 200.0 : kind == XKind::NearGuard3Limbs ? 120.0 : 30.0;
    x[K / 3] = static_cast<float>(-factor * mean);
  }
  return x;
}

void checkGemv(const std::string &isa, const Ternary &t, const Blob &blob, const std::vector<float> &x,
               bool withBias, const std::vector<std::pair<int64_t, int64_t>> &ranges,
               const std::string &what) {
  std::string sym = std::string("sqz_uk_") +
                    (t.format == SQZ_UK_TERNARY2 ? "ternary2_" : "ternary16_") + isa;
  sqz_uk_kernel_fn fn = sqz_uk_lookup(sym.c_str());
  ASSERT_NE(fn, nullptr) << sym;
  std::vector<float> bias(t.N);
  for (int64_t n = 0; n < t.N; ++n)
    bias[n] = 0.01f * static_cast<float>(n % 7) - 0.03f;
  const float kSentinel = 1234.5f;
  std::vector<float> y(t.N + 3, kSentinel);
  for (auto [n0, n1] : ranges)
    fn(blob.data, x.data(), 1, t.K, withBias ? bias.data() : nullptr, y.data(), t.N, n0, n1);
  double maxErr = 0, maxRef = 0;
  for (int64_t n = 0; n < t.N; ++n) {
    double ref = withBias ? bias[n] : 0.0, abs = withBias ? std::fabs(bias[n]) : 0.0;
    for (int64_t k = 0; k < t.K; ++k) {
      double p = static_cast<double>(x[k]) * t.weight(n, k);
      ref += p;
      abs += std::fabs(p);
    }
    double err = std::fabs(y[n] - ref);
    ASSERT_LE(err, 1e-5 * abs + 1e-30)
        << what << " " << sym << ": y[" << n << "] = " << y[n] << ", reference " << ref;
    maxErr = std::max(maxErr, err);
    maxRef = std::max(maxRef, std::fabs(ref));
  }
  EXPECT_LE(maxErr, 1e-5 * maxRef) << what << " " << sym;
  for (int64_t n = t.N; n < t.N + 3; ++n)
    ASSERT_EQ(y[n], kSentinel) << what << " " << sym << ": padding of y written";
}

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

struct GemvCase {
  int32_t format;
  int64_t N, K, group; // group 0: per-channel
};

std::string gemvCaseName(const GemvCase &c) {
  return std::string(c.format == SQZ_UK_TERNARY2 ? "ternary2" : "ternary16") + "_N" +
         std::to_string(c.N) + "_K" + std::to_string(c.K) + "_g" +
         (c.group ? std::to_string(c.group) : std::string("K"));
}

const GemvCase kGemvCases[] = {
    // ternary2: blocks of 256 columns; VNNI for per-channel and groups that are multiples of 256.
    {SQZ_UK_TERNARY2, 70, 4100, 0},
    {SQZ_UK_TERNARY2, 37, 1300, 512},  // two blocks per group, ragged last group
    {SQZ_UK_TERNARY2, 37, 1000, 256},  // one block per group
    {SQZ_UK_TERNARY2, 21, 1000, 768},
    {SQZ_UK_TERNARY2, 130, 255, 0},    // K < one block
    {SQZ_UK_TERNARY2, 13, 600, 64},    // not a VNNI group: fp32 path
    // ternary16: blocks of 80; VNNI for per-channel and multiples of 80.
    {SQZ_UK_TERNARY16, 70, 4099, 0},
    {SQZ_UK_TERNARY16, 37, 1000, 160}, // ragged last group
    {SQZ_UK_TERNARY16, 37, 1201, 400},
    {SQZ_UK_TERNARY16, 21, 333, 80},
    {SQZ_UK_TERNARY16, 130, 79, 0},    // K < one block
    {SQZ_UK_TERNARY16, 13, 600, 48},   // fp32 path
};

class TernaryGemv : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(TernaryGemv, MatchesLogicalReference) {
  const GemvCase &c = kGemvCases[std::get<0>(GetParam())];
  std::string isa = kIsas[std::get<1>(GetParam())];
  if (!cpuRuns(isa))
    GTEST_SKIP() << "this CPU cannot run the " << isa << " variant";
  Ternary t = randomTernary(c.format, c.N, c.K, c.group, static_cast<unsigned>(c.N * 7 + c.K));
  Blob blob(t);
  ASSERT_NE(blob.data, nullptr);
  int seed = 0;
  for (XKind kind : {XKind::Gaussian, XKind::WideRange, XKind::Positive, XKind::NearGuard,
                     XKind::NearGuard3Limbs, XKind::NearGuard3LimbsT16}) {
    std::vector<float> x = makeX(kind, c.K, 100 + seed++);
    std::string what = gemvCaseName(c) + " x" + std::to_string(static_cast<int>(kind));
    checkGemv(isa, t, blob, x, true, {{0, c.N}}, what + " full");
    checkGemv(isa, t, blob, x, false, splitRanges(c.N, 2), what + " 2 threads");
    checkGemv(isa, t, blob, x, true, {{3, c.N - 1}, {0, 3}, {c.N - 1, c.N}}, what + " unaligned");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, TernaryGemv,
    ::testing::Combine(
        ::testing::Range(0, static_cast<int>(sizeof(kGemvCases) / sizeof(kGemvCases[0]))),
        ::testing::Range(0, 4)),
    [](const ::testing::TestParamInfo<std::tuple<int, int>> &info) {
      return gemvCaseName(kGemvCases[std::get<0>(info.param)]) + "_" +
             kIsas[std::get<1>(info.param)];
    });

TEST(TernaryGemvLimits, StackBufferBoundary) {
  // The VNNI GEMVs keep x's limbs on the stack for K <= 32768 (ternary2: 128 blocks of 256;
  // ternary16: 409 blocks of 80); one column more runs the fp32 path. Both must agree with
  // the reference.
  for (auto [format, K] : {std::pair<int32_t, int64_t>{SQZ_UK_TERNARY2, 32768},
                           {SQZ_UK_TERNARY2, 32769},
                           {SQZ_UK_TERNARY16, 32720},
                           {SQZ_UK_TERNARY16, 32721}}) {
    Ternary t = randomTernary(format, 9, K, 0, static_cast<unsigned>(K));
    Blob blob(t);
    ASSERT_NE(blob.data, nullptr);
    std::vector<float> x = makeX(XKind::Gaussian, K, 5);
    for (const char *isa : kIsas)
      if (cpuRuns(isa))
        checkGemv(isa, t, blob, x, true, {{0, 9}}, "K=" + std::to_string(K));
  }
}

TEST(TernaryGemvLimits, ZeroAndNonFiniteActivations) {
  // x = 0 gives exactly the bias; an infinite or NaN activation takes the fp32 path (inf or NaN
  // out, never a finite garbage value).
  for (int32_t format : {SQZ_UK_TERNARY2, SQZ_UK_TERNARY16}) {
    Ternary t = randomTernary(format, 12, 700, 0, 3);
    Blob blob(t);
    ASSERT_NE(blob.data, nullptr);
    for (const char *isa : kIsas) {
      if (!cpuRuns(isa))
        continue;
      std::string sym = std::string("sqz_uk_") +
                        (format == SQZ_UK_TERNARY2 ? "ternary2_" : "ternary16_") + isa;
      sqz_uk_kernel_fn fn = sqz_uk_lookup(sym.c_str());
      std::vector<float> x(700, 0.0f), bias(12, 0.5f), y(12);
      fn(blob.data, x.data(), 1, 700, bias.data(), y.data(), 12, 0, 12);
      for (float v : y)
        ASSERT_EQ(v, 0.5f) << sym;
      // inf, and NaN inside a full 16-column chunk (where vmaxps would drop it from max|x|),
      // among finite nonzero x (x = 0 elsewhere would send every x to the fp32 path anyway).
      for (int64_t k = 0; k < 700; ++k)
        x[k] = 0.5f + 0.001f * static_cast<float>(k % 13);
      for (float bad : {INFINITY, NAN}) {
        x[10] = bad;
        fn(blob.data, x.data(), 1, 700, nullptr, y.data(), 12, 0, 12);
        for (int64_t n = 0; n < 12; ++n)
          ASSERT_FALSE(std::isfinite(y[n]) && t.codes[n * 700 + 10] != 1)
              << sym << " x = " << bad << " n=" << n;
      }
    }
  }
}

} // namespace
