//===- TileContractions.cpp - Cache blocking of (m, k, n) contractions ----===//
//
// `sqz-cpu-tile-contractions`: tiles the (m, k, n) linear contractions into weight blocks that
// stay in cache while every row m uses them.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZCPUTILECONTRACTIONS
#include "sqz/Target/CPU/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;

namespace {
/// Loops (parallel, reduction, parallel) with a single result: y[m, n] += ...
static bool isMKNContraction(linalg::GenericOp op) {
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  return op.getNumDpsInits() == 1 && iters.size() == 3 &&
         iters[0] == utils::IteratorType::parallel &&
         iters[1] == utils::IteratorType::reduction &&
         iters[2] == utils::IteratorType::parallel && op.hasPureTensorSemantics();
}

struct SqzCPUTileContractionsPass
    : public mlir::sqz::impl::SqzCPUTileContractionsBase<
          SqzCPUTileContractionsPass> {
  using Base::Base;
  void runOnOperation() override {
    if (tileK <= 0 || tileN <= 0) {
      getOperation().emitError() << "sqz-cpu-tile-contractions: tile sizes "
                                    "must be positive";
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> candidates;
    getOperation().walk([&](linalg::GenericOp op) {
      if (isMKNContraction(op))
        candidates.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : candidates) {
      SmallVector<int64_t> bounds = op.getStaticLoopRanges();
      // Nothing to gain on blocks that already fit.
      if (!ShapedType::isDynamic(bounds[1]) && !ShapedType::isDynamic(bounds[2]) &&
          bounds[1] <= tileK && bounds[2] <= tileN)
        continue;
      scf::SCFTilingOptions options;
      options.setTileSizes({rewriter.getIndexAttr(0),
                            rewriter.getIndexAttr(tileK),
                            rewriter.getIndexAttr(tileN)});
      options.setReductionDims({1});
      // n-block loop outermost: an output block is finished before the next.
      options.setInterchange({0, 2, 1});
      rewriter.setInsertionPoint(op);
      FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
          rewriter, cast<TilingInterface>(op.getOperation()), options);
      if (failed(tiled)) {
        op.emitError() << "sqz-cpu-tile-contractions: tiling failed";
        return signalPassFailure();
      }
      rewriter.replaceOp(op, tiled->replacements);
    }
  }
};
} // namespace
