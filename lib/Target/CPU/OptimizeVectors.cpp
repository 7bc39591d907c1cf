//===- OptimizeVectors.cpp - Accumulators of register tiles in registers --===//
//
// `sqz-cpu-optimize-vectors` (after bufferization): folds memref.subview into the vector
// transfers (upstream hoisting refuses transfers on views), CSE and loop-invariant code
// motion (so a tile's read and write use the same index values), then the upstream hoisting
// of redundant vector.transfer_read/transfer_write pairs, which turns the accumulator of each
// vectorized register tile into a loop-carried value of its k loop. Last, each vector
// `acc + a * b` whose multiply sqz-cpu-tile-contractions marked `contract` becomes a
// vector.fma.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/Transforms/Hoisting.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/IR/Dominance.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZCPUOPTIMIZEVECTORS
#include "sqz/Target/CPU/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;

namespace {
struct SqzCPUOptimizeVectorsPass
    : public mlir::sqz::impl::SqzCPUOptimizeVectorsBase<
          SqzCPUOptimizeVectorsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    memref::populateFoldMemRefAliasOpPatterns(patterns);
    // Not converging only leaves some views unfolded (those transfers stay in the loop).
    (void)applyPatternsGreedily(getOperation(), std::move(patterns));
    IRRewriter rewriter(&getContext());
    DominanceInfo dom(getOperation());
    eliminateCommonSubExpressions(rewriter, dom, getOperation());
    getOperation()->walk(
        [](LoopLikeOpInterface loop) { moveLoopInvariantCode(loop); });
    // verifyNonZeroTrip: the k loops of a tile may be inside an scf.forall.
    linalg::hoistRedundantVectorTransfers(getOperation(),
                                          /*verifyNonZeroTrip=*/true);
    formFMAs(rewriter);
  }

  /// acc + shape_cast?(a * b) -> fma(shape_cast?(a), shape_cast?(b), acc) on vectors, for
  /// multiplies that allow contraction.
  void formFMAs(IRRewriter &rewriter) {
    SmallVector<arith::AddFOp> adds;
    getOperation()->walk([&](arith::AddFOp add) {
      if (isa<VectorType>(add.getType()))
        adds.push_back(add);
    });
    for (arith::AddFOp add : adds) {
      for (unsigned i = 0; i < 2; ++i) {
        Value prod = add->getOperand(i), acc = add->getOperand(1 - i);
        auto shapeCast = prod.getDefiningOp<vector::ShapeCastOp>();
        if (shapeCast && shapeCast->hasOneUse())
          prod = shapeCast.getSource();
        auto mul = prod.getDefiningOp<arith::MulFOp>();
        if (!mul || !mul->hasOneUse() ||
            !bitEnumContainsAll(mul.getFastmath(), arith::FastMathFlags::contract))
          continue;
        rewriter.setInsertionPoint(add);
        auto type = cast<VectorType>(add.getType());
        auto reshape = [&](Value v) -> Value {
          if (v.getType() == type)
            return v;
          return vector::ShapeCastOp::create(rewriter, add.getLoc(), type, v);
        };
        Value fma = vector::FMAOp::create(rewriter, add.getLoc(), reshape(mul.getLhs()),
                                          reshape(mul.getRhs()), acc);
        rewriter.replaceOp(add, fma);
        break;
      }
    }
  }
};
} // namespace
