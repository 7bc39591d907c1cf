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
// Upstream refuses a pair whose buffer has a view-like user anywhere (e.g. the
// memref.expand_shape that reshapes the 2-D result of a collapsed [1, S, d] x [d, N] linear
// back to 3-D). Such pairs on a local allocation, which nothing else can alias, are hoisted
// here when nothing else in the loop touches that allocation.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/Transforms/Hoisting.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
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
    while (hoistLocalAccumulator(rewriter)) {
    }
    formFMAs(rewriter);
  }

  /// The buffer `v` is a view of (through view-like ops).
  static Value rootBuffer(Value v) {
    while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
      v = view.getViewSource();
    return v;
  }

  /// Hoists one read/write pair of an scf.for body out of the loop: both directly in the
  /// body, the read first, same buffer, indices (defined outside the loop), vector type,
  /// permutation map and in-bounds flags, no mask, the buffer a view of a memref.alloc
  /// and no other op in the loop using a view of that allocation. Then iteration i reads
  /// what iteration i - 1 wrote, so the value can be carried in registers. Returns whether
  /// a pair was hoisted.
  bool hoistLocalAccumulator(IRRewriter &rewriter) {
    vector::TransferReadOp read;
    vector::TransferWriteOp write;
    scf::ForOp loop;
    getOperation()->walk([&](scf::ForOp forOp) {
      for (Operation &op : *forOp.getBody()) {
        auto w = dyn_cast<vector::TransferWriteOp>(&op);
        if (!w || w.getMask() || !isa<MemRefType>(w.getBase().getType()))
          continue;
        Value root = rootBuffer(w.getBase());
        if (!root.getDefiningOp<memref::AllocOp>() ||
            !llvm::all_of(w.getIndices(),
                          [&](Value i) { return forOp.isDefinedOutsideOfLoop(i); }) ||
            !forOp.isDefinedOutsideOfLoop(w.getBase()))
          continue;
        vector::TransferReadOp r;
        for (Operation &prev : *forOp.getBody()) {
          if (&prev == w.getOperation())
            break;
          auto candidate = dyn_cast<vector::TransferReadOp>(&prev);
          if (candidate && !candidate.getMask() && candidate.getBase() == w.getBase() &&
              candidate.getIndices() == w.getIndices() &&
              candidate.getVectorType() == w.getVectorType() &&
              candidate.getPermutationMap() == w.getPermutationMap() &&
              candidate.getInBounds() == w.getInBounds())
            r = candidate;
        }
        if (!r)
          continue;
        // Nothing else in the loop may read or write the allocation.
        bool alone = true;
        forOp.getBody()->walk([&](Operation *inner) {
          if (inner == r.getOperation() || inner == w.getOperation())
            return;
          for (Value operand : inner->getOperands())
            if (isa<MemRefType>(operand.getType()) && rootBuffer(operand) == root)
              alone = false;
        });
        if (!alone)
          continue;
        read = r;
        write = w;
        loop = forOp;
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (!loop)
      return false;
    rewriter.moveOpBefore(read, loop);
    rewriter.moveOpAfter(write, loop);
    NewYieldValuesFn yieldFn = [&](OpBuilder &, Location, ArrayRef<BlockArgument>) {
      return SmallVector<Value>{write.getVector()};
    };
    FailureOr<LoopLikeOpInterface> newLoop = loop.replaceWithAdditionalYields(
        rewriter, read.getVector(), /*replaceInitOperandUsesInLoop=*/true, yieldFn);
    if (failed(newLoop))
      return false;
    write.getValueToStoreMutable().assign(newLoop->getOperation()->getResults().back());
    return true;
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
