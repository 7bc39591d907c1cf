//===- QuantizationTest.cpp - Quantization math against numeric oracles ---===//
//
// Oracles from ../shared/research/compression.md §3 and §8.4-8.9 (re-implementations of the
// reference code), adapted where our documented conventions differ (float32 arithmetic as
// the torch reference, not fp64; all-zero groups get scale 0).
//
//===----------------------------------------------------------------------===//

#include "sqz/Compression/Quantization.h"

#include "TestMatrices.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

using namespace sqz::compression;
using namespace sqz::compression::test;

namespace {

/// Tokens x cols activations: correlated channels (a random mix) with per-channel scales
/// spread over two decades.
std::vector<double> correlatedActivations(int64_t tokens, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> z(tokens * cols), x(tokens * cols, 0.0), mix(cols * cols);
  for (double &v : z)
    v = normal(gen);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j)
      mix[i * cols + j] = (i == j ? 1.0 : 0.0) + 0.3 * normal(gen);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < cols; ++j) {
      double s = 0;
      for (int64_t i = 0; i < cols; ++i)
        s += z[t * cols + i] * mix[i * cols + j];
      x[t * cols + j] = s * std::pow(10.0, (j % 7) / 3.0);
    }
  return x;
}

std::vector<int> logicalCodes(const QuantizedMatrix &q) {
  std::vector<int> v;
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c)
      v.push_back(q.logical(r, c));
  return v;
}

QuantizedMatrix rtn(const std::vector<float> &w, int64_t rows, int64_t cols, QuantFormat f,
                    int64_t bits, int64_t group) {
  auto q = quantizeRTN(w, rows, cols, {f, bits, group});
  EXPECT_TRUE(bool(q)) << (q ? "" : llvm::toString(q.takeError()));
  return q ? std::move(*q) : QuantizedMatrix();
}

bool sameBits(const QuantizedMatrix &a, const QuantizedMatrix &b) {
  return a.codes == b.codes && a.zeros == b.zeros && a.scales.size() == b.scales.size() &&
         std::memcmp(a.scales.data(), b.scales.data(), a.scales.size() * 4) == 0;
}

//===----------------------------------------------------------------------===//
// RTN
//===----------------------------------------------------------------------===//

TEST(Quantization, RoundHalfEven) {
  EXPECT_EQ(roundHalfEven(0.5), 0.0);
  EXPECT_EQ(roundHalfEven(1.5), 2.0);
  EXPECT_EQ(roundHalfEven(2.5), 2.0);
  EXPECT_EQ(roundHalfEven(-0.5), 0.0);
  EXPECT_EQ(roundHalfEven(-1.5), -2.0);
  EXPECT_EQ(roundHalfEven(-2.5), -2.0);
  EXPECT_EQ(roundHalfEven(2.4999999), 2.0);
  EXPECT_EQ(roundHalfEven(2.5000001), 3.0);
  EXPECT_EQ(roundHalfEven(-7.5), -8.0);
}

TEST(RTN, AsymmetricHandCase) {
  // §8.4.1: w = [-1, -0.2, 0.3, 0.5], 4 bits: scale 0.1, zero 10, q = [0, 8, 13, 15], ŵ = w.
  std::vector<float> w = {-1.0f, -0.2f, 0.3f, 0.5f};
  QuantizedMatrix q = rtn(w, 1, 4, QuantFormat::Asymmetric, 4, -1);
  EXPECT_EQ(q.scales, (std::vector<float>{1.5f / 15.0f}));
  EXPECT_EQ(q.zeros, (std::vector<uint8_t>{10}));
  EXPECT_EQ(q.codes, (std::vector<uint8_t>{0, 8, 13, 15}));
  EXPECT_EQ(q.dequantize(), w); // exact in float
}

TEST(RTN, SymmetricHandCase) {
  // §8.4.2 (GPTQ --sym): scale 2/15, zero 8. In exact (fp64) arithmetic -1/(2/15) = -7.5 is a
  // tie that half-even sends to -8 (code 0); with the float scale fl(2/15) = 0.13333334 the
  // quotient is -7.4999995 -> -7 (code 1), which is what the float32 torch reference gives.
  std::vector<float> w = {-1.0f, -0.2f, 0.3f, 0.5f};
  QuantizedMatrix q = rtn(w, 1, 4, QuantFormat::Symmetric, 4, -1);
  EXPECT_EQ(q.scales, (std::vector<float>{2.0f / 15.0f}));
  EXPECT_TRUE(q.zeros.empty());
  EXPECT_EQ(q.codes, (std::vector<uint8_t>{1, 6, 10, 12}));
  EXPECT_EQ(logicalCodes(q), (std::vector<int>{-7, -2, 2, 4}));
  std::vector<float> d = q.dequantize();
  float s = 2.0f / 15.0f;
  EXPECT_EQ(d, (std::vector<float>{s * -7, s * -2, s * 2, s * 4}));
}

