//===- MapToGPU.cpp - Buffers' linalg ops onto gpu.launch -----------------===//
//
// `sqz-cuda-map-to-gpu`: after bufferization, every linalg op of the host function becomes
// one gpu.launch (loop sizes static or, with dynamic shapes, computed on the host).
// Contractions get 64x64 block tiles staged in shared memory or 4x4 register tiles per
// thread; other reductions
// with one associative combiner one block per output element and a block reduction
// (gpu.all_reduce: warp shuffles and shared memory); everything else one thread per output
// element. docs/CUDA.md describes the generated kernels.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CUDA/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZCUDAMAPTOGPU
#include "sqz/Target/CUDA/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

namespace {

/// The gpu.all_reduce operation of a combiner, if it has one.
static std::optional<gpu::AllReduceOperation> getAllReduceKind(Operation *op) {
  using K = gpu::AllReduceOperation;
  return llvm::TypeSwitch<Operation *, std::optional<K>>(op)
      .Case([](arith::AddFOp) { return K::ADD; })
      .Case([](arith::AddIOp) { return K::ADD; })
      .Case([](arith::MulFOp) { return K::MUL; })
      .Case([](arith::MulIOp) { return K::MUL; })
      .Case([](arith::MaximumFOp) { return K::MAXIMUMF; })
      .Case([](arith::MinimumFOp) { return K::MINIMUMF; })
      .Case([](arith::MaxNumFOp) { return K::MAXNUMF; })
      .Case([](arith::MinNumFOp) { return K::MINNUMF; })
      .Case([](arith::MaxSIOp) { return K::MAXSI; })
      .Case([](arith::MinSIOp) { return K::MINSI; })
      .Case([](arith::MaxUIOp) { return K::MAXUI; })
      .Case([](arith::MinUIOp) { return K::MINUI; })
      .Case([](arith::AndIOp) { return K::AND; })
      .Case([](arith::OrIOp) { return K::OR; })
      .Case([](arith::XOrIOp) { return K::XOR; })
      .Default([](Operation *) { return std::nullopt; });
}

/// A reduction a block can share: one output whose payload yields `combiner(out, v)` (or
/// `combiner(v, out)`) with `out` used nowhere else, on f32 or i32.
struct BlockReduction {
  Operation *combiner = nullptr;
  gpu::AllReduceOperation kind;
};

static std::optional<BlockReduction> matchBlockReduction(linalg::LinalgOp op) {
  if (op.getNumDpsInits() != 1 || op.getNumReductionLoops() == 0)
    return std::nullopt;
  Block *body = op.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  if (yield.getNumOperands() != 1)
    return std::nullopt;
  Operation *combiner = yield.getOperand(0).getDefiningOp();
  if (!combiner || combiner->getBlock() != body || combiner->getNumOperands() != 2)
    return std::nullopt;
  BlockArgument out = op.getMatchingBlockArgument(op.getDpsInitOperand(0));
  Type t = out.getType();
  if (!t.isF32() && !t.isInteger(32))
    return std::nullopt;
  if (!out.hasOneUse() || (combiner->getOperand(0) != out && combiner->getOperand(1) != out))
    return std::nullopt;
  std::optional<gpu::AllReduceOperation> kind = getAllReduceKind(combiner);
  if (!kind || !arith::getNeutralElement(combiner))
    return std::nullopt;
  return BlockReduction{combiner, *kind};
}

/// A contraction a thread can compute as a kTile x kTile register tile: two inputs, an f32
/// output accumulated by `addf` with a value computed from one element of each input (a
/// product, possibly of converted values), a parallel dim `m` only the first input and the
/// output use and a dim `n` only the second input and the output use (the innermost such
/// dims), the other parallel dims indexing the tiles. Matmuls, batch matmuls (attention's
/// Q K^T and P V with any operand layout) and convolutions.
struct Contraction {
  BlockReduction reduction;
  unsigned m, n;
};
constexpr int64_t kTile = 4;
/// The shared-memory tiled contraction: a block computes kBlockTile x kBlockTile outputs
/// (one kTile x kTile register tile per thread) from kDepthTile reduction points at a time.
constexpr int64_t kBlockTile = 64, kDepthTile = 16;
/// What a dynamic loop size counts as when choosing the kernel (a long sequence: the
/// reduction and tiled kernels, which are correct for any size).
constexpr int64_t kDynamicEstimate = 1024;

static std::optional<Contraction> matchContraction(linalg::LinalgOp op,
                                                   const BlockReduction &reduction) {
  if (op.getNumDpsInputs() != 2 || !isa<arith::AddFOp>(reduction.combiner))
    return std::nullopt;
  // The payload is pure and reads no loop index (the output it reads only in the combiner:
  // matchBlockReduction).
  bool pure = true;
  op.getBlock()->walk([&](Operation *inner) {
    pure &= !isa<linalg::IndexOp>(inner) && isMemoryEffectFree(inner);
  });
  if (!pure)
    return std::nullopt;
  for (OpOperand *in : op.getDpsInputOperands())
    if (!isa<MemRefType>(in->get().getType()))
      return std::nullopt;
  AffineMap a = op.getMatchingIndexingMap(op.getDpsInputOperand(0));
  AffineMap b = op.getMatchingIndexingMap(op.getDpsInputOperand(1));
  AffineMap out = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  std::optional<unsigned> m, n;
  for (auto [d, it] : llvm::enumerate(op.getIteratorTypesArray())) {
    if (it != utils::IteratorType::parallel || !out.isFunctionOfDim(d))
      continue;
    bool inA = a.isFunctionOfDim(d), inB = b.isFunctionOfDim(d);
    if (inA && !inB)
      m = d;
    if (inB && !inA)
      n = d;
  }
  if (!m || !n)
    return std::nullopt;
  return Contraction{reduction, *m, *n};
}

/// A loop's size: a constant, or (a dynamic shape) an index value computed on the host before
/// the op's launch, which the kernel reads as an argument.
using Size = OpFoldResult;

/// `size` as an index value at `b` (a constant there when static).
static Value sizeValue(OpBuilder &b, Location loc, Size size) {
  if (std::optional<int64_t> c = getConstantIntValue(size))
    return arith::ConstantIndexOp::create(b, loc, *c);
  return cast<Value>(size);
}

/// x * y, folded when both are static (host code).
static Size mulSize(OpBuilder &b, Location loc, Size x, Size y) {
  std::optional<int64_t> cx = getConstantIntValue(x), cy = getConstantIntValue(y);
  if (cx && cy)
    return b.getIndexAttr(*cx * *cy);
  if (cx == 1)
    return y;
  if (cy == 1)
    return x;
  return arith::MulIOp::create(b, loc, sizeValue(b, loc, x), sizeValue(b, loc, y)).getResult();
}

static Size productSize(OpBuilder &b, Location loc, ArrayRef<Size> sizes) {
  Size product = b.getIndexAttr(1);
  for (Size s : sizes)
    product = mulSize(b, loc, product, s);
  return product;
}

/// ceil(x / d), folded when x is static (host code).
static Size ceilDivSize(OpBuilder &b, Location loc, Size x, int64_t d) {
  if (std::optional<int64_t> c = getConstantIntValue(x))
    return b.getIndexAttr(llvm::divideCeil(*c, d));
  Value sum = arith::AddIOp::create(b, loc, cast<Value>(x),
                                    arith::ConstantIndexOp::create(b, loc, d - 1));
  return arith::DivUIOp::create(b, loc, sum, arith::ConstantIndexOp::create(b, loc, d))
      .getResult();
}

/// size - 1 at `b` (the last index of a non-empty range).
static Value lastIndex(OpBuilder &b, Location loc, Size size) {
  if (std::optional<int64_t> c = getConstantIntValue(size))
    return arith::ConstantIndexOp::create(b, loc, *c - 1);
  return arith::SubIOp::create(b, loc, cast<Value>(size),
                               arith::ConstantIndexOp::create(b, loc, 1));
}

/// Splits the linear index `linear` over `sizes` (row-major) into one index per size.
static SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value linear,
                                      ArrayRef<Size> sizes) {
  SmallVector<Value> ivs(sizes.size());
  Value rest = linear;
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  for (int64_t i = static_cast<int64_t>(sizes.size()) - 1; i >= 0; --i) {
    if (getConstantIntValue(sizes[i]) == 1) {
      ivs[i] = zero;
      continue;
    }
    Value size = sizeValue(b, loc, sizes[i]);
    ivs[i] = i == 0 ? rest : arith::RemUIOp::create(b, loc, rest, size).getResult();
    if (i > 0)
      rest = arith::DivUIOp::create(b, loc, rest, size);
  }
  return ivs;
}

