//===- Pruning.h - Pruning math: masks, Wanda, SparseGPT, structured -*- C++ -*-===//
//
// The numeric core of the pruning passes, in plain C++ on row-major float matrices: a linear's
// weight is [rows = outputs, cols = inputs] (sqz.linear's layout), the reduction runs along
// the columns. Everything is deterministic: the same inputs give the same bits, whatever the
// thread count (rows are independent and each row's arithmetic has a fixed order), and ties
// are broken by position (the lower index is pruned first).
//
// Conventions (../shared/research/compression.md §2, §6, §8; where the reference code
// differs, we say so):
// - A keep mask holds 1 for a kept weight and 0 for a pruned one.
// - Unstructured selection prunes exactly floor(count * sparsity) entries of each comparison
//   group (a row, or the whole matrix). The references compare with `<=` a threshold and so
//   prune one more when there are no ties; we prune the exact count.
// - n:m keeps at most n of every m consecutive weights along a row (#sqz.sparsity<n:m>), in
//   groups starting at column multiples of m. A trailing partial group (cols % m != 0) is an
//   error unless the caller asks to keep it dense.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_COMPRESSION_PRUNING_H
#define SQZ_COMPRESSION_PRUNING_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace sqz::compression {

/// Which entries compete for pruning in unstructured selection.
enum class Granularity {
  Row,   ///< each output row separately (Wanda's comparison group)
  Layer, ///< the whole matrix (global magnitude pruning)
};

/// What n:m selection does with a trailing group of fewer than m columns.
enum class NMTail {
  Error,     ///< refuse (the default: the pattern does not fit)
  KeepDense, ///< leave the tail's weights unpruned
};

/// |w|.
std::vector<float> magnitudeScores(llvm::ArrayRef<float> weight);

/// Wanda: |W_ij| * sqrt(inputSquareSums[j]), where inputSquareSums[j] = Σ x_j² over the
/// calibration tokens (only ratios between columns matter, so a mean works as well).
std::vector<float> wandaScores(llvm::ArrayRef<float> weight, int64_t rows, int64_t cols,
                               llvm::ArrayRef<double> inputSquareSums);

/// Keeps the highest scores: prunes exactly floor(groupSize * sparsity) per group.
/// sparsity must be in [0, 1].
llvm::Error selectUnstructured(llvm::ArrayRef<float> scores, int64_t rows, int64_t cols,
                               double sparsity, Granularity granularity,
                               llvm::MutableArrayRef<uint8_t> keep);

/// Keeps the n highest scores of every row's aligned group of m columns (0 < n < m).
llvm::Error selectNM(llvm::ArrayRef<float> scores, int64_t rows, int64_t cols, int64_t n,
                     int64_t m, NMTail tail, llvm::MutableArrayRef<uint8_t> keep);

/// Zeroes the weights the mask prunes.
void applyMask(llvm::MutableArrayRef<float> weight, llvm::ArrayRef<uint8_t> keep);

struct SparseGPTOptions {
  double sparsity = 0.5; ///< unstructured (per rows x blockSize block), when n == 0
  int64_t n = 0, m = 0;  ///< n:m (keep n of m) instead, when n > 0
  NMTail tail = NMTail::Error;
  int64_t blockSize = 128; ///< lazy-update block; a multiple of m for n:m
  double percDamp = 0.01;  ///< H += percDamp * mean(diag H) * I
};

struct SparseGPTResult {
  int64_t deadColumns = 0;       ///< columns with H_jj = 0 (zeroed in W)
  bool identityFallback = false; ///< Cholesky failed even after damping: no compensation
  double loss = 0;               ///< Σ (w - q)² / [H⁻¹]_cc² / 2, the OBS error estimate
};

/// SparseGPT (Frantar & Alistarh 2023) on `weight` [rows, cols] in place: the pruned
/// weights become 0 and the kept ones absorb the compensation. `hessian` is [cols, cols],
/// row-major, e.g. (2/N) Σ x xᵀ over the calibration tokens (only its shape matters, not its
/// scale). Per block of blockSize columns, the mask is chosen on the already-updated weights
/// (the adaptive mask); dead columns (H_jj = 0) get H_jj = 1 and are zeroed; if the damped
/// Hessian is not positive definite, H⁻¹ falls back to the identity (magnitude pruning without
/// updates) and the result says so.
llvm::Error sparseGPT(llvm::MutableArrayRef<float> weight, int64_t rows, int64_t cols,
                      llvm::ArrayRef<double> hessian, const SparseGPTOptions &options,
                      llvm::MutableArrayRef<uint8_t> keep, SparseGPTResult &result);

/// A weight matrix [rows, cols] and which of its axes indexes the structural unit.
struct UnitSlice {
  llvm::ArrayRef<float> weight;
  int64_t rows = 0, cols = 0;
  bool unitIsRow = true; ///< producer (gate/up, q/k/v): a row per unit; consumer: a column
  /// For activation-weighted scores: Σ x² of each input column of this matrix (its cols),
  /// or empty for plain L2.
  llvm::ArrayRef<double> inputSquareSums;
  /// Units may span several consecutive rows/columns (an attention head: head_dim rows).
  int64_t unitWidth = 1;
};

/// Importance of each structural unit (an FFN neuron, an attention head), summed over the
/// slices that make it up: Σ W² over its rows/columns (L2), or with inputSquareSums the
/// Wanda-style Σ |W_ij| sqrt(Σ x_j²). Every slice must have the same number of units.
llvm::Expected<std::vector<double>> structuredScores(llvm::ArrayRef<UnitSlice> slices);

/// The `count` lowest-scored units (ties: lower index first), in increasing index order.
std::vector<int64_t> lowestUnits(llvm::ArrayRef<double> scores, int64_t count);

} // namespace sqz::compression

#endif // SQZ_COMPRESSION_PRUNING_H