TEST(RTN, TiesRoundHalfToEven) {
  // absmax 7.5 makes the symmetric 4-bit scale exactly 1: every quotient is exact.
  std::vector<float> w = {7.5f, 2.5f, -0.5f, 1.5f, -7.5f, 0.5f, -2.5f, 3.5f};
  QuantizedMatrix q = rtn(w, 1, 8, QuantFormat::Symmetric, 4, -1);
  EXPECT_EQ(q.scales[0], 1.0f);
  // 7.5 -> 8, clamped to 7 (+absmax is not representable); -7.5 -> -8.
  EXPECT_EQ(logicalCodes(q), (std::vector<int>{7, 2, 0, 2, -8, 0, -2, 4}));
  // Asymmetric with scale 1 (range [-7.5, 7.5], zero round(7.5) = 8).
  QuantizedMatrix a = rtn(w, 1, 8, QuantFormat::Asymmetric, 4, -1);
  EXPECT_EQ(a.scales[0], 1.0f);
  EXPECT_EQ(a.zeros[0], 8);
  EXPECT_EQ(a.codes, (std::vector<uint8_t>{15, 10, 8, 10, 0, 8, 6, 12}));
}

TEST(RTN, SymmetricAbsmaxAndEightBits) {
  std::vector<float> w = {127.0f, -63.5f, 0.5f, 1.5f, -127.0f, 64.0f};
  QuantizedMatrix q = rtn(w, 1, 6, QuantFormat::SymmetricAbsmax, 8, -1);
  EXPECT_EQ(q.scales[0], 1.0f);
  EXPECT_EQ(logicalCodes(q), (std::vector<int>{127, -64, 0, 2, -127, 64}));
  EXPECT_EQ(q.codes[4], 1); // never -128
  QuantizedMatrix g = rtn(w, 1, 6, QuantFormat::Symmetric, 8, -1);
  EXPECT_EQ(g.scales[0], 254.0f / 255.0f);
  EXPECT_EQ(g.zeroPoint(0, 0), 128);
}

TEST(RTN, GroupsAreRaggedAndIndependent) {
  // 10 columns in groups of 4: [0,4), [4,8), [8,10) with their own ranges.
  std::vector<float> w = {1, -1, 0.5f, 0, 10, 20, -30, 5, 2, -4, //
                          0, 0,  0,    0, 1,  1,  1,   1, 0, 0};
  QuantizedMatrix q = rtn(w, 2, 10, QuantFormat::Asymmetric, 4, 4);
  EXPECT_EQ(q.groups(), 3);
  ASSERT_EQ(q.scales.size(), 6u);
  EXPECT_EQ(q.scales[0], 2.0f / 15.0f);
  EXPECT_EQ(q.scales[1], 50.0f / 15.0f);
  EXPECT_EQ(q.scales[2], 6.0f / 15.0f);
  // All-zero groups: scale 0, code = zero point = 0, ŵ = 0, no NaN.
  EXPECT_EQ(q.scales[3], 0.0f);
  EXPECT_EQ(q.scales[5], 0.0f);
  EXPECT_EQ(q.zeros[3], 0);
  // A group of ones: the range [0, 1] (it contains 0), zero 0, code 15.
  EXPECT_EQ(q.scales[4], 1.0f / 15.0f);
  std::vector<float> d = q.dequantize();
  for (int64_t c : {0, 1, 2, 3, 8, 9})
    EXPECT_EQ(d[10 + c], 0.0f);
  for (float v : d)
    EXPECT_FALSE(std::isnan(v));
  for (QuantFormat f : {QuantFormat::Symmetric, QuantFormat::SymmetricAbsmax}) {
    QuantizedMatrix s = rtn(w, 2, 10, f, 3, 4);
    EXPECT_EQ(s.scales[3], 0.0f);
    EXPECT_EQ(s.logical(1, 0), 0);
    EXPECT_EQ(s.dequantize(1, 9), 0.0f);
  }
}

TEST(RTN, ErrorIsAtMostHalfAStepForAllConfigurations) {
  int64_t rows = 8, cols = 200; // 200 is ragged for every group size
  std::vector<float> w = randomMatrix(rows, cols, 11);
  for (QuantFormat f :
       {QuantFormat::Asymmetric, QuantFormat::Symmetric, QuantFormat::SymmetricAbsmax})
    for (int64_t bits : {2, 3, 4, 8})
      for (int64_t group : {32, 64, 128, -1}) {
        QuantizedMatrix q = rtn(w, rows, cols, f, bits, group);
        std::vector<float> d = q.dequantize();
        int lo = f == QuantFormat::SymmetricAbsmax ? 1 : 0;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) {
            int code = q.codes[r * cols + c];
            ASSERT_GE(code, lo);
            ASSERT_LE(code, (1 << bits) - 1);
            float s = q.scales[r * q.groups() + q.groupOf(c)];
            ASSERT_LE(std::fabs(w[r * cols + c] - d[r * cols + c]), 0.5001f * s + 1e-6f)
                << int(f) << " bits " << bits << " group " << group;
          }
      }
}

TEST(RTN, InvalidOptions) {
  std::vector<float> w(8, 1.0f);
  for (QuantOptions o :
       {QuantOptions{QuantFormat::Asymmetric, 5, -1}, QuantOptions{QuantFormat::Asymmetric, 4, 0},
        QuantOptions{QuantFormat::Asymmetric, 4, -2}, QuantOptions{QuantFormat::NF4, 4, 64}}) {
    auto q = quantizeRTN(w, 2, 4, o);
    EXPECT_FALSE(bool(q));
    llvm::consumeError(q.takeError());
  }
  auto bad = quantizeRTN(w, 3, 4, {});
  EXPECT_FALSE(bool(bad));
  llvm::consumeError(bad.takeError());
}

//===----------------------------------------------------------------------===//
// GPTQ
//===----------------------------------------------------------------------===//