/// A thread's kTile rows (or columns) first + i * stride: clamped into [0, size) for loads,
/// and whether each is in range (for the stores).
struct TileLines {
  SmallVector<Value> clamped, inRange;
};
static TileLines tileLines(OpBuilder &b, Location loc, Value first, Size stride, Size size) {
  TileLines lines;
  Value last = lastIndex(b, loc, size), end = sizeValue(b, loc, size);
  for (int64_t i = 0; i < kTile; ++i) {
    Value offset = sizeValue(b, loc, mulSize(b, loc, stride, b.getIndexAttr(i)));
    Value v = arith::AddIOp::create(b, loc, first, offset);
    lines.inRange.push_back(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, v, end));
    lines.clamped.push_back(arith::MinUIOp::create(b, loc, v, last));
  }
  return lines;
}

/// One reduction point of a register tile: the contraction's payload for each (i, j) with
/// `as[i]`, `bs[j]` and the accumulator `accs[i * kTile + j]`; returns the new accumulators.
static SmallVector<Value> accumulateTile(OpBuilder &b, linalg::LinalgOp op,
                                         const Contraction &c, ArrayRef<Value> as,
                                         ArrayRef<Value> bs, ValueRange accs) {
  BlockArgument argA = op.getMatchingBlockArgument(op.getDpsInputOperand(0));
  BlockArgument argB = op.getMatchingBlockArgument(op.getDpsInputOperand(1));
  BlockArgument outArg = op.getMatchingBlockArgument(op.getDpsInitOperand(0));
  SmallVector<Value> next;
  for (int64_t i = 0; i < kTile; ++i)
    for (int64_t j = 0; j < kTile; ++j) {
      IRMapping mapping;
      mapping.map(argA, as[i]);
      mapping.map(argB, bs[j]);
      mapping.map(outArg, accs[i * kTile + j]);
      for (Operation &payloadOp : op.getBlock()->without_terminator())
        b.clone(payloadOp, mapping);
      next.push_back(mapping.lookup(c.reduction.combiner->getResult(0)));
    }
  return next;
}

/// A register tile's initial accumulators: `output` at `indices` of each (i, j) (the rows and
/// columns clamped into range).
static SmallVector<Value>
loadTile(OpBuilder &b, Location loc, Value output,
         function_ref<SmallVector<Value>(OpBuilder &, int64_t, int64_t)> indices) {
  SmallVector<Value> acc;
  for (int64_t i = 0; i < kTile; ++i)
    for (int64_t j = 0; j < kTile; ++j)
      acc.push_back(memref::LoadOp::create(b, loc, output, indices(b, i, j)));
  return acc;
}

/// Stores a register tile's `results` where row i and column j are in range; `indices`
/// builds the output's indices of (i, j) (in the guarded region).
static void storeTile(OpBuilder &b, Location loc, ValueRange results, Value output,
                      const TileLines &rows, const TileLines &cols,
                      function_ref<SmallVector<Value>(OpBuilder &, int64_t, int64_t)> indices) {
  for (int64_t i = 0; i < kTile; ++i)
    for (int64_t j = 0; j < kTile; ++j) {
      Value ok = arith::AndIOp::create(b, loc, rows.inRange[i], cols.inRange[j]);
      auto store = scf::IfOp::create(b, loc, ok, /*withElseRegion=*/false);
      OpBuilder sb = OpBuilder::atBlockBegin(&store.getThenRegion().front());
      memref::StoreOp::create(sb, loc, results[i * kTile + j], output, indices(sb, i, j));
    }
}

