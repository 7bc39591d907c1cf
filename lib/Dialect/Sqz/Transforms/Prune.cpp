//===- Prune.cpp - Unstructured pruning of linears ------------------------===//
//
// `sqz-prune`: magnitude, Wanda or SparseGPT pruning of the selected sqz.linear weights, by
// the numeric core in lib/Compression (Pruning.h). The weight constant is replaced by a new
// dense_resource constant with the pruned (for SparseGPT, compensated) values.
//
//===----------------------------------------------------------------------===//

#include "CompressionSupport.h"
#include "LayerSelection.h"

#include "sqz/Compression/Pruning.h"
#include "sqz/Dialect/Sqz/IR/SqzDialect.h"
#include "sqz/Dialect/Sqz/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZPRUNE
#include "sqz/Dialect/Sqz/Transforms/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;
namespace cmp = ::sqz::compression;

/// Whether every aligned group of m weights of each row has at most n nonzeros.
static bool satisfiesNM(ArrayRef<float> weight, int64_t rows, int64_t cols, int64_t n,
                        int64_t m) {
  if (cols % m != 0)
    return false;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < cols; g += m) {
      int64_t nnz = 0;
      for (int64_t j = 0; j < m; ++j)
        nnz += weight[r * cols + g + j] != 0.0f;
      if (nnz > n)
        return false;
    }
  return true;
}

namespace {
struct SqzPrunePass : public mlir::sqz::impl::SqzPruneBase<SqzPrunePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&] { return module.emitError() << "sqz-prune: "; };
    FailureOr<PruneMethod> parsed = parsePruneMethod(method, emitError);
    if (failed(parsed))
      return signalPassFailure();
    PruneMethod kind = *parsed;
    if (!(sparsity >= 0.0 && sparsity < 1.0)) {
      emitError() << "sparsity must be in [0, 1), got " << static_cast<double>(sparsity);
      return signalPassFailure();
    }
    cmp::Granularity group;
    if (granularity == "row") {
      group = cmp::Granularity::Row;
    } else if (granularity == "layer") {
      group = cmp::Granularity::Layer;
    } else {
      emitError() << "unknown granularity '" << StringRef(granularity)
                  << "' (expected row or layer)";
      return signalPassFailure();
    }
    if (kind == PruneMethod::SparseGPT && group != cmp::Granularity::Row) {
      emitError() << "granularity does not apply to sparsegpt: its mask is chosen per block "
                     "of block-size columns over all rows";
      return signalPassFailure();
    }
    if (blockSize <= 0 || !(damp >= 0.0)) {
      emitError() << "block-size must be positive and damp non-negative, got "
                  << static_cast<int64_t>(blockSize) << " and " << static_cast<double>(damp);
      return signalPassFailure();
    }
    if (failed(checkMethodHasStats(kind, method, stats, emitError)))
      return signalPassFailure();
    FailureOr<CompressionTargets> selected =
        selectCompressionTargets(module, targets, ignore, stats, emitError);
    if (failed(selected))
      return signalPassFailure();
    std::unique_ptr<CalibrationStats> &calibration = selected->stats;
    SmallVector<SelectedLayer> &layers = selected->layers;
    for (const SelectedLayer &layer : layers)
      if (failed(prune(cast<LinearOp>(layer.op), layer.name, kind, group,
                       calibration.get())))
        return signalPassFailure();
  }

  LogicalResult prune(LinearOp op, StringRef name, PruneMethod kind, cmp::Granularity group,
                      const CalibrationStats *calibration) {
    int64_t rows = op.getOutFeatures(), cols = op.getInFeatures();
    Attribute value;
    if (!matchPattern(op.getWeight(), m_Constant(&value)))
      return op.emitError() << "layer '" << name << "': the weight is not a constant";
    std::string error;
    FailureOr<std::vector<float>> weight = readFloatConstant(value, error);
    if (failed(weight))
      return op.emitError() << "layer '" << name << "': " << error;
    std::vector<uint8_t> keep(rows * cols);
    auto check = [&](llvm::Error e) -> LogicalResult {
      if (!e)
        return success();
      return op.emitError() << "layer '" << name << "': " << llvm::toString(std::move(e));
    };
    switch (kind) {
    case PruneMethod::Magnitude:
    case PruneMethod::Wanda: {
      std::vector<float> scores;
      if (kind == PruneMethod::Magnitude) {
        scores = cmp::magnitudeScores(*weight);
      } else {
        FailureOr<std::vector<double>> sumsq = calibration->getSumSq(op, name, cols);
        if (failed(sumsq))
          return failure();
        scores = cmp::wandaScores(*weight, rows, cols, *sumsq);
      }
      if (failed(check(cmp::selectUnstructured(scores, rows, cols, sparsity, group, keep))))
        return failure();
      cmp::applyMask(*weight, keep);
      break;
    }
    case PruneMethod::SparseGPT: {
      FailureOr<std::vector<double>> xtx = calibration->getXtX(op, name, cols);
      if (failed(xtx))
        return failure();
      cmp::SparseGPTOptions options;
      options.sparsity = sparsity;
      options.blockSize = blockSize;
      options.percDamp = damp;
      cmp::SparseGPTResult result;
      if (failed(check(cmp::sparseGPT(*weight, rows, cols, *xtx, options, keep, result))))
        return failure();
      if (result.identityFallback)
        op.emitWarning() << "layer '" << name
                         << "': the damped Hessian is not positive definite; pruned "
                            "without compensation (raise damp or calibrate on more tokens)";
      break;
    }
    }

    // The new constant replaces the old one for this linear (others may still share it).
    Operation *oldConstant = op.getWeight().getDefiningOp();
    std::string key = getResourceKey(value);
    OpBuilder builder(oldConstant);
    auto type = cast<RankedTensorType>(op.getWeight().getType());
    Value pruned = arith::ConstantOp::create(
        builder, oldConstant->getLoc(),
        cast<TypedAttr>(Attribute(makeFloatResource(
            type, *weight, (key.empty() ? getBlobKeyBase(name) : key) + ".pruned"))));
    op.getWeightMutable().assign(pruned);
    if (oldConstant->use_empty())
      oldConstant->erase();
    if (std::optional<SparsityAttr> pattern = op.getSparsity())
      if (!satisfiesNM(*weight, rows, cols, pattern->getN(), pattern->getM()))
        op.removeSparsityAttr();
    return success();
  }
};
} // namespace