QuantizedMatrix runGPTQ(const std::vector<float> &w, int64_t rows, int64_t cols,
                        const std::vector<double> &h, const GPTQOptions &o,
                        GPTQResult *out = nullptr) {
  GPTQResult result;
  auto q = gptq(w, rows, cols, h, o, result);
  EXPECT_TRUE(bool(q)) << (q ? "" : llvm::toString(q.takeError()));
  if (out)
    *out = result;
  return q ? std::move(*q) : QuantizedMatrix();
}

TEST(GPTQ, DiagonalHessianEqualsRTN) {
  // §8.4.3: with a diagonal H there is no error feedback: GPTQ is RTN, bit for bit.
  int64_t rows = 16, cols = 96;
  std::vector<float> w = randomMatrix(rows, cols, 21);
  std::vector<double> identity(cols * cols, 0.0), diagonal(cols * cols, 0.0);
  for (int64_t j = 0; j < cols; ++j) {
    identity[j * cols + j] = 3.5;
    diagonal[j * cols + j] = 1.0 + j % 5;
  }
  for (QuantFormat f : {QuantFormat::Asymmetric, QuantFormat::Symmetric})
    for (int64_t bits : {3, 4})
      for (int64_t group : {32, -1}) {
        QuantizedMatrix ref = rtn(w, rows, cols, f, bits, group);
        GPTQOptions o;
        o.quant = {f, bits, group};
        o.blockSize = 64;
        EXPECT_TRUE(sameBits(runGPTQ(w, rows, cols, identity, o), ref));
        o.actOrder = true; // the order changes nothing without feedback
        EXPECT_TRUE(sameBits(runGPTQ(w, rows, cols, diagonal, o), ref));
      }
}

TEST(GPTQ, BeatsRTNOnCorrelatedInputs) {
  // §8.4.5 (statistical): the layer-output error of GPTQ is below RTN's.
  int64_t rows = 16, cols = 64, tokens = 256;
  int wins = 0, trials = 10;
  for (uint32_t trial = 0; trial < uint32_t(trials); ++trial) {
    std::vector<float> w = randomMatrix(rows, cols, 300 + trial);
    std::vector<double> h = gramOf(correlatedActivations(tokens, cols, 400 + trial), tokens, cols);
    GPTQOptions o;
    o.quant = {QuantFormat::Asymmetric, trial % 2 ? 3 : 4, trial % 2 ? -1 : 32};
    o.actOrder = trial % 4 == 0;
    QuantizedMatrix g = runGPTQ(w, rows, cols, h, o);
    QuantizedMatrix r = rtn(w, rows, cols, o.quant.format, o.quant.bits, o.quant.groupSize);
    double eg = outputError(w, g.dequantize(), rows, cols, h);
    double er = outputError(w, r.dequantize(), rows, cols, h);
    wins += eg < er;
  }
  EXPECT_EQ(wins, trials);
}

/// A 2:4 keep mask of w [rows, cols] by magnitude, and w with the pruned weights zeroed.
std::vector<uint8_t> keep24(std::vector<float> &w, int64_t rows, int64_t cols) {
  std::vector<uint8_t> keep(rows * cols, 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < cols; g += 4) {
      float *v = &w[r * cols + g];
      int64_t order[4] = {0, 1, 2, 3};
      std::sort(order, order + 4,
                [&](int64_t a, int64_t b) { return std::fabs(v[a]) > std::fabs(v[b]); });
      keep[r * cols + g + order[0]] = keep[r * cols + g + order[1]] = 1;
      v[order[2]] = v[order[3]] = 0.0f;
    }
  return keep;
}

TEST(GPTQ, FixedMaskKeepsPrunedWeightsZero) {
  // Joint n:m + quantization: pruned weights dequantize to exactly 0, for every format; with a
  // diagonal H (no feedback) the result is RTN of the pruned weight, bit for bit.
  int64_t rows = 12, cols = 64;
  std::vector<float> w = randomMatrix(rows, cols, 51);
  std::vector<uint8_t> keep = keep24(w, rows, cols);
  std::vector<double> diagonal(cols * cols, 0.0);
  for (int64_t j = 0; j < cols; ++j)
    diagonal[j * cols + j] = 1.0 + j % 3;
  std::vector<double> h = gramOf(correlatedActivations(128, cols, 52), 128, cols);
  for (QuantFormat f : {QuantFormat::Asymmetric, QuantFormat::Symmetric})
    for (int64_t group : {16, -1}) {
      GPTQOptions o;
      o.quant = {f, 4, group};
      o.keep = keep;
      EXPECT_TRUE(sameBits(runGPTQ(w, rows, cols, diagonal, o), rtn(w, rows, cols, f, 4, group)));
      for (bool actOrder : {false, true}) {
        o.actOrder = actOrder;
        std::vector<float> d = runGPTQ(w, rows, cols, h, o).dequantize();
        for (int64_t i = 0; i < rows * cols; ++i)
          if (!keep[i])
            EXPECT_EQ(d[i], 0.0f) << "pruned weight " << i << " is not 0";
      }
    }
  GPTQOptions bad;
  bad.keep = llvm::ArrayRef<uint8_t>(keep).drop_back();
  GPTQResult result;
  llvm::Expected<QuantizedMatrix> rejected = gptq(w, rows, cols, h, bad, result);
  ASSERT_FALSE(bool(rejected));
  EXPECT_EQ(llvm::toString(rejected.takeError()), "the keep mask must have rows * cols entries");
}

