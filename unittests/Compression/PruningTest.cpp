//===- PruningTest.cpp - Pruning math against numeric oracles -------------===//
//
// Oracles from ../shared/research/compression.md §8.1-8.3 (re-implementations of the reference
// code), adapted where our documented conventions differ (exact prune counts).
//
//===----------------------------------------------------------------------===//

#include "sqz/Compression/Pruning.h"

#include "TestMatrices.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace sqz::compression;
using namespace sqz::compression::test;

namespace {

/// Tokens x cols activations with per-channel scales spread over two decades.
std::vector<double> randomActivations(int64_t tokens, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> x(tokens * cols);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < cols; ++j)
      x[t * cols + j] = normal(gen) * std::pow(10.0, (j % 7) / 3.0);
  return x;
}

/// ‖X (W - V)ᵀ‖² over the tokens.
double outputError(const std::vector<double> &x, int64_t tokens, const std::vector<float> &w,
                   const std::vector<float> &v, int64_t rows, int64_t cols) {
  double total = 0;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t j = 0; j < cols; ++j)
        s += x[t * cols + j] * (double(w[r * cols + j]) - v[r * cols + j]);
      total += s * s;
    }
  return total;
}

int64_t zeros(const std::vector<uint8_t> &keep, int64_t begin = 0, int64_t end = -1) {
  int64_t n = 0;
  for (int64_t i = begin; i < (end < 0 ? (int64_t)keep.size() : end); ++i)
    n += !keep[i];
  return n;
}

TEST(Pruning, MagnitudeCountsAreExact) {
  std::vector<float> w = randomMatrix(16, 256, 1);
  std::vector<uint8_t> keep(w.size());
  ASSERT_FALSE(bool(selectUnstructured(magnitudeScores(w), 16, 256, 0.5, Granularity::Layer,
                                       keep)));
  EXPECT_EQ(zeros(keep), 16 * 256 / 2);
  // The pruned entries are the smallest magnitudes.
  float maxPruned = 0, minKept = 1e30f;
  for (size_t i = 0; i < w.size(); ++i)
    (keep[i] ? minKept : maxPruned) =
        keep[i] ? std::min(minKept, std::fabs(w[i])) : std::max(maxPruned, std::fabs(w[i]));
  EXPECT_LE(maxPruned, minKept);
  ASSERT_FALSE(
      bool(selectUnstructured(magnitudeScores(w), 16, 256, 0.3, Granularity::Row, keep)));
  for (int64_t r = 0; r < 16; ++r)
    EXPECT_EQ(zeros(keep, r * 256, (r + 1) * 256), 76); // floor(256 * 0.3)
  EXPECT_TRUE(bool(llvm::errorToBool(
      selectUnstructured(magnitudeScores(w), 16, 256, 1.5, Granularity::Row, keep))));
}

TEST(Pruning, TiesAreBrokenByPosition) {
  std::vector<float> scores(8, 1.0f);
  std::vector<uint8_t> keep(8);
  ASSERT_FALSE(bool(selectUnstructured(scores, 1, 8, 0.5, Granularity::Row, keep)));
  EXPECT_EQ(keep, (std::vector<uint8_t>{0, 0, 0, 0, 1, 1, 1, 1}));
}

TEST(Pruning, WandaRowCountsAndColumnScaling) {
  int64_t rows = 16, cols = 256;
  std::vector<float> w = randomMatrix(rows, cols, 2);
  std::vector<double> sq(cols, 4.0);
  std::vector<uint8_t> wanda(w.size()), magnitude(w.size());
  // Equal column norms: the Wanda mask is the per-row magnitude mask.
  ASSERT_FALSE(bool(selectUnstructured(wandaScores(w, rows, cols, sq), rows, cols, 0.5,
                                       Granularity::Row, wanda)));
  ASSERT_FALSE(bool(selectUnstructured(magnitudeScores(w), rows, cols, 0.5, Granularity::Row,
                                       magnitude)));
  EXPECT_EQ(wanda, magnitude);
  for (int64_t r = 0; r < rows; ++r)
    EXPECT_EQ(zeros(wanda, r * cols, (r + 1) * cols), 128);
  // A column scaled by 1e6 keeps all its weights.
  sq[17] = 4e12;
  ASSERT_FALSE(bool(selectUnstructured(wandaScores(w, rows, cols, sq), rows, cols, 0.5,
                                       Granularity::Row, wanda)));
  for (int64_t r = 0; r < rows; ++r)
    EXPECT_TRUE(wanda[r * cols + 17]);
}

