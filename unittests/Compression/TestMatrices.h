//===- TestMatrices.h - Random weights and Gram matrices for the tests ----===//
//
// Shared by PruningTest.cpp and QuantizationTest.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_UNITTESTS_COMPRESSION_TESTMATRICES_H
#define SQZ_UNITTESTS_COMPRESSION_TESTMATRICES_H

#include <cstdint>
#include <random>
#include <vector>

namespace sqz::compression::test {

/// rows x cols standard normal weights (deterministic for a seed).
inline std::vector<float> randomMatrix(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(rows * cols);
  for (float &x : w)
    x = normal(gen);
  return w;
}

/// scale · Σ x xᵀ over the tokens of x [tokens, cols] (XᵀX with scale 1, the reference's
/// Hessian 2XᵀX/n with scale 2/tokens).
inline std::vector<double> gramOf(const std::vector<double> &x, int64_t tokens, int64_t cols,
                                  double scale = 1.0) {
  std::vector<double> h(cols * cols, 0.0);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        h[i * cols + j] += scale * x[t * cols + i] * x[t * cols + j];
  return h;
}

} // namespace sqz::compression::test

#endif // SQZ_UNITTESTS_COMPRESSION_TESTMATRICES_H
