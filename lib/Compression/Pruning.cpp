//===- Pruning.cpp - Pruning math: masks, Wanda, SparseGPT, structured ----===//

#include "sqz/Compression/Pruning.h"

#include "OBS.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Parallel.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace sqz::compression;
using llvm::ArrayRef;
using llvm::MutableArrayRef;

static llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

std::vector<float> sqz::compression::magnitudeScores(ArrayRef<float> weight) {
  std::vector<float> scores(weight.size());
  for (size_t i = 0; i < weight.size(); ++i)
    scores[i] = std::fabs(weight[i]);
  return scores;
}

std::vector<float> sqz::compression::wandaScores(ArrayRef<float> weight, int64_t rows,
                                                 int64_t cols,
                                                 ArrayRef<double> inputSquareSums) {
  std::vector<float> norms(cols);
  for (int64_t j = 0; j < cols; ++j)
    norms[j] = static_cast<float>(std::sqrt(std::max(0.0, inputSquareSums[j])));
  std::vector<float> scores(weight.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      scores[r * cols + j] = std::fabs(weight[r * cols + j]) * norms[j];
  return scores;
}

/// Marks the floor(count * sparsity) lowest of scores[indices] as pruned (ties: lower index
/// first). `indices` is scratch, reordered.
static void pruneLowest(ArrayRef<float> scores, std::vector<int64_t> &indices, double sparsity,
                        MutableArrayRef<uint8_t> keep) {
  int64_t k = static_cast<int64_t>(std::floor(static_cast<double>(indices.size()) * sparsity));
  for (int64_t i : indices)
    keep[i] = 1;
  if (k <= 0)
    return;
  auto lower = [&](int64_t a, int64_t b) {
    return scores[a] != scores[b] ? scores[a] < scores[b] : a < b;
  };
  if (k < static_cast<int64_t>(indices.size()))
    std::nth_element(indices.begin(), indices.begin() + (k - 1), indices.end(), lower);
  // nth_element leaves the k lowest (under the total order `lower`) in front.
  for (int64_t i = 0; i < k; ++i)
    keep[indices[i]] = 0;
}

llvm::Error sqz::compression::selectUnstructured(ArrayRef<float> scores, int64_t rows,
                                                 int64_t cols, double sparsity,
                                                 Granularity granularity,
                                                 MutableArrayRef<uint8_t> keep) {
  if (!(sparsity >= 0.0 && sparsity <= 1.0))
    return makeError(llvm::formatv("sparsity must be in [0, 1], got {0}", sparsity));
  if (static_cast<int64_t>(scores.size()) != rows * cols ||
      static_cast<int64_t>(keep.size()) != rows * cols)
    return makeError("scores and mask must have rows * cols entries");
  if (granularity == Granularity::Layer) {
    std::vector<int64_t> indices(rows * cols);
    std::iota(indices.begin(), indices.end(), 0);
    pruneLowest(scores, indices, sparsity, keep);
    return llvm::Error::success();
  }
  llvm::parallelFor(0, rows, [&](size_t r) {
    std::vector<int64_t> indices(cols);
    std::iota(indices.begin(), indices.end(), static_cast<int64_t>(r) * cols);
    pruneLowest(scores, indices, sparsity, keep);
  });
  return llvm::Error::success();
}

static llvm::Error checkNM(int64_t cols, int64_t n, int64_t m, NMTail tail) {
  if (n <= 0 || m <= 1 || n >= m)
    return makeError(llvm::formatv("n:m needs 0 < n < m, got {0}:{1}", n, m));
  if (cols % m != 0 && tail == NMTail::Error)
    return makeError(llvm::formatv("{0} input columns do not split into groups of {1} (the "
                                   "last group has {2}); keep the tail dense explicitly or "
                                   "exclude the layer",
                                   cols, m, cols % m));
  return llvm::Error::success();
}

/// Keeps the n highest of scores[begin, begin + m) (ties: the lower index is pruned).
static void selectGroup(const float *scores, int64_t begin, int64_t m, int64_t n,
                        uint8_t *keep) {
  int64_t order[64];
  int64_t count = std::min<int64_t>(m, 64);
  for (int64_t i = 0; i < count; ++i)
    order[i] = i;
  std::sort(order, order + count, [&](int64_t a, int64_t b) {
    float sa = scores[begin + a], sb = scores[begin + b];
    return sa != sb ? sa < sb : a < b;
  });
  for (int64_t i = 0; i < count; ++i)
    keep[begin + order[i]] = i >= count - n;
}

llvm::Error sqz::compression::selectNM(ArrayRef<float> scores, int64_t rows, int64_t cols,
                                       int64_t n, int64_t m, NMTail tail,
                                       MutableArrayRef<uint8_t> keep) {
  if (llvm::Error e = checkNM(cols, n, m, tail))
    return e;
  if (m > 64)
    return makeError(llvm::formatv("n:m groups of more than 64 are not supported, got {0}", m));
  llvm::parallelFor(0, rows, [&](size_t r) {
    const float *row = scores.data() + r * cols;
    uint8_t *k = keep.data() + r * cols;
    int64_t j = 0;
    for (; j + m <= cols; j += m)
      selectGroup(row, j, m, n, k);
    for (; j < cols; ++j)
      k[j] = 1; // the dense tail
  });
  return llvm::Error::success();
}

void sqz::compression::applyMask(MutableArrayRef<float> weight, ArrayRef<uint8_t> keep) {
  for (size_t i = 0; i < weight.size(); ++i)
    if (!keep[i])
      weight[i] = 0.0f;
}

llvm::Error sqz::compression::sparseGPT(MutableArrayRef<float> weight, int64_t rows,
                                        int64_t cols, ArrayRef<double> hessian,
                                        const SparseGPTOptions &options,
                                        MutableArrayRef<uint8_t> keep,
                                        SparseGPTResult &result) {
  result = SparseGPTResult();
  bool nm = options.n > 0;
  if (static_cast<int64_t>(weight.size()) != rows * cols ||
      static_cast<int64_t>(keep.size()) != rows * cols)
    return makeError("weight and mask must have rows * cols entries");
  if (static_cast<int64_t>(hessian.size()) != cols * cols)
    return makeError(llvm::formatv("the Hessian must be [{0}, {0}]", cols));
  if (options.blockSize <= 0)
    return makeError("the block size must be positive");
  if (nm) {
    if (llvm::Error e = checkNM(cols, options.n, options.m, options.tail))
      return e;
    if (options.blockSize % options.m != 0)
      return makeError(llvm::formatv("the block size {0} must be a multiple of m = {1}",
                                     options.blockSize, options.m));
    if (options.m > 64)
      return makeError("n:m groups of more than 64 are not supported");
  } else if (!(options.sparsity >= 0.0 && options.sparsity <= 1.0)) {
    return makeError(llvm::formatv("sparsity must be in [0, 1], got {0}", options.sparsity));
  }
  if (!(options.percDamp >= 0.0))
    return makeError("the damping must not be negative");

  using obs::RowMajor;
  RowMajor h = Eigen::Map<const RowMajor>(hessian.data(), cols, cols);
  // Dead inputs: nothing to compensate with; their weights go.
  for (int64_t j = 0; j < cols; ++j) {
    if (h(j, j) != 0.0)
      continue;
    ++result.deadColumns;
    h(j, j) = 1.0;
    for (int64_t r = 0; r < rows; ++r)
      weight[r * cols + j] = 0.0f;
  }
  // U upper with H⁻¹ = UᵀU: the Cholesky factor of the damped inverse (identity on failure).
  RowMajor u = obs::dampedInverseCholesky(h, options.percDamp, result.identityFallback);

  // The weights are updated in double; each row's arithmetic has a fixed order (and the lazy
  // block updates run on fixed 64-row chunks), so the result does not depend on the threads.
  RowMajor wd = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic,
                                               Eigen::RowMajor>>(weight.data(), rows, cols)
                    .cast<double>();
  std::vector<double> rowLoss(rows, 0.0);
  RowMajor err(rows, options.blockSize);
  for (int64_t i1 = 0; i1 < cols; i1 += options.blockSize) {
    int64_t i2 = std::min(i1 + options.blockSize, cols), count = i2 - i1;
    // The unstructured mask of the block, on the weights updated so far.
    if (!nm) {
      std::vector<float> scores(rows * count);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < count; ++i) {
          double w = wd(r, i1 + i), d = u(i1 + i, i1 + i);
          scores[r * count + i] = static_cast<float>(w * w / (d * d));
        }
      std::vector<uint8_t> blockKeep(rows * count);
      std::vector<int64_t> indices(rows * count);
      std::iota(indices.begin(), indices.end(), 0);
      pruneLowest(scores, indices, options.sparsity, blockKeep);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < count; ++i)
          keep[r * cols + i1 + i] = blockKeep[r * count + i];
    }
    llvm::parallelFor(0, rows, [&](size_t r) {
      double *w1 = &wd(r, i1);
      uint8_t *k = keep.data() + r * cols;
      double loss = 0;
      for (int64_t i = 0; i < count; ++i) {
        int64_t c = i1 + i;
        if (nm && c % options.m == 0) {
          if (c + options.m <= cols) {
            float scores[64];
            for (int64_t g = 0; g < options.m; ++g) {
              double d = u(c + g, c + g);
              scores[g] = static_cast<float>(w1[i + g] * w1[i + g] / (d * d));
            }
            selectGroup(scores, 0, options.m, options.n, k + c);
          } else {
            for (int64_t g = c; g < cols; ++g)
              k[g] = 1; // the dense tail
          }
        }
        double d = u(c, c), w = w1[i], q = k[c] ? w : 0.0;
        loss += (w - q) * (w - q) / (d * d) / 2;
        double e = (w - q) / d;
        const double *uRow = &u(c, i1);
        for (int64_t j = i; j < count; ++j)
          w1[j] -= e * uRow[j];
        w1[i] = q;
        err(r, i) = e;
      }
      rowLoss[r] += loss;
    });
    // The lazy update of the columns after the block: W[:, i2:] -= Err · U[i1:i2, i2:].
    obs::lazyBlockUpdate(wd, err, u, i1, i2);
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      weight[r * cols + c] = static_cast<float>(wd(r, c));
  for (double loss : rowLoss)
    result.loss += loss;
  // Pruned weights are exactly zero (q = 0 was stored), kept ones carry the update.
  return llvm::Error::success();
}

