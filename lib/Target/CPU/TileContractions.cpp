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
// loop over k cache blocks. Other static contractions (attention's Q·Kᵀ and P·V on
// [batch, heads, seq, dim] tensors, linalg.matmul, linalg.batch_matmul) become an scf.forall
// over their batch loops around 2-D (m, k, n) contractions on rank-reduced slices, tiled the
// same way; an input read along its rows is transposed first.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/Utils/Utils.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
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

/// A contraction in another loop order or with batch loops (attention's Q·Kᵀ and P·V on
/// [batch, heads, seq, dim] tensors, a batch_matmul, a matmul with the reduction innermost):
/// the loops of `op` that play m, k and n, and the batch loops.
struct BatchedContraction {
  unsigned m, k, n;
  unsigned rhs; // the input holding n (the other one holds m)
  SmallVector<unsigned> batch;
};

/// Matches a static two-input generic whose body is a multiply-accumulate
/// (`isaContractionOpInterface`), with projected-permutation maps, one reduction loop (read
/// by both inputs), a result of at least two dims that holds every parallel loop, n = the
/// result's last dim and m = the one before it, each read by exactly one input. The other
/// parallel loops are batch loops; an input may lack some of them (it is broadcast, e.g. the
/// K and V of grouped-query attention across the heads of a group).
static std::optional<BatchedContraction> matchBatchedContraction(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 || !op.hasPureTensorSemantics() ||
      !linalg::isaContractionOpInterface(op))
    return std::nullopt;
  if (llvm::any_of(op.getStaticLoopRanges(), ShapedType::isDynamic))
    return std::nullopt;
  if (!op.getBody()->getOps<linalg::IndexOp>().empty())
    return std::nullopt;
  Type elementType = getElementTypeOrSelf(op.getDpsInits()[0].getType());
  if (!isa<FloatType>(elementType) ||
      llvm::any_of(op->getOperandTypes(),
                   [&](Type t) { return getElementTypeOrSelf(t) != elementType; }))
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (llvm::any_of(maps, [](AffineMap map) { return !map.isProjectedPermutation(); }))
    return std::nullopt;
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  if (llvm::count(iters, utils::IteratorType::reduction) != 1)
    return std::nullopt;
  AffineMap out = maps[2];
  unsigned numParallel = iters.size() - 1;
  if (out.getNumResults() != numParallel || numParallel < 2)
    return std::nullopt;
  BatchedContraction c;
  c.k = std::distance(iters.begin(), llvm::find(iters, utils::IteratorType::reduction));
  c.n = out.getDimPosition(numParallel - 1);
  c.m = out.getDimPosition(numParallel - 2);
  auto reads = [&](unsigned input, unsigned dim) {
    return maps[input].isFunctionOfDim(dim);
  };
  if (!reads(0, c.k) || !reads(1, c.k) || out.isFunctionOfDim(c.k))
    return std::nullopt;
  if (reads(0, c.m) && !reads(1, c.m) && reads(1, c.n) && !reads(0, c.n))
    c.rhs = 1;
  else if (reads(1, c.m) && !reads(0, c.m) && reads(0, c.n) && !reads(1, c.n))
    c.rhs = 0;
  else
    return std::nullopt;
  for (unsigned d = 0; d < iters.size(); ++d)
    if (d != c.m && d != c.n && d != c.k)
      c.batch.push_back(d);
  return c;
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
    SmallVector<unsigned> reductionDims;
    for (auto [d, iter] : llvm::enumerate(op.getIteratorTypesArray()))
      if (sizes[d] != 0 && iter == utils::IteratorType::reduction)
        reductionDims.push_back(d);
    if (!reductionDims.empty())
      options.setReductionDims(reductionDims);
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
    IRRewriter rewriter(&getContext());
    // Named matmuls (ONNX MatMul of two activations: linalg.matmul, linalg.batch_matmul)
    // become generics, which the matcher below takes like any other contraction.
    if (vectorize) {
      SmallVector<linalg::LinalgOp> named;
      getOperation().walk([&](linalg::LinalgOp op) {
        if (isa<linalg::MatmulOp, linalg::BatchMatmulOp>(op) && op.hasPureTensorSemantics() &&
            !op.hasDynamicShape() &&
            llvm::all_of(op->getOperandTypes(),
                         [](Type t) { return getElementTypeOrSelf(t).isF32(); }))
          named.push_back(op);
      });
      for (linalg::LinalgOp op : named) {
        rewriter.setInsertionPoint(op);
        if (failed(linalg::generalizeNamedOp(rewriter, op)))
          return fail(op.getLoc());
      }
    }
    SmallVector<linalg::GenericOp> candidates, dynamicM;
    SmallVector<std::pair<linalg::GenericOp, BatchedContraction>> batched;
    getOperation().walk([&](linalg::GenericOp op) {
      if (!isMKNContraction(op)) {
        if (std::optional<BatchedContraction> c = matchBatchedContraction(op))
          batched.emplace_back(op, *c);
        return;
      }
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      if (llvm::none_of(ranges, ShapedType::isDynamic))
        candidates.push_back(op);
      else if (ShapedType::isDynamic(ranges[0]) && !ShapedType::isDynamic(ranges[1]) &&
               !ShapedType::isDynamic(ranges[2]))
        dynamicM.push_back(op);
    });
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
    // Batched contractions become loops over their batch (an scf.forall: one OpenMP fork per
    // contraction) around static 2-D (m, k, n) contractions, tiled below without threads of
    // their own.
    DenseSet<Operation *> inBatchLoop;
    if (vectorize) {
      for (auto &[op, c] : batched) {
        Location loc = op.getLoc();
        if (failed(splitBatch(rewriter, op, c, candidates, inBatchLoop)))
          return fail(loc);
      }
    }
    for (linalg::GenericOp op : candidates) {
      Location loc = op.getLoc();
      SmallVector<int64_t> b = op.getStaticLoopRanges();
      TilePlan p = planTiles(b, vectorWidth, tileK, tileN, minParallelWork);
      bool forall = p.parallel && parallel && !inBatchLoop.contains(op);
      // The (m, n) blocks: in parallel when worth it, else a sequential cache blocking.
      if (p.mp < b[0] || p.np < b[2]) {
        op = tile(rewriter, op, {p.mp, 0, p.np}, forall);
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

  /// Rewrites the batched contraction `op` (loops `c`) into
  ///   scf.forall over the batch loops (scf.for without threads or below min-parallel-work)
  ///     y[m, n] += a[m, k] * b[k, n]    (a 2-D (m, k, n) linalg.generic on rank-reduced
  ///                                      slices, appended to `candidates`)
  /// The input holding n is first transposed so that n is its innermost dim (Q·Kᵀ reads K
  /// as [.., n, k]): each k step of a register tile then reads a contiguous row of it. The
  /// 2-D contractions are recorded in `inBatchLoop` (no scf.forall inside the batch one).
  LogicalResult splitBatch(IRRewriter &rewriter, linalg::GenericOp op,
                           const BatchedContraction &c,
                           SmallVectorImpl<linalg::GenericOp> &candidates,
                           DenseSet<Operation *> &inBatchLoop) {
    Location loc = op.getLoc();
    MLIRContext *ctx = &getContext();
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    AffineMap rhsMap = maps[c.rhs];
    unsigned nPos = *rhsMap.getResultPosition(rewriter.getAffineDimExpr(c.n));
    if (nPos + 1 != rhsMap.getNumResults()) {
      SmallVector<int64_t> perm;
      for (unsigned i = 0; i < rhsMap.getNumResults(); ++i)
        if (i != nPos)
          perm.push_back(i);
      perm.push_back(nPos);
      rewriter.setInsertionPoint(op);
      Value rhs = op.getDpsInputs()[c.rhs];
      auto type = cast<RankedTensorType>(rhs.getType());
      Value empty = tensor::EmptyOp::create(
          rewriter, loc, applyPermutation(type.getShape(), perm), type.getElementType());
      Value transposed =
          linalg::TransposeOp::create(rewriter, loc, rhs, empty, perm)->getResult(0);
      SmallVector<AffineExpr> results;
      for (int64_t p : perm)
        results.push_back(rhsMap.getResult(p));
      maps[c.rhs] = AffineMap::get(rhsMap.getNumDims(), 0, results, ctx);
      SmallVector<Value> inputs = op.getDpsInputs();
      inputs[c.rhs] = transposed;
      auto newOp = linalg::GenericOp::create(rewriter, loc, op.getResultTypes(), inputs,
                                             op.getDpsInits(), maps,
                                             op.getIteratorTypesArray());
      rewriter.inlineRegionBefore(op.getRegion(), newOp.getRegion(),
                                  newOp.getRegion().begin());
      rewriter.replaceOp(op, newOp->getResults());
      op = newOp;
    }

    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    int64_t batchCount = 1, work = 1;
    for (unsigned d : c.batch)
      batchCount *= ranges[d];
    for (int64_t r : ranges)
      work *= r;
    if (batchCount > 1) {
      SmallVector<int64_t> sizes(ranges.size(), 0);
      for (unsigned d : c.batch)
        if (ranges[d] > 1)
          sizes[d] = 1;
      op = tile(rewriter, op, sizes, /*forall=*/parallel && work >= minParallelWork);
      if (!op)
        return failure();
    }

    // Every batch dim is now 1: the 2-D contraction on rank-reduced slices.
    rewriter.setInsertionPoint(op);
    SmallVector<Value> operands;
    SmallVector<AffineMap> newMaps;
    Value init = op.getDpsInits()[0];
    SmallVector<OpFoldResult> initOffsets, initSizes, initStrides;
    for (OpOperand &operand : op->getOpOperands()) {
      AffineMap map = op.getMatchingIndexingMap(&operand);
      auto type = cast<RankedTensorType>(operand.get().getType());
      SmallVector<OpFoldResult> offsets, sizes, strides;
      SmallVector<int64_t> shape;
      SmallVector<AffineExpr> results;
      for (unsigned i = 0; i < map.getNumResults(); ++i) {
        unsigned d = map.getDimPosition(i);
        offsets.push_back(rewriter.getIndexAttr(0));
        sizes.push_back(rewriter.getIndexAttr(type.getDimSize(i)));
        strides.push_back(rewriter.getIndexAttr(1));
        unsigned pos = d == c.m ? 0 : d == c.k ? 1 : d == c.n ? 2 : 3;
        if (pos == 3) {
          if (type.getDimSize(i) != 1)
            return failure();
          continue;
        }
        shape.push_back(type.getDimSize(i));
        results.push_back(rewriter.getAffineDimExpr(pos));
      }
      newMaps.push_back(AffineMap::get(3, 0, results, ctx));
      Value value = operand.get();
      if (shape.size() != static_cast<size_t>(type.getRank()))
        value = tensor::ExtractSliceOp::create(
            rewriter, loc, RankedTensorType::get(shape, type.getElementType()), value,
            offsets, sizes, strides);
      operands.push_back(value);
      if (operand.getOperandNumber() == 2) {
        initOffsets = offsets;
        initSizes = sizes;
        initStrides = strides;
      }
    }
    auto mkn = linalg::GenericOp::create(
        rewriter, loc, TypeRange{operands[2].getType()}, ValueRange{operands[0], operands[1]},
        ValueRange{operands[2]}, newMaps,
        {utils::IteratorType::parallel, utils::IteratorType::reduction,
         utils::IteratorType::parallel});
    rewriter.inlineRegionBefore(op.getRegion(), mkn.getRegion(), mkn.getRegion().begin());
    Value result = mkn->getResult(0);
    if (result.getType() != init.getType())
      result = tensor::InsertSliceOp::create(rewriter, loc, result, init, initOffsets,
                                             initSizes, initStrides);
    rewriter.replaceOp(op, result);
    candidates.push_back(mkn);
    if (batchCount > 1)
      inBatchLoop.insert(mkn);
    return success();
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
