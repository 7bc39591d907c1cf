//===- EmulateLaunches.cpp - gpu.launch bodies as host loops ---------------===//
//
// `sqz-cuda-emulate-launches`: runs the kernels `sqz-cuda-map-to-gpu` generates on the host,
// for checking the generated code without a GPU (docs/CUDA.md, "Checking the generated code
// without a GPU"). Each gpu.launch becomes loops over its blocks; the body is split at its
// block-wide synchronization points (top-level gpu.barrier and gpu.all_reduce), and each piece
// runs for every thread of the block in turn before the next piece starts. That is the CUDA
// semantics for a kernel without data races between synchronization points. Values a thread
// computes in one piece and uses in a later one are kept in a per-thread buffer; a
// gpu.all_reduce folds the threads' values in thread order.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CUDA/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZCUDAEMULATELAUNCHES
#include "sqz/Target/CUDA/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

namespace {

/// `a op b` for a gpu.all_reduce operation on scalars of `a`'s type.
static FailureOr<Value> combine(OpBuilder &b, Location loc, gpu::AllReduceOperation kind,
                                Value a, Value v) {
  using K = gpu::AllReduceOperation;
  bool isFloat = isa<FloatType>(a.getType());
  switch (kind) {
  case K::ADD:
    return isFloat ? arith::AddFOp::create(b, loc, a, v).getResult()
                   : arith::AddIOp::create(b, loc, a, v).getResult();
  case K::MUL:
    return isFloat ? arith::MulFOp::create(b, loc, a, v).getResult()
                   : arith::MulIOp::create(b, loc, a, v).getResult();
  case K::MINIMUMF:
    return arith::MinimumFOp::create(b, loc, a, v).getResult();
  case K::MAXIMUMF:
    return arith::MaximumFOp::create(b, loc, a, v).getResult();
  case K::MINNUMF:
    return arith::MinNumFOp::create(b, loc, a, v).getResult();
  case K::MAXNUMF:
    return arith::MaxNumFOp::create(b, loc, a, v).getResult();
  case K::MINSI:
    return arith::MinSIOp::create(b, loc, a, v).getResult();
  case K::MAXSI:
    return arith::MaxSIOp::create(b, loc, a, v).getResult();
  case K::MINUI:
    return arith::MinUIOp::create(b, loc, a, v).getResult();
  case K::MAXUI:
    return arith::MaxUIOp::create(b, loc, a, v).getResult();
  case K::AND:
    return arith::AndIOp::create(b, loc, a, v).getResult();
  case K::OR:
    return arith::OrIOp::create(b, loc, a, v).getResult();
  case K::XOR:
    return arith::XOrIOp::create(b, loc, a, v).getResult();
  }
  return failure();
}

/// Whether `op` synchronizes the block (a split point of the emulation).
static bool isBlockSync(Operation *op) { return isa<gpu::BarrierOp, gpu::AllReduceOp>(op); }

/// Rejects what the emulation cannot run, with an error naming it.
static LogicalResult checkEmulatable(gpu::LaunchOp launch) {
  auto fail = [&](Operation *op, const Twine &why) {
    op->emitError() << "sqz-cuda-emulate-launches: " << why;
    return failure();
  };
  if (!launch.getBody().hasOneBlock())
    return fail(launch, "a gpu.launch body with more than one block is not supported");
  if (!launch.getAsyncDependencies().empty() || launch.getAsyncToken())
    return fail(launch, "asynchronous gpu.launch is not supported (emulate before "
                        "gpu-async-region)");
  if (launch.hasClusterSize())
    return fail(launch, "thread-block clusters are not supported");
  if (launch.getDynamicSharedMemorySize())
    return fail(launch, "dynamic shared memory is not supported");
  if (!launch.getPrivateAttributions().empty())
    return fail(launch, "private memory attributions are not supported");
  Block &body = launch.getBody().front();
  WalkResult result = launch.getBody().walk([&](Operation *op) {
    if (isBlockSync(op) && op->getBlock() != &body) {
      (void)fail(op, "a block-wide synchronization inside a loop or branch cannot be "
                     "emulated (only at the top level of the gpu.launch body)");
      return WalkResult::interrupt();
    }
    if (auto reduce = dyn_cast<gpu::AllReduceOp>(op); reduce && !reduce.getOp()) {
      (void)fail(op, "gpu.all_reduce with a custom combiner region is not supported");
      return WalkResult::interrupt();
    }
    if (isa<gpu::ShuffleOp, gpu::SubgroupReduceOp, gpu::LaneIdOp, gpu::SubgroupIdOp,
            gpu::NumSubgroupsOp, gpu::SubgroupSizeOp, gpu::DynamicSharedMemoryOp,
            gpu::GlobalIdOp, gpu::ClusterIdOp, gpu::ClusterDimOp, gpu::ClusterBlockIdOp,
            gpu::ClusterDimBlocksOp>(op)) {
      (void)fail(op, "'" + op->getName().getStringRef() + "' is not supported");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

/// Replaces `launch` by host loops (see the file comment).
static LogicalResult emulate(gpu::LaunchOp launch) {
  if (failed(checkEmulatable(launch)))
    return failure();
  Location loc = launch.getLoc();
  Block &body = launch.getBody().front();

  // Pieces: top-level ops between synchronization points.
  SmallVector<SmallVector<Operation *>> pieces(1);
  SmallVector<Operation *> syncs; // syncs[i] follows pieces[i]
  DenseMap<Operation *, unsigned> pieceOf;
  for (Operation &op : body.without_terminator()) {
    if (isBlockSync(&op)) {
      syncs.push_back(&op);
      pieces.emplace_back();
      continue;
    }
    if (op.hasTrait<OpTrait::ConstantLike>())
      continue; // cloned once per block, before the pieces
    pieceOf[&op] = pieces.size() - 1;
    pieces.back().push_back(&op);
  }
  // Values a thread keeps from one piece to a later one (or to a gpu.all_reduce).
  SmallVector<Value> kept;
  DenseMap<Value, unsigned> keptIndex;
  for (unsigned index = 0; index < pieces.size(); ++index)
    for (Operation *op : pieces[index])
      for (Value result : op->getResults()) {
        bool later = llvm::any_of(result.getUsers(), [&](Operation *user) {
          Operation *top = body.findAncestorOpInBlock(*user);
          if (!top)
            return false;
          if (isBlockSync(top))
            return llvm::find(syncs, top) - syncs.begin() >= static_cast<long>(index);
          auto it = pieceOf.find(top);
          return it != pieceOf.end() && it->second > index;
        });
        if (!later)
          continue;
        Type t = result.getType();
        if (!t.isIntOrIndexOrFloat())
          return op->emitError() << "sqz-cuda-emulate-launches: a value of type " << t
                                 << " is used across a block-wide synchronization";
        keptIndex[result] = kept.size();
        kept.push_back(result);
      }
  for (Operation *sync : syncs)
    if (auto reduce = dyn_cast<gpu::AllReduceOp>(sync))
      if (!keptIndex.count(reduce.getValue()))
        return reduce->emitError() << "sqz-cuda-emulate-launches: the reduced value must be "
                                      "computed by each thread in the launch body";

  OpBuilder b(launch);
  gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
  gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value threads = arith::MulIOp::create(
      b, loc, arith::MulIOp::create(b, loc, block.x, block.y), block.z);
  // Per-thread buffers (indexed by the linear thread id) and the block's shared memory.
  SmallVector<Value> buffers;
  for (Value v : kept)
    buffers.push_back(memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, v.getType()), ValueRange{threads}));
  IRMapping blockMapping;
  SmallVector<Value> shared;
  for (BlockArgument attribution : launch.getWorkgroupAttributions()) {
    auto type = cast<MemRefType>(attribution.getType());
    auto hostType = MemRefType::get(type.getShape(), type.getElementType(), type.getLayout());
    Value alloc = memref::AllocOp::create(b, loc, hostType);
    shared.push_back(alloc);
    blockMapping.map(attribution, alloc);
  }

  // The blocks, z outermost.
  gpu::KernelDim3 blockIds = launch.getBlockIds(), threadIds = launch.getThreadIds();
  gpu::KernelDim3 gridArgs = launch.getGridSize(), blockArgs = launch.getBlockSize();
  blockMapping.map(gridArgs.x, grid.x);
  blockMapping.map(gridArgs.y, grid.y);
  blockMapping.map(gridArgs.z, grid.z);
  blockMapping.map(blockArgs.x, block.x);
  blockMapping.map(blockArgs.y, block.y);
  blockMapping.map(blockArgs.z, block.z);
  auto bz = scf::ForOp::create(b, loc, zero, grid.z, one);
  b.setInsertionPointToStart(bz.getBody());
  auto by = scf::ForOp::create(b, loc, zero, grid.y, one);
  b.setInsertionPointToStart(by.getBody());
  auto bx = scf::ForOp::create(b, loc, zero, grid.x, one);
  b.setInsertionPointToStart(bx.getBody());
  blockMapping.map(blockIds.x, bx.getInductionVar());
  blockMapping.map(blockIds.y, by.getInductionVar());
  blockMapping.map(blockIds.z, bz.getInductionVar());
  for (Operation &op : body.without_terminator())
    if (op.hasTrait<OpTrait::ConstantLike>())
      b.clone(op, blockMapping);

  bool ok = true;
  for (auto [index, piece] : llvm::enumerate(pieces)) {
    // This piece for every thread, x fastest.
    OpBuilder tb = b;
    auto tz = scf::ForOp::create(tb, loc, zero, block.z, one);
    tb.setInsertionPointToStart(tz.getBody());
    auto ty = scf::ForOp::create(tb, loc, zero, block.y, one);
    tb.setInsertionPointToStart(ty.getBody());
    auto tx = scf::ForOp::create(tb, loc, zero, block.x, one);
    tb.setInsertionPointToStart(tx.getBody());
    IRMapping mapping = blockMapping;
    mapping.map(threadIds.x, tx.getInductionVar());
    mapping.map(threadIds.y, ty.getInductionVar());
    mapping.map(threadIds.z, tz.getInductionVar());
    Value linear = arith::AddIOp::create(
        tb, loc,
        arith::MulIOp::create(
            tb, loc,
            arith::AddIOp::create(tb, loc,
                                  arith::MulIOp::create(tb, loc, tz.getInductionVar(), block.y),
                                  ty.getInductionVar()),
            block.x),
        tx.getInductionVar());
    // What earlier pieces kept for this thread.
    for (auto [keptValue, buffer] : llvm::zip(kept, buffers)) {
      Value v = keptValue;
      Operation *def = v.getDefiningOp();
      if (pieceOf.lookup(def) >= index)
        continue;
      bool used = llvm::any_of(piece, [&](Operation *op) {
        bool found = false;
        op->walk([&](Operation *inner) {
          found |= llvm::is_contained(inner->getOperands(), v);
        });
        return found;
      });
      if (used)
        mapping.map(v, memref::LoadOp::create(tb, loc, buffer, linear));
    }
    for (Operation *op : piece)
      tb.clone(*op, mapping);
    for (Operation *op : piece)
      for (Value result : op->getResults())
        if (auto it = keptIndex.find(result); it != keptIndex.end())
          memref::StoreOp::create(tb, loc, mapping.lookup(result), buffers[it->second],
                                  linear);
    // gpu.thread_id / block_id / block_dim / grid_dim ops in the cloned code.
    SmallVector<Operation *> idOps;
    tx.getBody()->walk([&](Operation *op) {
      if (isa<gpu::ThreadIdOp, gpu::BlockIdOp, gpu::BlockDimOp, gpu::GridDimOp>(op))
        idOps.push_back(op);
    });
    for (Operation *op : idOps) {
      auto pick = [&](gpu::Dimension d, gpu::KernelDim3 dims) {
        return d == gpu::Dimension::x ? dims.x : d == gpu::Dimension::y ? dims.y : dims.z;
      };
      Value v = llvm::TypeSwitch<Operation *, Value>(op)
                    .Case([&](gpu::ThreadIdOp o) {
                      return pick(o.getDimension(), {tx.getInductionVar(), ty.getInductionVar(),
                                                     tz.getInductionVar()});
                    })
                    .Case([&](gpu::BlockIdOp o) {
                      return pick(o.getDimension(), {bx.getInductionVar(), by.getInductionVar(),
                                                     bz.getInductionVar()});
                    })
                    .Case([&](gpu::BlockDimOp o) { return pick(o.getDimension(), block); })
                    .Case([&](gpu::GridDimOp o) { return pick(o.getDimension(), grid); });
      op->getResult(0).replaceAllUsesWith(v);
      op->erase();
    }
    if (index == syncs.size())
      break;
    // The synchronization after the piece: a barrier needs nothing more (every thread has
    // run the piece); a reduction folds the threads' values in thread order.
    auto reduce = dyn_cast<gpu::AllReduceOp>(syncs[index]);
    if (!reduce)
      continue;
    Value buffer = buffers[keptIndex.lookup(reduce.getValue())];
    Value first = memref::LoadOp::create(b, loc, buffer, zero);
    auto fold = scf::ForOp::create(
        b, loc, one, threads, one, ValueRange{first},
        [&](OpBuilder &nb, Location, Value t, ValueRange acc) {
          Value v = memref::LoadOp::create(nb, loc, buffer, t);
          FailureOr<Value> next = combine(nb, loc, *reduce.getOp(), acc[0], v);
          if (failed(next)) {
            ok = false;
            next = acc[0];
          }
          scf::YieldOp::create(nb, loc, *next);
        });
    blockMapping.map(reduce.getResult(), fold.getResult(0));
  }
  if (!ok)
    return launch->emitError() << "sqz-cuda-emulate-launches: unknown gpu.all_reduce kind";

  b.setInsertionPointAfter(bz);
  for (Value v : llvm::concat<Value>(buffers, shared))
    memref::DeallocOp::create(b, loc, v);
  launch->erase();
  return success();
}

/// The NVVM intrinsics sqz-cuda-expand-math emits, as the host's math ops (the same IEEE
/// results: sqrt.rn is the correctly rounded square root; floor, ceil and trunc are exact).
static LogicalResult hostIntrinsics(Operation *root) {
  SmallVector<LLVM::CallIntrinsicOp> calls;
  root->walk([&](LLVM::CallIntrinsicOp call) {
    if (call.getIntrin().starts_with("llvm.nvvm."))
      calls.push_back(call);
  });
  for (LLVM::CallIntrinsicOp call : calls) {
    StringRef name = call.getIntrin();
    name.consume_front("llvm.nvvm.");
    if (call->getNumOperands() != 1 || call->getNumResults() != 1)
      return call->emitError() << "sqz-cuda-emulate-launches: unexpected call of '"
                               << call.getIntrin() << "'";
    StringRef base = name.rsplit('.').first;
    OpBuilder b(call);
    Location loc = call.getLoc();
    Value x = call->getOperand(0);
    Value y;
    if (base == "sqrt.rn")
      y = math::SqrtOp::create(b, loc, x);
    else if (base == "floor")
      y = math::FloorOp::create(b, loc, x);
    else if (base == "ceil")
      y = math::CeilOp::create(b, loc, x);
    else if (base == "trunc")
      y = math::TruncOp::create(b, loc, x);
    else
      return call->emitError() << "sqz-cuda-emulate-launches: no host equivalent of '"
                               << call.getIntrin() << "'";
    call->getResult(0).replaceAllUsesWith(y);
    call->erase();
  }
  return success();
}

struct SqzCUDAEmulateLaunchesPass
    : public mlir::sqz::impl::SqzCUDAEmulateLaunchesBase<SqzCUDAEmulateLaunchesPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation()->walk([&](gpu::LaunchOp launch) { launches.push_back(launch); });
    for (gpu::LaunchOp launch : launches)
      if (failed(emulate(launch)))
        return signalPassFailure();
    if (failed(hostIntrinsics(getOperation())))
      signalPassFailure();
  }
};

} // namespace