llvm::Expected<std::vector<double>>
sqz::compression::structuredScores(ArrayRef<UnitSlice> slices) {
  if (slices.empty())
    return makeError("structured scores need at least one weight");
  int64_t units = -1;
  for (const UnitSlice &s : slices) {
    int64_t extent = s.unitIsRow ? s.rows : s.cols;
    if (s.unitWidth <= 0 || extent % s.unitWidth != 0)
      return makeError(llvm::formatv("a unit of {0} does not divide the {1} {2}", s.unitWidth,
                                     extent, s.unitIsRow ? "rows" : "columns"));
    if (static_cast<int64_t>(s.weight.size()) != s.rows * s.cols)
      return makeError("a weight's size does not match its shape");
    if (!s.inputSquareSums.empty() && static_cast<int64_t>(s.inputSquareSums.size()) != s.cols)
      return makeError("inputSquareSums must have one entry per input column");
    int64_t n = extent / s.unitWidth;
    if (units >= 0 && n != units)
      return makeError(llvm::formatv("the weights disagree on the number of units ({0} vs {1})",
                                     units, n));
    units = n;
  }
  std::vector<double> scores(units, 0.0);
  for (const UnitSlice &s : slices) {
    std::vector<double> norm(s.cols, 1.0);
    bool activation = !s.inputSquareSums.empty();
    if (activation)
      for (int64_t j = 0; j < s.cols; ++j)
        norm[j] = std::sqrt(std::max(0.0, s.inputSquareSums[j]));
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t j = 0; j < s.cols; ++j) {
        double w = s.weight[r * s.cols + j];
        int64_t unit = (s.unitIsRow ? r : j) / s.unitWidth;
        scores[unit] += activation ? std::fabs(w) * norm[j] : w * w;
      }
  }
  return scores;
}

std::vector<int64_t> sqz::compression::lowestUnits(ArrayRef<double> scores, int64_t count) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return scores[a] != scores[b] ? scores[a] < scores[b] : a < b;
  });
  order.resize(std::clamp<int64_t>(count, 0, static_cast<int64_t>(order.size())));
  std::sort(order.begin(), order.end());
  return order;
}
