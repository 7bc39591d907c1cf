//===- OBS.cpp - Shared core of SparseGPT and GPTQ -------------------------===//
//
// See OBS.h.
//
//===----------------------------------------------------------------------===//

#include "OBS.h"

#include "llvm/Support/Parallel.h"

#include <Eigen/Cholesky>

#include <algorithm>

using namespace sqz::compression::obs;

RowMajor sqz::compression::obs::dampedInverseCholesky(RowMajor &h, double percDamp,
                                                     bool &fallback) {
  int64_t cols = h.rows();
  double damp = percDamp * h.diagonal().mean();
  h.diagonal().array() += damp;
  Eigen::LLT<RowMajor> llt(h);
  fallback = llt.info() != Eigen::Success;
  if (!fallback) {
    RowMajor inverse = llt.solve(RowMajor::Identity(cols, cols));
    Eigen::LLT<RowMajor> lltInverse(inverse);
    fallback = lltInverse.info() != Eigen::Success;
    if (!fallback)
      return lltInverse.matrixU();
  }
  return RowMajor::Identity(cols, cols);
}

void sqz::compression::obs::lazyBlockUpdate(RowMajor &w, const RowMajor &err, const RowMajor &u,
                                           int64_t i1, int64_t i2) {
  constexpr int64_t kChunk = 64;
  int64_t rows = w.rows(), rest = w.cols() - i2, count = i2 - i1;
  if (rest <= 0)
    return;
  llvm::parallelFor(0, (rows + kChunk - 1) / kChunk, [&](size_t chunk) {
    int64_t r0 = static_cast<int64_t>(chunk) * kChunk, nr = std::min(kChunk, rows - r0);
    w.block(r0, i2, nr, rest).noalias() -= err.block(r0, 0, nr, count) * u.block(i1, i2, count, rest);
  });
}