/// A contraction's loops split for a tiled kernel: the other parallel dims (`outerDims`,
/// indexing the tiles' grid), the reduced dims, and m and n.
struct ContractionDims {
  ContractionDims(linalg::LinalgOp op, const Contraction &c, ArrayRef<Size> ranges)
      : c(c), numLoops(ranges.size()) {
    for (auto [d, it] : llvm::enumerate(op.getIteratorTypesArray())) {
      if (it == utils::IteratorType::reduction) {
        redDims.push_back(d);
        redSizes.push_back(ranges[d]);
      } else if (d != c.m && d != c.n) {
        outerDims.push_back(d);
        outerSizes.push_back(ranges[d]);
      }
    }
  }
  /// The loop indices of (`row`, `col`) at the outer point `outer` and reduction point `red`.
  SmallVector<Value> ivs(ArrayRef<Value> outer, Value row, Value col,
                         ArrayRef<Value> red) const {
    SmallVector<Value> ivs(numLoops);
    for (auto [d, v] : llvm::zip(outerDims, outer))
      ivs[d] = v;
    for (auto [d, v] : llvm::zip(redDims, red))
      ivs[d] = v;
    ivs[c.m] = row;
    ivs[c.n] = col;
    return ivs;
  }

  const Contraction &c;
  unsigned numLoops;
  SmallVector<unsigned> outerDims, redDims;
  SmallVector<Size> outerSizes, redSizes;
};

/// Builds the kernels of the linalg ops of one function.
class KernelBuilder {
public:
  KernelBuilder(int64_t blockSize, int64_t maxBlockSize, int64_t minBlockReduce,
                int64_t minTiledThreads, int64_t minSharedTile)
      : blockSize(blockSize), maxBlockSize(maxBlockSize), minBlockReduce(minBlockReduce),
        minTiledThreads(minTiledThreads), minSharedTile(minSharedTile) {}

  LogicalResult map(linalg::LinalgOp op);

private:
  /// Indices of `operand` at the loop indices `ivs`.
  SmallVector<Value> operandIndices(OpBuilder &b, Location loc, linalg::LinalgOp op,
                                    OpOperand *operand, ArrayRef<Value> ivs);
  /// The payload's block argument values for the inputs at `ivs` (loaded when used).
  void mapInputs(OpBuilder &b, Location loc, linalg::LinalgOp op, ArrayRef<Value> ivs,
                 IRMapping &mapping);
  /// Clones the payload (but `skip`) at `ivs`; returns the yielded values.
  SmallVector<Value> clonePayload(OpBuilder &b, linalg::LinalgOp op, ArrayRef<Value> ivs,
                                  IRMapping &mapping, Operation *skip = nullptr);
  /// Loop indices in loop order from the parallel and reduction indices.
  SmallVector<Value> mergeIvs(linalg::LinalgOp op, ArrayRef<Value> par, ArrayRef<Value> red);
  /// A launch of `grid` blocks of `block` threads (a grid of 0 blocks, possible with
  /// dynamic shapes, launches nothing).
  gpu::LaunchOp createLaunch(OpBuilder &b, Location loc, Size grid, int64_t block);
  /// A launch of `threads` threads (`blockSize` a block) with a bounds check; `b` moves into
  /// the checked region. Returns the thread's linear index there.
  Value createThreadLaunch(OpBuilder &b, Location loc, Size threads);

  // Each builds its sizes on the host (at the op), then the launch.
  LogicalResult mapPerElement(linalg::LinalgOp op, ArrayRef<Size> parSizes,
                              ArrayRef<Size> redSizes);
  LogicalResult mapBlockReduction(linalg::LinalgOp op, const BlockReduction &reduction,
                                  ArrayRef<Size> parSizes, ArrayRef<Size> redSizes);
  LogicalResult mapTiledContraction(linalg::LinalgOp op, const Contraction &c,
                                    ArrayRef<Size> ranges);
  LogicalResult mapSharedContraction(linalg::LinalgOp op, const Contraction &c,
                                     ArrayRef<Size> ranges);

  int64_t blockSize, maxBlockSize, minBlockReduce, minTiledThreads, minSharedTile;
};

SmallVector<Value> KernelBuilder::operandIndices(OpBuilder &b, Location loc,
                                                 linalg::LinalgOp op, OpOperand *operand,
                                                 ArrayRef<Value> ivs) {
  AffineMap map = op.getMatchingIndexingMap(operand);
  SmallVector<Value> indices;
  for (AffineExpr e : map.getResults()) {
    if (auto d = dyn_cast<AffineDimExpr>(e)) {
      indices.push_back(ivs[d.getPosition()]);
      continue;
    }
    if (auto c = dyn_cast<AffineConstantExpr>(e)) {
      indices.push_back(arith::ConstantIndexOp::create(b, loc, c.getValue()));
      continue;
    }
    indices.push_back(affine::AffineApplyOp::create(
        b, loc, AffineMap::get(map.getNumDims(), map.getNumSymbols(), e), ivs));
  }
  return indices;
}

void KernelBuilder::mapInputs(OpBuilder &b, Location loc, linalg::LinalgOp op,
                              ArrayRef<Value> ivs, IRMapping &mapping) {
  for (OpOperand *in : op.getDpsInputOperands()) {
    BlockArgument arg = op.getMatchingBlockArgument(in);
    if (arg.use_empty())
      continue;
    if (!isa<MemRefType>(in->get().getType())) {
      mapping.map(arg, in->get()); // a scalar (linalg.fill's value)
      continue;
    }
    mapping.map(arg, memref::LoadOp::create(b, loc, in->get(),
                                            operandIndices(b, loc, op, in, ivs)));
  }
}

SmallVector<Value> KernelBuilder::clonePayload(OpBuilder &b, linalg::LinalgOp op,
                                               ArrayRef<Value> ivs, IRMapping &mapping,
                                               Operation *skip) {
  Block *body = op.getBlock();
  for (Operation &payloadOp : body->without_terminator()) {
    if (&payloadOp == skip)
      continue;
    // linalg.index is the loop index.
    if (auto index = dyn_cast<linalg::IndexOp>(payloadOp)) {
      mapping.map(index.getResult(), ivs[index.getDim()]);
      continue;
    }
    Operation *clone = b.clone(payloadOp, mapping);
    // Also in nested regions.
    SmallVector<linalg::IndexOp> indexOps;
    clone->walk([&](linalg::IndexOp index) { indexOps.push_back(index); });
    for (linalg::IndexOp index : indexOps) {
      index.replaceAllUsesWith(ivs[index.getDim()]);
      index.erase();
    }
  }
  return llvm::map_to_vector(body->getTerminator()->getOperands(),
                             [&](Value v) { return mapping.lookupOrDefault(v); });
}

SmallVector<Value> KernelBuilder::mergeIvs(linalg::LinalgOp op, ArrayRef<Value> par,
                                           ArrayRef<Value> red) {
  SmallVector<Value> ivs;
  unsigned p = 0, r = 0;
  for (utils::IteratorType it : op.getIteratorTypesArray())
    ivs.push_back(it == utils::IteratorType::parallel ? par[p++] : red[r++]);
  return ivs;
}