TEST(Pruning, NMKeepsNOfEveryGroup) {
  int64_t rows = 4, cols = 8;
  std::vector<float> w = randomMatrix(rows, cols, 3);
  std::vector<uint8_t> keep(w.size());
  ASSERT_FALSE(bool(selectNM(magnitudeScores(w), rows, cols, 2, 4, NMTail::Error, keep)));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < cols; g += 4)
      EXPECT_EQ(zeros(keep, r * cols + g, r * cols + g + 4), 2);
  // §8.1: row [0.1, -0.5, 0.3, 0.05] keeps indices 1 and 2.
  std::vector<float> row = {0.1f, -0.5f, 0.3f, 0.05f};
  std::vector<uint8_t> k(4);
  ASSERT_FALSE(bool(selectNM(magnitudeScores(row), 1, 4, 2, 4, NMTail::Error, k)));
  EXPECT_EQ(k, (std::vector<uint8_t>{0, 1, 1, 0}));
  // A ragged tail (stories260K's 172 FFN columns) is an error unless kept dense.
  std::vector<float> ragged = randomMatrix(2, 10, 4);
  std::vector<uint8_t> kr(20);
  llvm::Error e = selectNM(magnitudeScores(ragged), 2, 10, 2, 4, NMTail::Error, kr);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("do not split into groups of 4"),
            std::string::npos);
  ASSERT_FALSE(bool(selectNM(magnitudeScores(ragged), 2, 10, 2, 4, NMTail::KeepDense, kr)));
  EXPECT_EQ(zeros(kr), 2 * 4);
  EXPECT_TRUE(kr[8] && kr[9] && kr[18] && kr[19]);
  EXPECT_TRUE(bool(llvm::errorToBool(
      selectNM(magnitudeScores(w), rows, cols, 4, 4, NMTail::Error, keep))));
}

TEST(SparseGPT, DiagonalHessianMeansNoCompensation) {
  // §8.3.1: with a diagonal H, surviving weights are unchanged and the mask is the per-block
  // bottom-k of w² (H_jj + damp).
  int64_t rows = 8, cols = 32;
  std::vector<float> w = randomMatrix(rows, cols, 5), pruned = w;
  std::vector<double> h(cols * cols, 0.0);
  for (int64_t j = 0; j < cols; ++j)
    h[j * cols + j] = 1.0 + j % 5;
  std::vector<uint8_t> keep(w.size());
  SparseGPTOptions opts;
  opts.blockSize = 16;
  SparseGPTResult result;
  ASSERT_FALSE(bool(sparseGPT(pruned, rows, cols, h, opts, keep, result)));
  EXPECT_FALSE(result.identityFallback);
  for (size_t i = 0; i < w.size(); ++i)
    EXPECT_EQ(pruned[i], keep[i] ? w[i] : 0.0f) << i;
  // Exactly half of each rows x 16 block.
  for (int64_t b = 0; b < cols; b += 16) {
    int64_t z = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = b; j < b + 16; ++j)
        z += !keep[r * cols + j];
    EXPECT_EQ(z, rows * 16 / 2);
  }
}

TEST(SparseGPT, BeatsPlainMaskingOnRandomProblems) {
  // §8.3.4 (statistical): the compensated weights reconstruct X Wᵀ better than masking alone.
  int64_t rows = 16, cols = 64, tokens = 256;
  int wins = 0;
  for (uint32_t trial = 0; trial < 20; ++trial) {
    std::vector<float> w = randomMatrix(rows, cols, 100 + trial), v = w;
    std::vector<double> x = randomActivations(tokens, cols, 200 + trial);
    std::vector<double> h = gramOf(x, tokens, cols, 2.0 / tokens);
    std::vector<uint8_t> keep(w.size());
    SparseGPTResult result;
    ASSERT_FALSE(bool(sparseGPT(v, rows, cols, h, SparseGPTOptions(), keep, result)));
    std::vector<float> masked = w;
    applyMask(masked, keep);
    wins += outputError(x, tokens, w, v, rows, cols) <=
            outputError(x, tokens, w, masked, rows, cols);
    EXPECT_EQ(zeros(keep), rows * cols / 2);
  }
  EXPECT_EQ(wins, 20);
}

