//===- TileContractions.cpp - Parallel, cache and register tiling ---------===//
//
// `sqz-cpu-tile-contractions`: turns each (m, k, n) linear contraction into
//   scf.forall (m, n) parallel blocks            -> one OpenMP task each
//     scf.for k blocks                            -> the weight block stays in cache
//       scf.for m, scf.for n register tiles       -> mr x nr accumulators
//         scf.for k (step 1)                      -> one rank-1 update per step
//           (mr x 1) * (1 x nr) + acc, vectorized -> mr broadcast FMAs on nr lanes
// Tile sizes are divisors of the static loop bounds, so every tile is static and vectorizes
// without masks or remainder loops.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
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

/// The largest divisor of `n` that is at most `cap` (at least 1).
static int64_t largestDivisorAtMost(int64_t n, int64_t cap) {
  for (int64_t d = std::min(n, cap); d > 1; --d)
    if (n % d == 0)
      return d;
  return 1;
}

/// Tile sizes of one contraction with static bounds (m, k, n).
struct TilePlan {
  int64_t mp, np; // parallel block (one task)
  int64_t kc;     // cache block along k
  int64_t mr, nr; // register tile
  bool parallel;
};

static TilePlan planTiles(ArrayRef<int64_t> b, int64_t vectorWidth,
                          int64_t tileK, int64_t tileN, int64_t minParallelWork) {
  int64_t m = b[0], k = b[1], n = b[2];
  TilePlan p;
  // Register tile: mr rows by nr lanes of accumulators, as many as the register file holds
  // next to the B vectors and the broadcast (32 vector registers with AVX-512, 16 with AVX2).
  // Few rows (a GEMV) get wide rows instead, so each k step reads a long contiguous run of
  // the weight.
  int64_t vw = std::max<int64_t>(vectorWidth, 1);
  int64_t accRegs = vw >= 16 ? 16 : 12;
  p.mr = largestDivisorAtMost(m, vw >= 16 ? 8 : 6);
  int64_t nrMax = std::max<int64_t>(accRegs / p.mr, 2) * vw;
  if (n % vw == 0)
    p.nr = vw * largestDivisorAtMost(n / vw, nrMax / vw);
  else
    p.nr = largestDivisorAtMost(n, nrMax);
  // Parallel block: whole multiples of the register tile.
  p.np = p.nr * largestDivisorAtMost(n / p.nr, std::max<int64_t>(tileN / p.nr, 1));

  p.mp = p.mr * largestDivisorAtMost(m / p.mr, std::max<int64_t>(256 / p.mr, 1));
  p.kc = largestDivisorAtMost(k, tileK);
  int64_t tasks = (m / p.mp) * (n / p.np);
  p.parallel = tasks > 1 && m * k * n >= minParallelWork;
  return p;
}

struct SqzCPUTileContractionsPass
    : public mlir::sqz::impl::SqzCPUTileContractionsBase<
          SqzCPUTileContractionsPass> {
  using Base::Base;

  /// Tiles `op` with `sizes` (0 = untiled) and returns the tiled op, or null on failure.
  linalg::GenericOp tile(IRRewriter &rewriter, linalg::GenericOp op,
                         ArrayRef<int64_t> sizes, bool forall) {
    scf::SCFTilingOptions options;
    SmallVector<OpFoldResult> ofr;
    for (int64_t s : sizes)
      ofr.push_back(rewriter.getIndexAttr(s));
    options.setTileSizes(ofr);
    if (sizes[1] != 0)
      options.setReductionDims({1});
    if (forall)
      options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
    rewriter.setInsertionPoint(op);
    FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
        rewriter, cast<TilingInterface>(op.getOperation()), options);
    if (failed(tiled) || tiled->tiledOps.size() != 1)
      return nullptr;
    rewriter.replaceOp(op, tiled->replacements);
    return dyn_cast<linalg::GenericOp>(tiled->tiledOps.front());
  }

  void runOnOperation() override {
    if (tileK <= 0 || tileN <= 0 || vectorWidth <= 0) {
      getOperation().emitError() << "sqz-cpu-tile-contractions: tile sizes "
                                    "and the vector width must be positive";
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> candidates;
    getOperation().walk([&](linalg::GenericOp op) {
      if (isMKNContraction(op) &&
          llvm::none_of(op.getStaticLoopRanges(), ShapedType::isDynamic))
        candidates.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : candidates) {
      Location loc = op.getLoc();
      SmallVector<int64_t> b = op.getStaticLoopRanges();
      TilePlan p = planTiles(b, vectorWidth, tileK, tileN, minParallelWork);
      // The (m, n) blocks: in parallel when worth it, else a sequential cache blocking.
      if (p.mp < b[0] || p.np < b[2]) {
        op = tile(rewriter, op, {p.mp, 0, p.np}, /*forall=*/p.parallel && parallel);
        if (!op)
          return fail(loc);
      }
      if (p.kc < b[1]) {
        op = tile(rewriter, op, {0, p.kc, 0}, /*forall=*/false);
        if (!op)
          return fail(loc);
      }
      if (!vectorize)
        continue;
      op = tile(rewriter, op, {p.mr, 0, p.nr}, /*forall=*/false);
      if (!op)
        return fail(loc);
      if (op.getStaticLoopRanges()[1] > 1) {
        op = tile(rewriter, op, {0, 1, 0}, /*forall=*/false);
        if (!op)
          return fail(loc);
      }
      // The multiply and the accumulate may fuse into an FMA.
      op.getRegion().walk([&](Operation *inner) {
        if (isa<arith::MulFOp, arith::AddFOp>(inner))
          inner->setAttr("fastmath", arith::FastMathFlagsAttr::get(
                                         &getContext(), arith::FastMathFlags::contract));
      });
      // A body linalg cannot vectorize (e.g. an unusual element type) stays a scalar loop nest
      // around the register tile: correct, only slower.
      if (failed(linalg::vectorizeOpPrecondition(op)))
        continue;
      rewriter.setInsertionPoint(op);
      FailureOr<linalg::VectorizationResult> vec = linalg::vectorize(
          rewriter, op, /*inputVectorSizes=*/{}, /*inputScalableVecDims=*/{},
          /*vectorizeNDExtract=*/false, /*flatten1DDepthwiseConv=*/false,
          /*assumeDynamicDimsMatchVecSizes=*/false,
          /*createNamedContraction=*/true);
      if (failed(vec))
        continue;
      if (!vec->replacements.empty())
        rewriter.replaceOp(op, vec->replacements);
      else
        rewriter.eraseOp(op);
    }
  }

  void fail(Location loc) {
    emitError(loc) << "sqz-cpu-tile-contractions: tiling failed";
    signalPassFailure();
  }
};
} // namespace