TEST(GPTQ, FixedMaskBeatsRTNOfThePrunedWeight) {
  // Statistical, as §8.4.5: with the 2:4 mask fixed, GPTQ's output error against the pruned
  // weight is below RTN's on correlated inputs.
  int64_t rows = 16, cols = 64, tokens = 256;
  int wins = 0, trials = 10;
  for (uint32_t trial = 0; trial < uint32_t(trials); ++trial) {
    std::vector<float> w = randomMatrix(rows, cols, 500 + trial);
    std::vector<uint8_t> keep = keep24(w, rows, cols);
    std::vector<double> h = gramOf(correlatedActivations(tokens, cols, 600 + trial), tokens, cols);
    GPTQOptions o;
    o.quant = {trial % 2 ? QuantFormat::Symmetric : QuantFormat::Asymmetric, trial % 3 ? 4 : 3,
               trial % 2 ? 32 : -1};
    o.keep = keep;
    QuantizedMatrix g = runGPTQ(w, rows, cols, h, o);
    QuantizedMatrix r = rtn(w, rows, cols, o.quant.format, o.quant.bits, o.quant.groupSize);
    wins += outputError(w, g.dequantize(), rows, cols, h) <
            outputError(w, r.dequantize(), rows, cols, h);
  }
  EXPECT_EQ(wins, trials);
}

TEST(GPTQ, ActOrderKeepsGroupsContiguous) {
  int64_t rows = 8, cols = 64, tokens = 128;
  std::vector<float> w = randomMatrix(rows, cols, 31);
  std::vector<double> h = gramOf(correlatedActivations(tokens, cols, 32), tokens, cols);
  GPTQOptions o;
  o.quant = {QuantFormat::Asymmetric, 4, 16};
  o.actOrder = true;
  GPTQResult result;
  QuantizedMatrix q = runGPTQ(w, rows, cols, h, o, &result);
  // The processing order is by decreasing diag(H).
  ASSERT_EQ(result.order.size(), size_t(cols));
  for (int64_t i = 1; i < cols; ++i)
    EXPECT_GE(h[result.order[i - 1] * cols + result.order[i - 1]],
              h[result.order[i] * cols + result.order[i]]);
  EXPECT_NE(result.order[0], 0); // (j % 7) scales: the order is not the identity
  // Static groups: each contiguous group of 16 original columns has the scale and zero of
  // the original weights (RTN's), whatever order its columns were processed in.
  QuantizedMatrix ref = rtn(w, rows, cols, QuantFormat::Asymmetric, 4, 16);
  EXPECT_EQ(q.scales, ref.scales);
  EXPECT_EQ(q.zeros, ref.zeros);
  EXPECT_EQ(q.groups(), 4);
  EXPECT_NE(q.codes, ref.codes); // but the feedback changed codes
  // Dequantization needs no g_idx: column c uses group c / 16.
  std::vector<float> d = q.dequantize();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      EXPECT_EQ(d[r * cols + c], q.scales[r * 4 + c / 16] *
                                     float(int(q.codes[r * cols + c]) - q.zeros[r * 4 + c / 16]));
  EXPECT_LT(outputError(w, d, rows, cols, h), outputError(w, ref.dequantize(), rows, cols, h));
}

TEST(GPTQ, DeterministicDeadColumnsAndFallback) {
  int64_t rows = 70, cols = 48, tokens = 96; // 70 rows: two row chunks
  std::vector<double> x = correlatedActivations(tokens, cols, 41);
  for (int64_t t = 0; t < tokens; ++t)
    x[t * cols + 5] = 0.0; // a dead input
  std::vector<double> h = gramOf(x, tokens, cols);
  std::vector<float> w = randomMatrix(rows, cols, 42);
  GPTQOptions o;
  o.quant = {QuantFormat::Symmetric, 3, 16};
  o.blockSize = 32;
  GPTQResult r1, r2;
  QuantizedMatrix a = runGPTQ(w, rows, cols, h, o, &r1);
  QuantizedMatrix b = runGPTQ(w, rows, cols, h, o, &r2);
  EXPECT_TRUE(sameBits(a, b)); // same bits
  EXPECT_EQ(r1.loss, r2.loss);
  EXPECT_EQ(r1.deadColumns, 1);
  EXPECT_FALSE(r1.identityFallback);
  for (int64_t r = 0; r < rows; ++r) {
    EXPECT_EQ(a.logical(r, 5), 0);
    EXPECT_EQ(a.dequantize(r, 5), 0.0f);
  }
  // An indefinite Hessian without damping: identity fallback, which is plain RTN.
  std::vector<double> bad(cols * cols, 0.0);
  for (int64_t j = 0; j < cols; ++j)
    bad[j * cols + j] = j == 7 ? -1.0 : 1.0;
  o.percDamp = 0;
  GPTQResult r3;
  QuantizedMatrix c = runGPTQ(w, rows, cols, bad, o, &r3);
  EXPECT_TRUE(r3.identityFallback);
  EXPECT_TRUE(sameBits(c, rtn(w, rows, cols, QuantFormat::Symmetric, 3, 16)));
  // Bad arguments.
  GPTQResult r4;
  o.blockSize = 0;
  auto e = gptq(w, rows, cols, h, o, r4);
  EXPECT_FALSE(bool(e));
  llvm::consumeError(e.takeError());
  o.blockSize = 128;
  auto f = gptq(w, rows, cols, std::vector<double>(cols), o, r4);
  EXPECT_FALSE(bool(f));
  llvm::consumeError(f.takeError());
}

