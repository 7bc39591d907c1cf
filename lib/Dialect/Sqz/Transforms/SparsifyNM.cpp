//===- SparsifyNM.cpp - n:m pruning into the compressed sparse linear -----===//
//
// `sqz-sparsify-nm`: n:m masks (magnitude, Wanda or SparseGPT, lib/Compression) for the
// selected sqz.linear ops, each replaced by an sqz.sparse_linear holding the kept values and
// their packed indices (the layout is SparseLinearOp::Layout, documented on the op).
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
#define GEN_PASS_DEF_SQZSPARSIFYNM
#include "sqz/Dialect/Sqz/Transforms/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;
namespace cmp = ::sqz::compression;

namespace {
struct SqzSparsifyNMPass : public mlir::sqz::impl::SqzSparsifyNMBase<SqzSparsifyNMPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&] { return module.emitError() << "sqz-sparsify-nm: "; };
    int64_t keepN = n, groupM = m, block = blockSize;
    if (groupM < 2 || groupM > 64 || keepN < 1 || keepN >= groupM) {
      emitError() << "n:m needs 1 <= n < m <= 64, got " << keepN << ":" << groupM;
      return signalPassFailure();
    }
    FailureOr<PruneMethod> parsed = parsePruneMethod(method, emitError);
    if (failed(parsed))
      return signalPassFailure();
    PruneMethod kind = *parsed;
    if (tail == "error") {
      tailPolicy = cmp::NMTail::Error;
    } else if (tail == "dense") {
      tailPolicy = cmp::NMTail::KeepDense;
    } else {
      emitError() << "unknown tail policy '" << StringRef(tail)
                  << "' (expected error or dense)";
      return signalPassFailure();
    }
    if (kind == PruneMethod::SparseGPT && (blockSize <= 0 || blockSize % m != 0)) {
      emitError() << "block-size must be a positive multiple of m = " << groupM << ", got "
                  << block;
      return signalPassFailure();
    }
    if (!(damp >= 0.0)) {
      emitError() << "damp must be non-negative, got " << static_cast<double>(damp);
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
      if (failed(sparsify(cast<LinearOp>(layer.op), layer.name, kind, calibration.get())))
        return signalPassFailure();
  }

  LogicalResult sparsify(LinearOp op, StringRef name, PruneMethod kind,
                         const CalibrationStats *calibration) {
    int64_t rows = op.getOutFeatures(), cols = op.getInFeatures();
    auto check = [&](llvm::Error e) -> LogicalResult {
      if (!e)
        return success();
      return op.emitError() << "layer '" << name << "': " << llvm::toString(std::move(e));
    };
    if (cols % m != 0 && tailPolicy == cmp::NMTail::Error)
      return op.emitError() << "layer '" << name << "': " << cols
                            << " input columns do not split into groups of "
                            << static_cast<int64_t>(m)
                            << " (the last group has " << cols % m
                            << "); use tail=dense or exclude the layer (ignore=...)";
    SparseLinearOp::Layout layout{n, m, cols};
    if (layout.groups() == 0)
      return success(); // Fewer than m inputs, all kept by tail=dense: nothing to compress.
    Attribute value;
    if (!matchPattern(op.getWeight(), m_Constant(&value)))
      return op.emitError() << "layer '" << name << "': the weight is not a constant";
    std::string error;
    FailureOr<std::vector<float>> weight = readFloatConstant(value, error);
    if (failed(weight))
      return op.emitError() << "layer '" << name << "': " << error;

    std::vector<uint8_t> keep(rows * cols);
    if (kind == PruneMethod::SparseGPT) {
      FailureOr<std::vector<double>> xtx = calibration->getXtX(op, name, cols);
      if (failed(xtx))
        return failure();
      cmp::SparseGPTOptions options;
      options.n = n;
      options.m = m;
      options.tail = tailPolicy;
      options.blockSize = blockSize;
      options.percDamp = damp;
      cmp::SparseGPTResult result;
      if (failed(check(cmp::sparseGPT(*weight, rows, cols, *xtx, options, keep, result))))
        return failure();
      if (result.identityFallback)
        op.emitWarning() << "layer '" << name
                         << "': the damped Hessian is not positive definite; pruned "
                            "without compensation (raise damp or calibrate on more tokens)";
    } else {
      std::vector<float> scores;
      if (kind == PruneMethod::Magnitude) {
        scores = cmp::magnitudeScores(*weight);
      } else {
        FailureOr<std::vector<double>> sumsq = calibration->getSumSq(op, name, cols);
        if (failed(sumsq))
          return failure();
        scores = cmp::wandaScores(*weight, rows, cols, *sumsq);
      }
      if (failed(check(cmp::selectNM(scores, rows, cols, n, m, tailPolicy, keep))))
        return failure();
    }

    // Pack: per row, the n kept values of each group in column order, then the dense tail;
    // each kept value's position in its group goes into the row's index bits.
    int64_t perRow = layout.valuesPerRow(), rowBytes = layout.indexBytesPerRow();
    int64_t groups = layout.groups();
    std::vector<float> values(rows * perRow);
    std::vector<uint8_t> indices(rows * rowBytes, 0);
    for (int64_t r = 0; r < rows; ++r) {
      const float *w = weight->data() + r * cols;
      const uint8_t *k = keep.data() + r * cols;
      float *v = values.data() + r * perRow;
      uint8_t *bytes = indices.data() + r * rowBytes;
      for (int64_t g = 0; g < groups; ++g) {
        int64_t kept = 0;
        for (int64_t j = 0; j < m; ++j) {
          if (!k[g * m + j])
            continue;
          if (kept == n)
            break;
          v[g * n + kept] = w[g * m + j];
          layout.writeIndex(bytes, g * n + kept, j);
          ++kept;
        }
        if (kept != n)
          return op.emitError() << "layer '" << name << "': internal error: the mask keeps "
                                << kept << " weights of group " << g << " of row " << r
                                << ", expected " << static_cast<int64_t>(n);
      }
      for (int64_t t = 0; t < layout.tail(); ++t)
        v[groups * n + t] = w[groups * m + t];
    }

    Operation *oldConstant = op.getWeight().getDefiningOp();
    std::string key = getResourceKey(value);
    if (key.empty())
      key = getBlobKeyBase(name);
    Type elt = op.getWeight().getType().getElementType();
    OpBuilder builder(oldConstant);
    Location constLoc = oldConstant->getLoc();
    Value valuesConst = arith::ConstantOp::create(
        builder, constLoc,
        cast<TypedAttr>(Attribute(makeFloatResource(
            RankedTensorType::get({rows, perRow}, elt), values, key + ".nm_values"))));
    Value indicesConst = arith::ConstantOp::create(
        builder, constLoc,
        cast<TypedAttr>(Attribute(makeI8Resource(
            RankedTensorType::get({rows, rowBytes}, builder.getI8Type()), indices,
            key + ".nm_indices"))));
    builder.setInsertionPoint(op);
    auto sparse = SparseLinearOp::create(builder, op.getLoc(), op.getResult().getType(),
                                         op.getInput(), valuesConst, indicesConst,
                                         /*scales=*/Value(), /*zeros=*/Value(), op.getBias(),
                                         SparsityAttr::get(op.getContext(), n, m),
                                         /*quant=*/QuantAttr());
    op.getResult().replaceAllUsesWith(sparse.getResult());
    op.erase();
    if (oldConstant->use_empty())
      oldConstant->erase();
    return success();
  }

  cmp::NMTail tailPolicy = cmp::NMTail::Error;
};
} // namespace