gpu::LaunchOp KernelBuilder::createLaunch(OpBuilder &b, Location loc, Size grid,
                                          int64_t block) {
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value gridX = sizeValue(b, loc, grid);
  Value blockX = arith::ConstantIndexOp::create(b, loc, block);
  auto launch = gpu::LaunchOp::create(b, loc, gridX, one, one, blockX, one, one);
  Block &body = launch.getBody().front();
  OpBuilder end = OpBuilder::atBlockEnd(&body);
  gpu::TerminatorOp::create(end, loc);
  return launch;
}

Value KernelBuilder::createThreadLaunch(OpBuilder &b, Location loc, Size threads) {
  std::optional<int64_t> known = getConstantIntValue(threads);
  int64_t block = known ? std::min<int64_t>(blockSize, llvm::alignTo(*known, 32)) : blockSize;
  gpu::LaunchOp launch = createLaunch(b, loc, ceilDivSize(b, loc, threads, block), block);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value blockStart = arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                                           arith::ConstantIndexOp::create(b, loc, block));
  Value linear = arith::AddIOp::create(b, loc, blockStart, launch.getThreadIds().x);
  Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, linear,
                                        sizeValue(b, loc, threads));
  auto ifOp = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  return linear;
}

LogicalResult KernelBuilder::mapPerElement(linalg::LinalgOp op, ArrayRef<Size> parSizes,
                                           ArrayRef<Size> redSizes) {
  Location loc = op.getLoc();
  OpBuilder b(op);
  Size points = productSize(b, loc, parSizes), redPoints = productSize(b, loc, redSizes);
  Value linear = createThreadLaunch(b, loc, points);
  SmallVector<Value> par = delinearize(b, loc, linear, parSizes);

  // The outputs at this point (the output maps read the parallel dims only).
  SmallVector<Value> zeros(redSizes.size(), arith::ConstantIndexOp::create(b, loc, 0));
  SmallVector<Value> outIvs = mergeIvs(op, par, zeros);
  SmallVector<SmallVector<Value>> outIndices;
  SmallVector<Value> outValues;
  for (OpOperand &init : op.getDpsInitsMutable()) {
    outIndices.push_back(operandIndices(b, loc, op, &init, outIvs));
    BlockArgument arg = op.getMatchingBlockArgument(&init);
    // An unread output of an op without reductions needs no load.
    if (redSizes.empty() && arg.use_empty())
      outValues.push_back(Value());
    else
      outValues.push_back(memref::LoadOp::create(b, loc, init.get(), outIndices.back()));
  }
  auto body = [&](OpBuilder &nb, ArrayRef<Value> ivs, ValueRange outs) {
    IRMapping mapping;
    mapInputs(nb, loc, op, ivs, mapping);
    for (auto [init, v] : llvm::zip(op.getDpsInitsMutable(), outs))
      if (v)
        mapping.map(op.getMatchingBlockArgument(&init), v);
    return clonePayload(nb, op, ivs, mapping);
  };
  SmallVector<Value> results;
  if (redSizes.empty()) {
    results = body(b, par, outValues);
  } else {
    Value lb = arith::ConstantIndexOp::create(b, loc, 0);
    Value ub = sizeValue(b, loc, redPoints);
    Value step = arith::ConstantIndexOp::create(b, loc, 1);
    auto loop = scf::ForOp::create(
        b, loc, lb, ub, step, outValues,
        [&](OpBuilder &nb, Location, Value r, ValueRange acc) {
          SmallVector<Value> red = delinearize(nb, loc, r, redSizes);
          SmallVector<Value> next = body(nb, mergeIvs(op, par, red), acc);
          scf::YieldOp::create(nb, loc, next);
        });
    results.assign(loop.getResults().begin(), loop.getResults().end());
  }
  for (auto [init, v, indices] : llvm::zip(op.getDpsInitsMutable(), results, outIndices))
    memref::StoreOp::create(b, loc, v, init.get(), indices);
  return success();
}

LogicalResult KernelBuilder::mapBlockReduction(linalg::LinalgOp op,
                                               const BlockReduction &reduction,
                                               ArrayRef<Size> parSizes,
                                               ArrayRef<Size> redSizes) {
  Location loc = op.getLoc();
  OpBuilder b(op);
  Size points = productSize(b, loc, parSizes), redPoints = productSize(b, loc, redSizes);
  // A dynamic reduction gets the largest block.
  std::optional<int64_t> knownRed = getConstantIntValue(redPoints);
  int64_t block = knownRed ? std::clamp<int64_t>(llvm::PowerOf2Ceil(*knownRed), 32, maxBlockSize)
                           : maxBlockSize;
  gpu::LaunchOp launch = createLaunch(b, loc, points, block);
  b.setInsertionPointToStart(&launch.getBody().front());
  SmallVector<Value> par = delinearize(b, loc, launch.getBlockIds().x, parSizes);
  Value tid = launch.getThreadIds().x;

  OpOperand *init = op.getDpsInitOperand(0);
  BlockArgument outArg = op.getMatchingBlockArgument(init);
  Value v = reduction.combiner->getOperand(0) == outArg ? reduction.combiner->getOperand(1)
                                                         : reduction.combiner->getOperand(0);
  auto neutral = arith::getNeutralElement(reduction.combiner);
  Value identity = arith::ConstantOp::create(b, loc, *neutral);
  // Each thread folds the points tid, tid + block, ... of the reduction space.
  Value ub = sizeValue(b, loc, redPoints);
  Value step = arith::ConstantIndexOp::create(b, loc, block);
  auto loop = scf::ForOp::create(
      b, loc, tid, ub, step, ValueRange{identity},
      [&](OpBuilder &nb, Location, Value r, ValueRange acc) {
        SmallVector<Value> ivs = mergeIvs(op, par, delinearize(nb, loc, r, redSizes));
        IRMapping mapping;
        mapInputs(nb, loc, op, ivs, mapping);
        clonePayload(nb, op, ivs, mapping, reduction.combiner);
        IRMapping combine;
        combine.map(outArg, acc[0]);
        combine.map(v, mapping.lookupOrDefault(v));
        Operation *next = nb.clone(*reduction.combiner, combine);
        scf::YieldOp::create(nb, loc, next->getResults());
      });
  Value total = gpu::AllReduceOp::create(
      b, loc, loop.getResult(0),
      gpu::AllReduceOperationAttr::get(b.getContext(), reduction.kind), /*uniform=*/true);
  Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid,
                                      arith::ConstantIndexOp::create(b, loc, 0));
  auto ifOp = scf::IfOp::create(b, loc, first, /*withElseRegion=*/false);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  SmallVector<Value> zeros(redSizes.size(), arith::ConstantIndexOp::create(b, loc, 0));
  SmallVector<Value> indices = operandIndices(b, loc, op, init, mergeIvs(op, par, zeros));
  Value old = memref::LoadOp::create(b, loc, init->get(), indices);
  IRMapping combine;
  combine.map(outArg, old);
  combine.map(v, total);
  Operation *result = b.clone(*reduction.combiner, combine);
  memref::StoreOp::create(b, loc, result->getResult(0), init->get(), indices);
  return success();
}