// The reference loop, unblocked and in plain loops: Cholesky by hand, each column
// quantized and its error fed back into every later column at once.
struct ReferenceGPTQ {
  static bool cholesky(const std::vector<double> &a, int64_t n, std::vector<double> &l) {
    l.assign(n * n, 0.0);
    for (int64_t j = 0; j < n; ++j) {
      double s = a[j * n + j];
      for (int64_t k = 0; k < j; ++k)
        s -= l[j * n + k] * l[j * n + k];
      if (!(s > 0))
        return false;
      l[j * n + j] = std::sqrt(s);
      for (int64_t i = j + 1; i < n; ++i) {
        double t = a[i * n + j];
        for (int64_t k = 0; k < j; ++k)
          t -= l[i * n + k] * l[j * n + k];
        l[i * n + j] = t / l[j * n + j];
      }
    }
    return true;
  }

  /// U upper with (H + damp I)⁻¹ = UᵀU.
  static std::vector<double> factor(std::vector<double> h, int64_t n, double percDamp) {
    double mean = 0;
    for (int64_t j = 0; j < n; ++j)
      mean += h[j * n + j] / n;
    for (int64_t j = 0; j < n; ++j)
      h[j * n + j] += percDamp * mean;
    std::vector<double> l, inv(n * n, 0.0), l2;
    EXPECT_TRUE(cholesky(h, n, l));
    // L⁻¹ by forward substitution, then H⁻¹ = L⁻ᵀ L⁻¹.
    std::vector<double> li(n * n, 0.0);
    for (int64_t c = 0; c < n; ++c)
      for (int64_t i = c; i < n; ++i) {
        double s = i == c ? 1.0 : 0.0;
        for (int64_t k = c; k < i; ++k)
          s -= l[i * n + k] * li[k * n + c];
        li[i * n + c] = s / l[i * n + i];
      }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t k = std::max(i, j); k < n; ++k)
          s += li[k * n + i] * li[k * n + j];
        inv[i * n + j] = s;
      }
    EXPECT_TRUE(cholesky(inv, n, l2));
    std::vector<double> u(n * n, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        u[i * n + j] = l2[j * n + i];
    return u;
  }

  struct Params {
    float scale;
    float zero;
  };
  static Params findParams(const std::vector<float> &x) { // asymmetric 4 bits
    float lo = 0, hi = 0;
    for (float v : x) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    if (lo == 0 && hi == 0)
      return {0, 0};
    float s = (hi - lo) / 15.0f;
    return {s, std::nearbyint(-lo / s)};
  }
  static float quantize(float w, Params p) {
    if (p.scale == 0)
      return 0;
    float q = std::clamp(std::nearbyint(w / p.scale) + p.zero, 0.0f, 15.0f);
    return p.scale * (q - p.zero);
  }

  static std::vector<float> run(const std::vector<float> &weight, int64_t rows, int64_t cols,
                                const std::vector<double> &h, int64_t group) {
    std::vector<double> u = factor(h, cols, 0.01);
    std::vector<double> w(weight.begin(), weight.end());
    std::vector<float> out(rows * cols);
    std::vector<Params> params(rows);
    for (int64_t r = 0; r < rows; ++r)
      params[r] = findParams(
          std::vector<float>(weight.begin() + r * cols, weight.begin() + (r + 1) * cols));
    for (int64_t c = 0; c < cols; ++c) {
      for (int64_t r = 0; r < rows; ++r) {
        if (group > 0 && c % group == 0) {
          std::vector<float> g;
          for (int64_t k = c; k < std::min(c + group, cols); ++k)
            g.push_back(static_cast<float>(w[r * cols + k]));
          params[r] = findParams(g);
        }
        double x = w[r * cols + c];
        float q = quantize(static_cast<float>(x), params[r]);
        double e = (x - q) / u[c * cols + c];
        for (int64_t j = c; j < cols; ++j)
          w[r * cols + j] -= e * u[c * cols + j];
        out[r * cols + c] = q;
      }
    }
    return out;
  }
};

TEST(GPTQ, BlockedMatchesTheUnblockedReferenceLoop) {
  // §8.4.4: the lazy block updates do not change the result.
  int64_t rows = 64, cols = 256, tokens = 512;
  std::vector<float> w = randomMatrix(rows, cols, 51);
  std::vector<double> h = gramOf(correlatedActivations(tokens, cols, 52), tokens, cols);
  for (int64_t group : {32, 96, -1}) {
    std::vector<float> ref = ReferenceGPTQ::run(w, rows, cols, h, group);
    for (int64_t block : {128, 48, 1}) {
      GPTQOptions o;
      o.quant = {QuantFormat::Asymmetric, 4, group};
      o.blockSize = block;
      std::vector<float> d = runGPTQ(w, rows, cols, h, o).dequantize();
      double worst = 0;
      for (size_t i = 0; i < d.size(); ++i)
        worst = std::max(worst, double(std::fabs(d[i] - ref[i])));
      EXPECT_LE(worst, 1e-5) << "group " << group << " block " << block;
    }
  }
}

//===----------------------------------------------------------------------===//
// NF4
//===----------------------------------------------------------------------===//

