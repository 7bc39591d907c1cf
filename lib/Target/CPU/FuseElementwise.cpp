//===- FuseElementwise.cpp - Elementwise fusion that spares reductions ----===//
//
// `sqz-cpu-fuse-elementwise`: upstream elementwise fusion with a control that keeps producers
// out of consumers with reduction loops (where they would be recomputed per iteration).
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZCPUFUSEELEMENTWISE
#include "sqz/Target/CPU/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;

namespace {
struct SqzCPUFuseElementwisePass
    : public mlir::sqz::impl::SqzCPUFuseElementwiseBase<
          SqzCPUFuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg::ControlFusionFn control = [](OpOperand *fused) {
      auto consumer = dyn_cast<linalg::LinalgOp>(fused->getOwner());
      return consumer && consumer.getNumReductionLoops() == 0;
    };
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