LogicalResult KernelBuilder::mapTiledContraction(linalg::LinalgOp op, const Contraction &c,
                                                  ArrayRef<Size> ranges) {
  Location loc = op.getLoc();
  OpBuilder b(op);
  // The thread space: the other parallel dims, then the m and n tiles (n fastest). A thread's
  // rows are mt + i * mTiles and its columns nt + j * nTiles (i, j < kTile), so that
  // neighbouring threads read neighbouring elements.
  Size mSize = ranges[c.m], nSize = ranges[c.n];
  Size mTiles = ceilDivSize(b, loc, mSize, kTile), nTiles = ceilDivSize(b, loc, nSize, kTile);
  ContractionDims dims(op, c, ranges);
  ArrayRef<Size> redSizes = dims.redSizes;
  SmallVector<Size> threadSizes = dims.outerSizes;
  threadSizes.push_back(mTiles);
  threadSizes.push_back(nTiles);
  Size threads = productSize(b, loc, threadSizes), redPoints = productSize(b, loc, redSizes);
  Value linear = createThreadLaunch(b, loc, threads);
  SmallVector<Value> tid = delinearize(b, loc, linear, threadSizes);
  auto index = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v).getResult(); };
  // Rows and columns (clamped into range for the loads; the stores check them).
  TileLines rowLines = tileLines(b, loc, tid[tid.size() - 2], mTiles, mSize);
  TileLines colLines = tileLines(b, loc, tid.back(), nTiles, nSize);
  ArrayRef<Value> rows = rowLines.clamped, cols = colLines.clamped;
  // The loop indices of one (row, column) at reduction point `red`.
  auto ivsAt = [&](Value row, Value col, ArrayRef<Value> red) {
    return dims.ivs(tid, row, col, red);
  };
  OpOperand *init = op.getDpsInitOperand(0);
  OpOperand *inA = op.getDpsInputOperand(0), *inB = op.getDpsInputOperand(1);
  SmallVector<Value> zeros(redSizes.size(), index(0));
  // The accumulators start from the output (the sequential order of the sum).
  SmallVector<Value> acc = loadTile(b, loc, init->get(), [&](OpBuilder &lb, int64_t i, int64_t j) {
    return operandIndices(lb, loc, op, init, ivsAt(rows[i], cols[j], zeros));
  });
  auto loop = scf::ForOp::create(
      b, loc, index(0), sizeValue(b, loc, redPoints), index(1), acc,
      [&](OpBuilder &nb, Location, Value r, ValueRange accs) {
        SmallVector<Value> red = delinearize(nb, loc, r, redSizes);
        SmallVector<Value> as, bs;
        for (int64_t i = 0; i < kTile; ++i) {
          as.push_back(memref::LoadOp::create(
              nb, loc, inA->get(), operandIndices(nb, loc, op, inA, ivsAt(rows[i], cols[0], red))));
          bs.push_back(memref::LoadOp::create(
              nb, loc, inB->get(), operandIndices(nb, loc, op, inB, ivsAt(rows[0], cols[i], red))));
        }
        scf::YieldOp::create(nb, loc, accumulateTile(nb, op, c, as, bs, accs));
      });
  storeTile(b, loc, loop.getResults(), init->get(), rowLines, colLines,
            [&](OpBuilder &sb, int64_t i, int64_t j) {
              return operandIndices(sb, loc, op, init, ivsAt(rows[i], cols[j], zeros));
            });
  return success();
}