/// Φ⁻¹(p) by bisection on erfc.
double normalQuantile(double p) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 200; ++i) {
    double mid = (lo + hi) / 2;
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

TEST(NF4, TableIsTheNormalMap) {
  // bitsandbytes create_normal_map(offset=0.9677083, use_extra_value=True): 8 positive
  // quantiles of linspace(offset, 0.5, 9)[:-1], 7 negative of linspace(offset, 0.5, 8)[:-1],
  // and 0, normalized by the max.
  double offset = 0.9677083;
  std::vector<double> v = {0.0};
  for (int i = 0; i < 8; ++i)
    v.push_back(normalQuantile(offset + (0.5 - offset) * i / 8.0));
  for (int i = 0; i < 7; ++i)
    v.push_back(-normalQuantile(offset + (0.5 - offset) * i / 7.0));
  std::sort(v.begin(), v.end());
  double max = v.back();
  const std::array<float, 16> &t = nf4Table();
  for (int i = 0; i < 16; ++i)
    EXPECT_NEAR(t[i], v[i] / max, 5e-7) << i;
  EXPECT_EQ(t[0], -1.0f);
  EXPECT_EQ(t[7], 0.0f);
  EXPECT_EQ(t[15], 1.0f);
  EXPECT_EQ(t[8], 0.07958029955625534f);
  EXPECT_EQ(t[1], -0.6961928009986877f);
}

TEST(NF4, EncodeIsNearestWithTiesToTheLowerCode) {
  const std::array<float, 16> &t = nf4Table();
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(nf4Encode(t[i]), i); // round trip of the table values
  // The decision tree's thresholds are the midpoints of the table.
  for (int i = 0; i + 1 < 16; ++i) {
    float mid = (t[i] + t[i + 1]) / 2;
    EXPECT_EQ(nf4Encode(mid - 1e-6f), i);
    EXPECT_EQ(nf4Encode(mid + 1e-6f), i + 1);
  }
  // A value exactly on a threshold goes to the lower code (`x > threshold`).
  EXPECT_EQ(nf4Encode(0.03979014977812767f), 7);
  EXPECT_EQ(nf4Encode(std::nextafter(0.03979014977812767f, 1.0f)), 8);
  EXPECT_EQ(nf4Encode(-0.8480964004993439f), 0);
}

TEST(NF4, BlockOracleAndRoundTrip) {
  // §8.5: absmax 1.2, codes [7, 10, 0, 8, 12, 5, 14, 3].
  std::vector<float> x = {0, 0.3f, -1.2f, 0.05f, 0.6f, -0.2f, 0.9f, -0.45f};
  auto q = quantizeNF4(x, 1, 8, {});
  ASSERT_TRUE(bool(q));
  EXPECT_EQ(q->scales, (std::vector<float>{1.2f}));
  EXPECT_EQ(q->codes, (std::vector<uint8_t>{7, 10, 0, 8, 12, 5, 14, 3}));
  std::vector<float> d = q->dequantize();
  std::vector<float> expected = {0, 0.2953f, -1.2f, 0.0955f, 0.5289f, -0.2217f, 0.8675f, -0.4739f};
  for (int i = 0; i < 8; ++i)
    EXPECT_NEAR(d[i], expected[i], 1e-4) << i;
  // Table values times a power of two round-trip exactly.
  std::vector<float> table(nf4Table().begin(), nf4Table().end());
  for (float &v : table)
    v *= 4.0f;
  auto t = quantizeNF4(table, 1, 16, {});
  ASSERT_TRUE(bool(t));
  EXPECT_EQ(t->dequantize(), table);
}

TEST(NF4, BlocksOf64WithRaggedTail) {
  int64_t rows = 3, cols = 100;
  std::vector<float> w = randomMatrix(rows, cols, 61);
  for (int64_t c = 64; c < 100; ++c)
    w[2 * cols + c] = 0.0f; // an all-zero block
  auto q = quantizeNF4(w, rows, cols, {});
  ASSERT_TRUE(bool(q));
  EXPECT_EQ(q->groups(), 2);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < 2; ++g) {
      float m = 0;
      for (int64_t c = g * 64; c < std::min<int64_t>(cols, g * 64 + 64); ++c)
        m = std::max(m, std::fabs(w[r * cols + c]));
      EXPECT_EQ(q->scales[r * 2 + g], m);
    }
  std::vector<float> d = q->dequantize();
  for (int64_t c = 64; c < 100; ++c)
    EXPECT_EQ(d[2 * cols + c], 0.0f);
  for (size_t i = 0; i < d.size(); ++i) // the largest NF4 gap is 1 − 0.6962
    EXPECT_LE(std::fabs(d[i] - w[i]), 0.153f * q->scales[(i / cols) * 2 + (i % cols) / 64] + 1e-6f);
  auto bad = quantizeNF4(w, rows, cols, {0, false});
  EXPECT_FALSE(bool(bad));
  llvm::consumeError(bad.takeError());
}