TEST(SparseGPT, NMIsBlockSizeIndependentAndValid) {
  // §8.3.2: the n:m result does not depend on the block size.
  int64_t rows = 8, cols = 64, tokens = 128;
  std::vector<float> w = randomMatrix(rows, cols, 7);
  std::vector<double> x = randomActivations(tokens, cols, 8);
  std::vector<double> h = gramOf(x, tokens, cols, 2.0 / tokens);
  SparseGPTOptions a;
  a.n = 2;
  a.m = 4;
  a.blockSize = 8;
  SparseGPTOptions b = a;
  b.blockSize = 64;
  std::vector<float> wa = w, wb = w;
  std::vector<uint8_t> ka(w.size()), kb(w.size());
  SparseGPTResult ra, rb;
  ASSERT_FALSE(bool(sparseGPT(wa, rows, cols, h, a, ka, ra)));
  ASSERT_FALSE(bool(sparseGPT(wb, rows, cols, h, b, kb, rb)));
  EXPECT_EQ(ka, kb);
  for (size_t i = 0; i < wa.size(); ++i)
    EXPECT_NEAR(wa[i], wb[i], 1e-4 * (1 + std::fabs(wa[i])));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < cols; g += 4) {
      int64_t nonzero = 0;
      for (int64_t j = g; j < g + 4; ++j)
        nonzero += wa[r * cols + j] != 0.0f;
      EXPECT_LE(nonzero, 2);
    }
  b.blockSize = 6;
  EXPECT_TRUE(bool(llvm::errorToBool(sparseGPT(wb, rows, cols, h, b, kb, rb))));
}

TEST(SparseGPT, DeadColumnsFallbackAndDeterminism) {
  int64_t rows = 4, cols = 16, tokens = 64;
  std::vector<double> x = randomActivations(tokens, cols, 9);
  for (int64_t t = 0; t < tokens; ++t)
    x[t * cols + 3] = 0.0; // §8.3.5: a dead input
  std::vector<double> h = gramOf(x, tokens, cols, 2.0 / tokens);
  std::vector<float> w = randomMatrix(rows, cols, 10), v1 = w, v2 = w;
  std::vector<uint8_t> k1(w.size()), k2(w.size());
  SparseGPTResult r1, r2;
  ASSERT_FALSE(bool(sparseGPT(v1, rows, cols, h, SparseGPTOptions(), k1, r1)));
  ASSERT_FALSE(bool(sparseGPT(v2, rows, cols, h, SparseGPTOptions(), k2, r2)));
  EXPECT_EQ(r1.deadColumns, 1);
  for (int64_t r = 0; r < rows; ++r)
    EXPECT_EQ(v1[r * cols + 3], 0.0f);
  EXPECT_EQ(std::memcmp(v1.data(), v2.data(), v1.size() * 4), 0); // same bits
  EXPECT_EQ(r1.loss, r2.loss);
  // An indefinite Hessian without damping: identity fallback (plain magnitude pruning).
  std::vector<double> bad(cols * cols, 0.0);
  for (int64_t j = 0; j < cols; ++j)
    bad[j * cols + j] = j == 5 ? -1.0 : 1.0;
  SparseGPTOptions noDamp;
  noDamp.percDamp = 0;
  std::vector<float> v3 = w;
  std::vector<uint8_t> k3(w.size());
  SparseGPTResult r3;
  ASSERT_FALSE(bool(sparseGPT(v3, rows, cols, bad, noDamp, k3, r3)));
  EXPECT_TRUE(r3.identityFallback);
  for (size_t i = 0; i < w.size(); ++i)
    EXPECT_EQ(v3[i], k3[i] ? w[i] : 0.0f);
}

TEST(Structured, NeuronAndHeadScores) {
  // FFN: gate/up [4 neurons, 3 in], down [3 out, 4 neurons].
  std::vector<float> gate = {1, 0, 0, 0, 2, 0, 0, 0, 0, 3, 3, 3};
  std::vector<float> up(12, 0.0f);
  std::vector<float> down = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
  auto scores = structuredScores({{gate, 4, 3, true, {}, 1},
                                  {up, 4, 3, true, {}, 1},
                                  {down, 3, 4, false, {}, 1}});
  ASSERT_TRUE(bool(scores));
  EXPECT_EQ(*scores, (std::vector<double>{2, 5, 1, 27}));
  EXPECT_EQ(lowestUnits(*scores, 2), (std::vector<int64_t>{0, 2}));
  // Heads of 2 rows; activation-weighted.
  std::vector<double> sq = {4, 1, 0};
  auto heads = structuredScores({{gate, 4, 3, true, sq, 2}});
  ASSERT_TRUE(bool(heads));
  EXPECT_EQ(*heads, (std::vector<double>{2 + 2, 3 * 2 + 3 * 1}));
  auto mismatch = structuredScores({{gate, 4, 3, true, {}, 1}, {down, 3, 4, true, {}, 1}});
  EXPECT_FALSE(bool(mismatch));
  llvm::consumeError(mismatch.takeError());
}

} // namespace