LogicalResult KernelBuilder::mapSharedContraction(linalg::LinalgOp op, const Contraction &c,
                                                   ArrayRef<Size> ranges) {
  Location loc = op.getLoc();
  OpBuilder b(op);
  // The grid: the other parallel dims, then the m and n block tiles (n fastest).
  Size mSize = ranges[c.m], nSize = ranges[c.n];
  ContractionDims dims(op, c, ranges);
  ArrayRef<Size> redSizes = dims.redSizes;
  SmallVector<Size> gridSizes = dims.outerSizes;
  gridSizes.push_back(ceilDivSize(b, loc, mSize, kBlockTile));
  gridSizes.push_back(ceilDivSize(b, loc, nSize, kBlockTile));
  Size redPoints = productSize(b, loc, redSizes);
  Size depthTiles = ceilDivSize(b, loc, redPoints, kDepthTile);
  Size blocks = productSize(b, loc, gridSizes);
  constexpr int64_t lanes = kBlockTile / kTile; // threads along m and along n
  constexpr int64_t threads = lanes * lanes;
  OpOperand *init = op.getDpsInitOperand(0);
  OpOperand *inA = op.getDpsInputOperand(0), *inB = op.getDpsInputOperand(1);
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  auto tileType = [&](OpOperand *in) {
    // One padding column: a copy with consecutive points per thread stores to different banks.
    return MemRefType::get({kDepthTile, kBlockTile + 1},
                           getElementTypeOrSelf(in->get().getType()),
                           MemRefLayoutAttrInterface(), workgroup);
  };
  gpu::LaunchOp launch = createLaunch(b, loc, blocks, threads);
  Value aTile = launch.addWorkgroupAttribution(tileType(inA), loc);
  Value bTile = launch.addWorkgroupAttribution(tileType(inB), loc);
  b.setInsertionPointToStart(&launch.getBody().front());
  auto index = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v).getResult(); };
  SmallVector<Value> blockIdx = delinearize(b, loc, launch.getBlockIds().x, gridSizes);
  Value tid = launch.getThreadIds().x;
  Value tm = arith::DivUIOp::create(b, loc, tid, index(lanes));
  Value tn = arith::RemUIOp::create(b, loc, tid, index(lanes));
  Value row0 = arith::MulIOp::create(b, loc, blockIdx[blockIdx.size() - 2], index(kBlockTile));
  Value col0 = arith::MulIOp::create(b, loc, blockIdx.back(), index(kBlockTile));
  // The thread's rows row0 + tm + i * lanes and columns col0 + tn + j * lanes (clamped into
  // range for the loads; the stores check them), tile rows tm + i * lanes in shared memory.
  Size stride = b.getIndexAttr(lanes);
  TileLines rowLines = tileLines(b, loc, arith::AddIOp::create(b, loc, row0, tm), stride, mSize);
  TileLines colLines = tileLines(b, loc, arith::AddIOp::create(b, loc, col0, tn), stride, nSize);
  ArrayRef<Value> rows = rowLines.clamped, cols = colLines.clamped;
  SmallVector<Value> tileRows, tileCols;
  for (int64_t i = 0; i < kTile; ++i) {
    tileRows.push_back(arith::AddIOp::create(b, loc, tm, index(i * lanes)));
    tileCols.push_back(arith::AddIOp::create(b, loc, tn, index(i * lanes)));
  }
  auto ivsAt = [&](Value row, Value col, ArrayRef<Value> red) {
    return dims.ivs(blockIdx, row, col, red);
  };
  SmallVector<Value> zeros(redSizes.size(), index(0));
  SmallVector<Value> acc = loadTile(b, loc, init->get(), [&](OpBuilder &lb, int64_t i, int64_t j) {
    return operandIndices(lb, loc, op, init, ivsAt(rows[i], cols[j], zeros));
  });
  // Per depth tile: the block stages kDepthTile reduction points of its rows of A and its
  // columns of B in shared memory (each thread copies kDepthTile * kBlockTile / threads
  // elements of each; a point or row past the end is clamped and never used), then each
  // thread accumulates its 4x4 tile from the staged points in order.
  auto outer = scf::ForOp::create(
      b, loc, index(0), sizeValue(b, loc, depthTiles), index(1), acc,
      [&](OpBuilder &nb, Location, Value kt, ValueRange accs) {
        auto nIndex = [&](int64_t v) {
          return arith::ConstantIndexOp::create(nb, loc, v).getResult();
        };
        Value k0 = arith::MulIOp::create(nb, loc, kt, nIndex(kDepthTile));
        // Copies of one input's tile: element e of the copy is (point kk, line ll); consecutive
        // threads take consecutive lines, or consecutive points where the input's innermost
        // dim is not the line's (A's rows of a K-contiguous A), so that they read
        // neighbouring elements.
        Value lastPoint = lastIndex(nb, loc, redPoints);
        auto stage = [&](OpOperand *in, unsigned lineDim, Value lineBase, Size lineSize,
                         Value tile) {
          bool pointsFast =
              !op.getMatchingIndexingMap(in).getResults().back().isFunctionOfDim(lineDim);
          for (int64_t q = 0; q < kDepthTile * kBlockTile / threads; ++q) {
            Value e = arith::AddIOp::create(nb, loc, tid, nIndex(q * threads));
            int64_t fast = pointsFast ? kDepthTile : kBlockTile;
            Value major = arith::DivUIOp::create(nb, loc, e, nIndex(fast));
            Value minor = arith::RemUIOp::create(nb, loc, e, nIndex(fast));
            Value kk = pointsFast ? minor : major, ll = pointsFast ? major : minor;
            Value r = arith::MinUIOp::create(nb, loc, arith::AddIOp::create(nb, loc, k0, kk),
                                             lastPoint);
            Value line = arith::MinUIOp::create(
                nb, loc, arith::AddIOp::create(nb, loc, lineBase, ll),
                lastIndex(nb, loc, lineSize));
            SmallVector<Value> ivs = ivsAt(rows[0], cols[0], delinearize(nb, loc, r, redSizes));
            ivs[lineDim] = line;
            Value v = memref::LoadOp::create(nb, loc, in->get(),
                                             operandIndices(nb, loc, op, in, ivs));
            memref::StoreOp::create(nb, loc, v, tile, ValueRange{kk, ll});
          }
        };
        stage(inA, c.m, row0, mSize, aTile);
        stage(inB, c.n, col0, nSize, bTile);
        gpu::BarrierOp::create(nb, loc);
        Value depth = arith::MinSIOp::create(
            nb, loc, nIndex(kDepthTile),
            arith::SubIOp::create(nb, loc, sizeValue(nb, loc, redPoints), k0));
        auto inner = scf::ForOp::create(
            nb, loc, nIndex(0), depth, nIndex(1), accs,
            [&](OpBuilder &ib, Location, Value kk, ValueRange sums) {
              SmallVector<Value> as, bs;
              for (int64_t i = 0; i < kTile; ++i) {
                as.push_back(memref::LoadOp::create(ib, loc, aTile, ValueRange{kk, tileRows[i]}));
                bs.push_back(memref::LoadOp::create(ib, loc, bTile, ValueRange{kk, tileCols[i]}));
              }
              scf::YieldOp::create(ib, loc, accumulateTile(ib, op, c, as, bs, sums));
            });
        gpu::BarrierOp::create(nb, loc);
        scf::YieldOp::create(nb, loc, inner.getResults());
      });
  storeTile(b, loc, outer.getResults(), init->get(), rowLines, colLines,
            [&](OpBuilder &sb, int64_t i, int64_t j) {
              return operandIndices(sb, loc, op, init, ivsAt(rows[i], cols[j], zeros));
            });
  return success();
}