TEST(NF4, DynamicMapIsBitsandbytes) {
  // Values of create_dynamic_map(signed=True) replayed with torch 2.x (float32 linspace):
  // equal within 2 ulp (torch's last bit depends on its vector width).
  const std::array<float, 256> &m = dynamicMap8();
  std::vector<std::pair<int, double>> torch = {
      {0, -0.992968738079071},       {1, -0.9789062142372131},     {2, -0.96484375},
      {63, -0.10703125596046448},    {64, -0.09859374910593033},   {100, -0.0074687497690320015},
      {126, -5.500000384017767e-07}, {128, 5.500000384017767e-07}, {129, 3.250000190746505e-06},
      {150, 0.0052187503315508366},  {200, 0.23359376192092896},   {253, 0.9789062142372131},
      {254, 0.992968738079071}};
  for (auto [i, v] : torch)
    EXPECT_NEAR(m[i], v, 2.4e-7 * std::fabs(v)) << i;
  EXPECT_EQ(m[127], 0.0f);
  EXPECT_EQ(m[255], 1.0f);
  EXPECT_EQ(m[0], -m[254]); // symmetric but for the extra 1.0
  for (int i = 1; i < 256; ++i)
    EXPECT_LT(m[i - 1], m[i]);
}

TEST(NF4, DoubleQuantizationErrorBound) {
  int64_t rows = 40, cols = 1024; // 640 absmax values: 3 blocks of 256, the last ragged
  std::vector<float> w = randomMatrix(rows, cols, 71);
  auto plain = quantizeNF4(w, rows, cols, {64, false});
  auto dq = quantizeNF4(w, rows, cols, {64, true});
  ASSERT_TRUE(plain && dq);
  EXPECT_TRUE(dq->doubleQuant);
  EXPECT_EQ(dq->codes, plain->codes); // codes use the fp32 absmax, as bitsandbytes
  ASSERT_EQ(dq->scaleCodes.size(), 640u);
  ASSERT_EQ(dq->scaleBlockAbsmax.size(), 3u);
  double mean = 0;
  for (float s : plain->scales)
    mean += s / 640.0;
  EXPECT_NEAR(dq->scaleOffset, mean, 1e-6);
  const std::array<float, 256> &m = dynamicMap8();
  float maxGap = 0;
  for (int i = 1; i < 256; ++i)
    maxGap = std::max(maxGap, m[i] - m[i - 1]);
  for (size_t i = 0; i < 640; ++i) {
    float blockMax = dq->scaleBlockAbsmax[i / 256];
    EXPECT_LE(std::fabs(dq->scales[i] - plain->scales[i]), 0.5f * maxGap * blockMax + 1e-6f);
    EXPECT_NEAR(dq->scales[i], m[dq->scaleCodes[i]] * blockMax + dq->scaleOffset, 1e-6);
  }
  // 4 + 8/64 + 32/(64·256) bits per weight (§8.5), plus one fp32 offset.
  double bits = (4.0 * rows * cols + 8.0 * 640 + 32.0 * 3 + 32) / double(rows * cols);
  EXPECT_LT(bits, 4.13);
}

//===----------------------------------------------------------------------===//
// Ternary, LLM.int8(), AWQ, output error
//===----------------------------------------------------------------------===//

TEST(Ternary, AbsmeanHandCase) {
  // §8.8: W = [[0.2, -0.5], [0.05, 1.0]] -> γ = 0.4375 -> [[0, -1], [0, 1]].
  std::vector<float> w = {0.2f, -0.5f, 0.05f, 1.0f};
  auto q = quantizeTernary(w, 2, 2, false);
  ASSERT_TRUE(bool(q));
  EXPECT_EQ(q->scales, (std::vector<float>{0.4375f, 0.4375f}));
  EXPECT_EQ(logicalCodes(*q), (std::vector<int>{0, -1, 0, 1}));
  EXPECT_EQ(q->codes, (std::vector<uint8_t>{1, 0, 1, 2}));
  EXPECT_EQ(q->dequantize(), (std::vector<float>{0, -0.4375f, 0, 0.4375f}));
  // Per row: γ = 0.35 and 0.525 -> [[1, -1], [0, 1]].
  auto r = quantizeTernary(w, 2, 2, true);
  ASSERT_TRUE(bool(r));
  EXPECT_EQ(logicalCodes(*r), (std::vector<int>{1, -1, 0, 1}));
  EXPECT_FLOAT_EQ(r->scales[1], 0.525f);
  auto z = quantizeTernary(std::vector<float>(4, 0.0f), 2, 2, false);
  ASSERT_TRUE(bool(z));
  EXPECT_EQ(z->scales[0], 1e-5f);
  EXPECT_EQ(logicalCodes(*z), (std::vector<int>{0, 0, 0, 0}));
}

