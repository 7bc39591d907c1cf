//===- TileContractions.cpp - Parallel, cache and register tiling ---------===//
//
// `sqz-cpu-tile-contractions`: turns each (m, k, n) linear contraction into
//   scf.forall (m, n) parallel blocks            -> one OpenMP task each
//     scf.for k blocks                            -> the weight block stays in cache
//       scf.for m, scf.for n register tiles       -> mr x nr accumulators
//         scf.for k (step 1)                      -> one rank-1 update per step
//           (mr x 1) * (1 x nr) + acc, vectorized -> mr broadcast FMAs on nr lanes
// Tile sizes are divisors of the static loop bounds, so every tile is static and vectorizes
// without masks or remainder loops. A dynamic m (static k and n) is first split into loops
// over static row blocks (16 mr and 8 mr rows, then mr rows, then 4, 2 and 1 rows), each
// tiled as above; for a large weight they sit inside an scf.forall over column blocks and a
// loop over k cache blocks.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/Utils/Utils.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
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
    SmallVector<linalg::GenericOp> candidates, dynamicM;
    getOperation().walk([&](linalg::GenericOp op) {
      if (!isMKNContraction(op))
        return;
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      if (llvm::none_of(ranges, ShapedType::isDynamic))
        candidates.push_back(op);
      else if (ShapedType::isDynamic(ranges[0]) && !ShapedType::isDynamic(ranges[1]) &&
               !ShapedType::isDynamic(ranges[2]))
        dynamicM.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    // A dynamic m (rows of a linear over a dynamic batch or sequence) is split into loops
    // over static row blocks; each block is a static contraction tiled like the others. When
    // the weight has several column blocks, those are the parallel tasks, around the row
    // loops: one OpenMP fork per contraction whatever M, and each task reuses its weight
    // columns across its row blocks.
    for (linalg::GenericOp op : dynamicM) {
      Location loc = op.getLoc();
      SmallVector<int64_t> b = op.getStaticLoopRanges();
      int64_t mr = vectorWidth >= 16 ? 8 : 6;
      TilePlan p = planTiles({mr, b[1], b[2]}, vectorWidth, tileK, tileN, minParallelWork);
      bool largeWeight = b[1] * b[2] >= minParallelWork;
      if (parallel && p.np < b[2] && largeWeight) {
        op = tile(rewriter, op, {0, 0, p.np}, /*forall=*/true);
        if (!op)
          return fail(loc);
      }
      // The cache blocks along k of a large weight outside the row blocks: each kc x np
      // weight block is read from memory once and stays in cache for all the rows. (A small
      // weight stays in cache anyway; splitting its k only adds accumulator traffic.)
      if (largeWeight && p.kc < b[1]) {
        op = tile(rewriter, op, {0, p.kc, 0}, /*forall=*/false);
        if (!op)
          return fail(loc);
      }
      splitDynamicRows(rewriter, op, candidates);
    }
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

  /// Rewrites `op`, whose m loop is dynamic, into loops over static blocks of rows:
  ///   for i in [0, e1) step 16 mr:    y[i:i+16mr] = op(x[i:i+16mr])   (16mr x k x n)
  ///   for i in [e1, e2) step 8 mr:    (runs at most once)
  ///   for i in [e2, e3) step mr:      y[i:i+mr] = op(x[i:i+mr])       (mr x k x n)
  ///   the same with 4, 2 and 1 rows   (each runs at most once)
  /// where each loop covers the whole blocks of the rows its predecessors left. mr is the
  /// register tile's rows; the large blocks are parallel blocks of several register tiles
  /// that share each weight block. The cloned contractions (static) are appended to `staticOps`. An op
  /// that reads an operand along m other than through the plain loop index is left as is
  /// (scalar loops after convert-linalg-to-loops).
  void splitDynamicRows(IRRewriter &rewriter, linalg::GenericOp op,
                        SmallVectorImpl<linalg::GenericOp> &staticOps) {
    AffineExpr d0 = rewriter.getAffineDimExpr(0);
    for (OpOperand &operand : op->getOpOperands()) {
      AffineMap map = op.getMatchingIndexingMap(&operand);
      for (AffineExpr e : map.getResults())
        if (e.isFunctionOfDim(0) && e != d0)
          return;
    }
    if (!op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isFunctionOfDim(0))
      return;
    Location loc = op.getLoc();
    rewriter.setInsertionPoint(op);
    SmallVector<Range> domain =
        cast<TilingInterface>(op.getOperation()).getIterationDomain(rewriter);
    Value rows = getValueOrCreateConstantIndexOp(rewriter, loc, domain[0].size);
    int64_t mr = vectorWidth >= 16 ? 8 : 6;
    // Large blocks of 16 mr rows (one weight pass per 128 rows with AVX-512), at most one of
    // 8 mr rows, then mr-row blocks; the rows left (fewer than mr) take at most one block
    // each of 4, 2 and 1 rows, so a small M (a few tokens) reads the weight at most 3 more
    // times.
    SmallVector<int64_t> steps = {mr * 16, mr * 8, mr, 4, 2, 1};
    if (!vectorize)
      steps = {mr * 16, mr * 8, 1};
    Value acc = op.getDpsInits()[0];
    Value lower = arith::ConstantIndexOp::create(rewriter, loc, 0);
    for (int64_t step : steps) {
      // Whole blocks of the rows [lower, M): upper = lower + (M - lower) / step * step (the
      // steps need not divide each other, e.g. 6 then 4).
      Value stepValue = arith::ConstantIndexOp::create(rewriter, loc, step);
      Value upper = rows;
      if (step > 1) {
        Value left = arith::SubIOp::create(rewriter, loc, rows, lower);
        Value whole = arith::MulIOp::create(
            rewriter, loc, arith::DivUIOp::create(rewriter, loc, left, stepValue), stepValue);
        upper = arith::AddIOp::create(rewriter, loc, lower, whole);
      }
      linalg::GenericOp block;
      auto loop = scf::ForOp::create(
          rewriter, loc, lower, upper, stepValue, ValueRange{acc},
          [&](OpBuilder &b, Location l, Value iv, ValueRange iterArgs) {
            // The slice of an operand at rows [iv, iv + step).
            auto slice = [&](Value source, AffineMap map) -> Value {
              if (!map.isFunctionOfDim(0))
                return source;
              SmallVector<OpFoldResult> offsets, sizes, strides;
              for (auto [d, e] : llvm::enumerate(map.getResults())) {
                bool isM = e == d0;
                offsets.push_back(isM ? OpFoldResult(iv) : b.getIndexAttr(0));
                sizes.push_back(isM ? OpFoldResult(b.getIndexAttr(step))
                                    : tensor::getMixedSize(b, l, source, d));
                strides.push_back(b.getIndexAttr(1));
              }
              return tensor::ExtractSliceOp::create(b, l, source, offsets, sizes, strides);
            };
            SmallVector<Value> operands;
            for (OpOperand *input : op.getDpsInputOperands())
              operands.push_back(slice(input->get(), op.getMatchingIndexingMap(input)));
            AffineMap initMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
            Value init = slice(iterArgs[0], initMap);
            operands.push_back(init);
            block = mlir::clone(b, op, TypeRange{init.getType()}, operands);
            auto initSlice = init.getDefiningOp<tensor::ExtractSliceOp>();
            Value updated = tensor::InsertSliceOp::create(
                b, l, block->getResult(0), iterArgs[0], initSlice.getMixedOffsets(),
                initSlice.getMixedSizes(), initSlice.getMixedStrides());
            scf::YieldOp::create(b, l, updated);
          });
      staticOps.push_back(block);
      acc = loop.getResult(0);
      lower = upper;
    }
    rewriter.replaceOp(op, acc);
  }

  void fail(Location loc) {
    emitError(loc) << "sqz-cpu-tile-contractions: tiling failed";
    signalPassFailure();
  }
};
} // namespace