LogicalResult KernelBuilder::map(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics())
    return op->emitError() << "sqz-cuda-map-to-gpu runs after bufferization; this op "
                              "still has tensor operands";
  // The loop sizes: static, or computed on the host from the buffers' dims. For choosing the
  // kernel, `ranges` counts a dynamic size as kDynamicEstimate.
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<Size> sizes;
  bool dynamic = llvm::any_of(ranges, ShapedType::isDynamic);
  {
    OpBuilder b(op);
    SmallVector<Range> loopRanges;
    if (dynamic)
      loopRanges = op.createLoopRanges(b, op.getLoc());
    for (auto [d, r] : llvm::enumerate(ranges)) {
      sizes.push_back(ShapedType::isDynamic(r) ? loopRanges[d].size : b.getIndexAttr(r));
      if (ShapedType::isDynamic(r))
        r = kDynamicEstimate;
    }
  }
  for (OpOperand &init : op.getDpsInitsMutable()) {
    AffineMap map = op.getMatchingIndexingMap(&init);
    for (auto [i, it] : llvm::enumerate(op.getIteratorTypesArray()))
      if (it == utils::IteratorType::reduction && map.isFunctionOfDim(i))
        return op->emitError() << "an output indexed by a reduction loop is not supported";
  }
  SmallVector<Size> parSizes, redSizes;
  int64_t points = 1, redPoints = 1;
  for (auto [size, range, it] : llvm::zip(sizes, ranges, op.getIteratorTypesArray())) {
    bool parallel = it == utils::IteratorType::parallel;
    (parallel ? parSizes : redSizes).push_back(size);
    int64_t &product = parallel ? points : redPoints;
    // (Saturating: several dynamic sizes.)
    product = range != 0 && product > std::numeric_limits<int64_t>::max() / range
                  ? std::numeric_limits<int64_t>::max()
                  : product * range;
  }
  // Nothing to compute or nothing to fold. (A dynamic size of 0 gives an empty grid, or a
  // reduction that leaves the output as it was.)
  if (points == 0 || redPoints == 0)
    return success();
  // (With dynamic shapes, a grid too large for the device is the launch's error.)
  if (!dynamic && points > (int64_t(1) << 31) - 1)
    return op->emitError() << "more than 2^31 - 1 output points are not supported";
  if (std::optional<BlockReduction> reduction = matchBlockReduction(op)) {
    // A register tile per thread when there are enough tiles to occupy the GPU, or when
    // the reduction is too short for a block (one thread per output would load 4x more);
    // else a block per output element. (Thresholds not yet measured on a GPU.)
    if (std::optional<Contraction> c = matchContraction(op, *reduction)) {
      // Block tiles staged in shared memory when m and n are long enough to fill a good
      // part of one (a guess until measured on a GPU).
      auto stageable = [&](unsigned i) {
        Type t = getElementTypeOrSelf(op.getDpsInputOperand(i)->get().getType());
        return t.isIntOrFloat();
      };
      if (ranges[c->m] >= minSharedTile && ranges[c->n] >= minSharedTile && stageable(0) &&
          stageable(1))
        return mapSharedContraction(op, *c, sizes);
      int64_t tiles = points / (ranges[c->m] * ranges[c->n]) *
                      llvm::divideCeil(ranges[c->m], kTile) *
                      llvm::divideCeil(ranges[c->n], kTile);
      if (ranges[c->m] >= kTile && ranges[c->n] >= kTile &&
          (tiles >= minTiledThreads || redPoints < minBlockReduce))
        return mapTiledContraction(op, *c, sizes);
    }
    if (redPoints >= minBlockReduce)
      return mapBlockReduction(op, *reduction, parSizes, redSizes);
  }
  return mapPerElement(op, parSizes, redSizes);
}

/// Whether `op`, on the host, reads or writes memory (which is the device's).
static bool touchesMemory(Operation *op) {
  if (isa<memref::AllocOp, memref::DeallocOp, memref::AllocaOp, memref::GetGlobalOp>(op))
    return false;
  if (isa<memref::LoadOp, memref::StoreOp, memref::CopyOp, vector::TransferReadOp,
          vector::TransferWriteOp, vector::LoadOp, vector::StoreOp, linalg::LinalgOp>(op))
    return true;
  return false;
}

/// The buffer a memref value views (through view-like ops).
static Value rootBuffer(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view)
      break;
    v = view.getViewSource();
  }
  return v;
}

/// Whether two memref values may be the same buffer: the same root, or the same global.
static bool sameBuffer(Value a, Value b) {
  Value ra = rootBuffer(a), rb = rootBuffer(b);
  if (ra == rb)
    return true;
  auto ga = ra.getDefiningOp<memref::GetGlobalOp>(), gb = rb.getDefiningOp<memref::GetGlobalOp>();
  return ga && gb && ga.getName() == gb.getName();
}

/// Host loads of one element that only kernels use (a payload capturing a scalar read from
/// a buffer, e.g. OneHot's on/off values, a tensor.extract of a graph input): each kernel that
/// uses it loads the element itself, as long as nothing from the load through the last such
/// kernel may change the buffer: an op that mentions it with an effect other than a read (a
/// write, a free, an allocation), with unknown effects, or taking its address. Deallocations
/// of the buffer in between (the deallocation pipeline frees a buffer after its last use, the
/// load) move after the last kernel.
static void sinkHostLoads(func::FuncOp fn) {
  SmallVector<memref::LoadOp> loads;
  for (Block &block : fn.getBody())
    for (Operation &op : block)
      if (auto load = dyn_cast<memref::LoadOp>(op))
        loads.push_back(load);
  for (memref::LoadOp load : loads) {
    SmallVector<gpu::LaunchOp> users;
    bool onlyKernels = !load.getResult().use_empty();
    for (Operation *user : load.getResult().getUsers()) {
      auto launch = user->getParentOfType<gpu::LaunchOp>();
      if (!launch || launch->getBlock() != load->getBlock()) {
        onlyKernels = false;
        break;
      }
      if (!llvm::is_contained(users, launch))
        users.push_back(launch);
    }
    if (!onlyKernels)
      continue;
    Value buffer = load.getMemRef();
    Operation *last = users.front();
    for (gpu::LaunchOp launch : users)
      if (last->isBeforeInBlock(launch))
        last = launch;
    bool clobbered = false;
    SmallVector<memref::DeallocOp> frees;
    for (Operation *op = load->getNextNode(); op && !clobbered; op = op->getNextNode()) {
      if (auto dealloc = dyn_cast<memref::DeallocOp>(op);
          dealloc && sameBuffer(dealloc.getMemref(), buffer)) {
        frees.push_back(dealloc);
      } else {
        op->walk([&](Operation *inner) {
          if (!llvm::any_of(inner->getOperands(), [&](Value v) {
                return isa<MemRefType>(v.getType()) && sameBuffer(v, buffer);
              }))
            return;
          auto iface = dyn_cast<MemoryEffectOpInterface>(inner);
          if (!iface || isa<memref::ExtractAlignedPointerAsIndexOp>(inner)) {
            clobbered = true; // unknown effects, or the address escapes
            return;
          }
          SmallVector<MemoryEffects::EffectInstance> effects;
          iface.getEffects(effects);
          for (const MemoryEffects::EffectInstance &effect : effects)
            clobbered |= !isa<MemoryEffects::Read>(effect.getEffect()) &&
                         (!effect.getValue() || sameBuffer(effect.getValue(), buffer));
        });
      }
      if (op == last)
        break;
    }
    if (clobbered)
      continue;
    for (memref::DeallocOp dealloc : llvm::reverse(frees))
      dealloc->moveAfter(last);
    for (gpu::LaunchOp launch : users) {
      OpBuilder b = OpBuilder::atBlockBegin(&launch.getBody().front());
      Operation *copy = b.clone(*load);
      load.getResult().replaceUsesWithIf(copy->getResult(0), [&](OpOperand &use) {
        return launch->isAncestor(use.getOwner());
      });
    }
    load->erase();
  }
}