TEST(Int8, OutlierDecomposition) {
  // §8.6: X = [[1, 7, -0.5, 2], [0.5, -8, 1, -1]], τ = 6: channel 1 is the outlier.
  std::vector<float> x = {1, 7, -0.5f, 2, 0.5f, -8, 1, -1};
  std::vector<float> absmax(4, 0.0f);
  for (int t = 0; t < 2; ++t)
    for (int j = 0; j < 4; ++j)
      absmax[j] = std::max(absmax[j], std::fabs(x[t * 4 + j]));
  std::vector<float> w = {0.1f, 0.2f, -0.3f, 0.4f, -0.5f, 0.6f, 0.7f, -0.8f};
  auto d = decomposeInt8(w, 2, 4, absmax);
  ASSERT_TRUE(bool(d));
  EXPECT_EQ(d->outlierColumns, (std::vector<int64_t>{1}));
  EXPECT_EQ(d->outlierWeights, (std::vector<float>{0.2f, 0.6f}));
  EXPECT_EQ(d->int8.scales, (std::vector<float>{0.4f / 127, 0.8f / 127}));
  // CB of §8.6 ([[32, 64, -95, 127], [-79, 95, 111, -127]]) with the outlier column held out.
  EXPECT_EQ(logicalCodes(d->int8), (std::vector<int>{32, 0, -95, 127, -79, 0, 111, -127}));
  // X·(int8 part)ᵀ + X[:, outliers]·W_outᵀ is close to the FP result [[2.45, 1.75], [-2.25,
  // -3.55]].
  std::vector<float> deq = d->int8.dequantize();
  double fp[2][2] = {{2.45, 1.75}, {-2.25, -3.55}};
  for (int t = 0; t < 2; ++t)
    for (int o = 0; o < 2; ++o) {
      double y = x[t * 4 + 1] * d->outlierWeights[o];
      for (int j = 0; j < 4; ++j)
        y += x[t * 4 + j] * deq[o * 4 + j];
      EXPECT_NEAR(y, fp[t][o], 0.01);
    }
  // No outliers above the threshold: pure vector-wise int8 over all columns.
  auto none = decomposeInt8(w, 2, 4, absmax, 100.0);
  ASSERT_TRUE(bool(none));
  EXPECT_TRUE(none->outlierColumns.empty());
  EXPECT_EQ(none->int8.logical(0, 1), 64);
  auto bad = decomposeInt8(w, 2, 4, absmax, 0.0);
  EXPECT_FALSE(bool(bad));
  llvm::consumeError(bad.takeError());
}

TEST(AWQ, ScaleSearchHelpsOutlierChannels) {
  int64_t rows = 32, cols = 128, tokens = 512;
  std::mt19937 gen(81);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> x(tokens * cols), meanAbs(cols, 0.0);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < cols; ++j) {
      double scale = j % 16 == 3 ? 30.0 : 1.0; // a few salient input channels
      x[t * cols + j] = normal(gen) * scale;
      meanAbs[j] += std::fabs(x[t * cols + j]) / tokens;
    }
  std::vector<double> h = gramOf(x, tokens, cols);
  std::vector<float> w1 = randomMatrix(rows, cols, 82), w2 = randomMatrix(16, cols, 83);
  AWQOptions o;
  o.quant = {QuantFormat::Asymmetric, 3, 32};
  AWQResult result;
  ASSERT_FALSE(bool(awq({{w1, rows, cols}, {w2, 16, cols}}, h, meanAbs, o, result)));
  ASSERT_EQ(result.gridErrors.size(), 20u);
  // α = 0 is plain RTN (s ≡ 1).
  double rtnError =
      outputError(w1, rtn(w1, rows, cols, QuantFormat::Asymmetric, 3, 32).dequantize(), rows, cols,
                  h) +
      outputError(w2, rtn(w2, 16, cols, QuantFormat::Asymmetric, 3, 32).dequantize(), 16, cols, h);
  EXPECT_NEAR(result.gridErrors[0], rtnError, 1e-9 * rtnError);
  EXPECT_GT(result.alpha, 0.0);
  int64_t best = static_cast<int64_t>(std::lround(result.alpha * 20));
  EXPECT_LT(result.gridErrors[best], 0.9 * result.gridErrors[0]);
  for (double e : result.gridErrors)
    EXPECT_GE(e, result.gridErrors[best]);
  // The scales are normalized: max(s)·min(s) = 1; salient channels get the larger ones.
  float lo = *std::min_element(result.inputScales.begin(), result.inputScales.end());
  float hi = *std::max_element(result.inputScales.begin(), result.inputScales.end());
  EXPECT_NEAR(double(lo) * hi, 1.0, 1e-5);
  EXPECT_GT(result.inputScales[3], result.inputScales[4]);
  // The final result (with the clip search) reconstructs W from Q(W·diag(s))/s.
  ASSERT_EQ(result.quantized.size(), 2u);
  std::vector<float> approx = result.quantized[0].dequantize();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      approx[r * cols + c] /= result.inputScales[c];
  double e1 = outputError(w1, approx, rows, cols, h);
  EXPECT_LT(e1, result.error);
  EXPECT_LT(result.error, result.gridErrors[best]); // the clip search helps too
  EXPECT_EQ(result.clipMax.size(), size_t((rows + 16) * 4));
  // Without the clip search, the final error is the grid's best.
  o.clip = false;
  AWQResult noClip;
  ASSERT_FALSE(bool(awq({{w1, rows, cols}, {w2, 16, cols}}, h, meanAbs, o, noClip)));
  EXPECT_DOUBLE_EQ(noClip.error, noClip.gridErrors[best]);
}

TEST(OutputError, MatchesExplicitActivations) {
  int64_t rows = 6, cols = 20, tokens = 50;
  std::vector<double> x = correlatedActivations(tokens, cols, 91);
  std::vector<double> h = gramOf(x, tokens, cols);
  std::vector<float> w = randomMatrix(rows, cols, 92), v = randomMatrix(rows, cols, 93);
  double num = 0, den = 0;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double a = 0, b = 0;
      for (int64_t j = 0; j < cols; ++j) {
        a += x[t * cols + j] * w[r * cols + j];
        b += x[t * cols + j] * v[r * cols + j];
      }
      num += (a - b) * (a - b);
      den += a * a;
    }
  EXPECT_NEAR(outputError(w, v, rows, cols, h), num, 1e-9 * num);
  EXPECT_NEAR(relativeOutputError(w, v, rows, cols, h), num / den, 1e-9 * num / den);
  EXPECT_EQ(relativeOutputError(w, w, rows, cols, h), 0.0);
}

} // namespace