struct SqzCUDAMapToGPUPass
    : public mlir::sqz::impl::SqzCUDAMapToGPUBase<SqzCUDAMapToGPUPass> {
  using Base::Base;
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (blockSize < 32 || blockSize > 1024 || maxBlockSize < 32 || maxBlockSize > 1024) {
      fn.emitError() << "block-size and max-block-size must be in [32, 1024]";
      return signalPassFailure();
    }
    // Copies are linalg copies (any layout; one thread per element).
    SmallVector<memref::CopyOp> copies;
    fn.walk([&](memref::CopyOp copy) {
      if (!copy->getParentOfType<gpu::LaunchOp>())
        copies.push_back(copy);
    });
    for (memref::CopyOp copy : copies) {
      OpBuilder b(copy);
      linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(), copy.getTarget());
      copy.erase();
    }
    SmallVector<linalg::LinalgOp> ops;
    fn.walk([&](linalg::LinalgOp op) {
      if (!op->getParentOfType<gpu::LaunchOp>())
        ops.push_back(op);
    });
    KernelBuilder builder(blockSize, maxBlockSize, minBlockReduce, minTiledThreads,
                          minSharedTile);
    for (linalg::LinalgOp op : ops) {
      if (failed(builder.map(op)))
        return signalPassFailure();
      op->erase();
    }
    // The CUDA kernels' launches (sqz-cuda-lower-kernels).
    SmallVector<func::CallOp> kernelCalls;
    fn.walk([&](func::CallOp call) {
      if (call->hasAttr(kCUDALaunchAttr))
        kernelCalls.push_back(call);
    });
    for (func::CallOp call : kernelCalls) {
      auto shape = call->getAttrOfType<DenseI64ArrayAttr>(kCUDALaunchAttr);
      if (!shape || shape.size() != 7) {
        call.emitError() << "malformed " << kCUDALaunchAttr
                         << " (expected 7 values: grid, block, shared bytes)";
        return signalPassFailure();
      }
      // A dynamic M: grid x is the first operand.
      bool dynamicGrid = shape[0] == -1;
      auto kernelName = call->getAttrOfType<FlatSymbolRefAttr>(kCUDAKernelAttr);
      if (!kernelName || (dynamicGrid && call.getNumOperands() == 0)) {
        call.emitError() << "malformed CUDA kernel launch (expected " << kCUDAKernelAttr
                         << " and, with a grid x of -1, grid x as the first operand)";
        return signalPassFailure();
      }
      ValueRange args = call.getOperands().drop_front(dynamicGrid ? 1 : 0);
      // The blob must be in device memory (the weights buffer), not a host global.
      Value blobAddr = args.empty() ? Value() : args.front();
      for (int depth = 0; blobAddr && depth < 4; ++depth) {
        Operation *def = blobAddr.getDefiningOp();
        if (!def || def->getNumOperands() == 0)
          break;
        if (auto ptr = dyn_cast<memref::ExtractAlignedPointerAsIndexOp>(def)) {
          if (ptr.getSource().getDefiningOp<memref::GetGlobalOp>()) {
            call.emitError() << "the CUDA kernel's packed weight is a host global: the kernels "
                                "read their weights from the weights buffer (a weights file; "
                                "with embedded weights use --no-ukernels / kernels=false)";
            return signalPassFailure();
          }
          break;
        }
        blobAddr = def->getOperand(0);
      }
      OpBuilder b(call);
      Location loc = call.getLoc();
      auto dim = [&](int i) { return arith::ConstantIndexOp::create(b, loc, shape[i]).getResult(); };
      gpu::KernelDim3 grid{dynamicGrid ? call.getOperand(0) : dim(0), dim(1), dim(2)};
      gpu::KernelDim3 block{dim(3), dim(4), dim(5)};
      Value smem = arith::ConstantIntOp::create(b, loc, shape[6], 32);
      auto kernel = SymbolRefAttr::get(b.getStringAttr(kCUDAKernelModule), {kernelName});
      gpu::LaunchFuncOp::create(b, loc, kernel, grid, block, smem, args);
      call.erase();
    }
    sinkHostLoads(fn);
    // What is left on the host that touches memory and returns nothing (the sequential
    // loops of a scatter, whose updates must apply in order) runs on one GPU thread.
    SmallVector<Operation *> serial;
    for (Block &block : fn.getBody())
      for (Operation &op : block) {
        if (op.getNumResults() != 0 || isa<gpu::LaunchOp>(op) ||
            op.hasTrait<OpTrait::IsTerminator>())
          continue;
        bool loop = isa<LoopLikeOpInterface>(op);
        if (!loop && !touchesMemory(&op))
          continue;
        bool allocates = false;
        op.walk([&](Operation *inner) {
          allocates |= isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp>(inner);
        });
        if (!allocates)
          serial.push_back(&op);
      }
    for (Operation *op : serial) {
      OpBuilder b(op);
      Location loc = op->getLoc();
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      auto launch = gpu::LaunchOp::create(b, loc, one, one, one, one, one, one);
      Block &body = launch.getBody().front();
      OpBuilder end = OpBuilder::atBlockEnd(&body);
      gpu::TerminatorOp::create(end, loc);
      op->moveBefore(body.getTerminator());
    }
    WalkResult result = fn.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp>(op))
        return WalkResult::skip();
      if (touchesMemory(op) || (isa<LoopLikeOpInterface>(op) && !isa<func::FuncOp>(op))) {
        op->emitError() << "the CUDA target cannot run '" << op->getName()
                        << "' on the host: every buffer is in device memory";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
