//===- EmulateLaunches.cpp - gpu.launch bodies as host loops ---------------===//
//
// `sqz-cuda-emulate-launches`: runs the kernels `sqz-cuda-map-to-gpu` generates on the host,
// for checking the generated code without a GPU (docs/CUDA.md, "Checking the generated code
// without a GPU"). Each gpu.launch becomes loops over its blocks; the body is split at its
// block-wide synchronization points (gpu.barrier and gpu.all_reduce, at the top level or in
// scf.for loops whose bounds are the same for every thread, which run on the host around
// their pieces), and each piece runs for every thread of the block in turn before the next
// piece starts. That is the CUDA semantics for a kernel without data races between
// synchronization points. Values a thread computes in one piece and uses in a later one (and
// such loops' iteration values) are kept in per-thread buffers; a gpu.all_reduce folds the
// threads' values in thread order.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CUDA/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallPtrSet.h"
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

/// Whether `op` is or contains a block-wide synchronization.
static bool containsBlockSync(Operation *op) {
  return op->walk([](Operation *inner) {
            return isBlockSync(inner) ? WalkResult::interrupt() : WalkResult::advance();
          }).wasInterrupted();
}

/// Rejects what the emulation cannot run, with an error naming it (the structure of the
/// synchronization points is checked while emulating).
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
  WalkResult result = launch.getBody().walk([&](Operation *op) {
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

/// One gpu.launch's emulation (see the file comment). The launch body is emitted level by
/// level: in a block, the ops between synchronization points form segments, each run for
/// every thread (x fastest) before the next; a gpu.barrier needs nothing more; a
/// gpu.all_reduce folds the threads' values in thread order; an scf.for that contains a
/// synchronization (its bounds the same for every thread) becomes a host loop whose body is
/// emitted the same way. Values that are the same for every thread (constants, the launch's
/// sizes and block ids, such loops' indices, reductions' results) live in `uniform`; values
/// of one thread used outside the segment that computes them (and such loops' iteration
/// values) live in per-thread buffers indexed by the linear thread id.
class Emulation {
public:
  explicit Emulation(gpu::LaunchOp launch) : launch(launch), loc(launch.getLoc()) {}
  LogicalResult run();

private:
  /// The ops of `block` (but its terminator), from `b`'s insertion point on.
  LogicalResult emitBlock(Block &block, OpBuilder &b);
  /// `segment` (ops of `block`) for every thread.
  LogicalResult emitSegment(ArrayRef<Operation *> segment, Block &block, OpBuilder &b);
  LogicalResult emitLoop(scf::ForOp loop, OpBuilder &b);
  LogicalResult emitAllReduce(gpu::AllReduceOp reduce, OpBuilder &b);
  /// Loops over the block's threads at `b`; `body` builds inside them with the thread's
  /// mapping (thread ids and linear id set).
  void forEachThread(OpBuilder &b, function_ref<void(OpBuilder &, IRMapping &, Value)> body);
  /// The per-thread buffer of `v` (allocated before the block loops on first use).
  FailureOr<Value> bufferOf(Value v, Operation *where);
  /// `v` in a thread's code: loaded from its buffer, or the uniform or outside value.
  Value threadValue(OpBuilder &b, IRMapping &mapping, Value v, Value linear);
  bool isUniform(Value v);

  gpu::LaunchOp launch;
  Location loc;
  gpu::KernelDim3 grid, block;
  gpu::KernelDim3 blockIvs;
  Value zero, one, threads;
  OpBuilder allocBuilder{launch}; // before the block loops
  IRMapping uniform;
  DenseMap<Value, Value> perThread;
  SmallVector<Value> buffers;
};

bool Emulation::isUniform(Value v) {
  if (perThread.count(v))
    return false;
  if (uniform.contains(v))
    return true;
  return !launch.getBody().isAncestor(v.getParentRegion()); // defined above the launch
}

FailureOr<Value> Emulation::bufferOf(Value v, Operation *where) {
  if (auto it = perThread.find(v); it != perThread.end())
    return it->second;
  Type t = v.getType();
  if (!t.isIntOrIndexOrFloat())
    return where->emitError() << "sqz-cuda-emulate-launches: a value of type " << t
                              << " is used across a block-wide synchronization";
  Value buffer = memref::AllocOp::create(
      allocBuilder, loc, MemRefType::get({ShapedType::kDynamic}, t), ValueRange{threads});
  buffers.push_back(buffer);
  perThread[v] = buffer;
  return buffer;
}

Value Emulation::threadValue(OpBuilder &b, IRMapping &mapping, Value v, Value linear) {
  if (Value mapped = mapping.lookupOrNull(v))
    return mapped;
  if (auto it = perThread.find(v); it != perThread.end())
    return memref::LoadOp::create(b, loc, it->second, linear);
  return v;
}

void Emulation::forEachThread(OpBuilder &b,
                              function_ref<void(OpBuilder &, IRMapping &, Value)> body) {
  OpBuilder tb = b;
  auto tz = scf::ForOp::create(tb, loc, zero, block.z, one);
  tb.setInsertionPointToStart(tz.getBody());
  auto ty = scf::ForOp::create(tb, loc, zero, block.y, one);
  tb.setInsertionPointToStart(ty.getBody());
  auto tx = scf::ForOp::create(tb, loc, zero, block.x, one);
  tb.setInsertionPointToStart(tx.getBody());
  IRMapping mapping = uniform;
  gpu::KernelDim3 threadIds = launch.getThreadIds();
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
  body(tb, mapping, linear);
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
                  .Case([&](gpu::BlockIdOp o) { return pick(o.getDimension(), blockIvs); })
                  .Case([&](gpu::BlockDimOp o) { return pick(o.getDimension(), block); })
                  .Case([&](gpu::GridDimOp o) { return pick(o.getDimension(), grid); });
    op->getResult(0).replaceAllUsesWith(v);
    op->erase();
  }
}

LogicalResult Emulation::emitSegment(ArrayRef<Operation *> segment, Block &block,
                                     OpBuilder &b) {
  if (segment.empty())
    return success();
  llvm::SmallPtrSet<Operation *, 16> inSegment(segment.begin(), segment.end());
  // Per-thread values of earlier segments (or iterations) the segment reads.
  SetVector<Value> reads;
  for (Operation *op : segment)
    op->walk([&](Operation *inner) {
      for (Value v : inner->getOperands())
        if (perThread.count(v))
          reads.insert(v);
    });
  // Results used outside the segment (a later segment, a synchronization, the terminator).
  SmallVector<std::pair<Value, Value>> stores;
  for (Operation *op : segment)
    for (Value result : op->getResults()) {
      bool outside = llvm::any_of(result.getUsers(), [&](Operation *user) {
        Operation *top = block.findAncestorOpInBlock(*user);
        return top && !inSegment.count(top);
      });
      if (!outside)
        continue;
      FailureOr<Value> buffer = bufferOf(result, op);
      if (failed(buffer))
        return failure();
      stores.emplace_back(result, *buffer);
    }
  forEachThread(b, [&](OpBuilder &tb, IRMapping &mapping, Value linear) {
    for (Value v : reads)
      mapping.map(v, memref::LoadOp::create(tb, loc, perThread.lookup(v), linear));
    for (Operation *op : segment)
      tb.clone(*op, mapping);
    for (auto [v, buffer] : stores)
      memref::StoreOp::create(tb, loc, mapping.lookup(v), buffer, linear);
  });
  return success();
}

LogicalResult Emulation::emitAllReduce(gpu::AllReduceOp reduce, OpBuilder &b) {
  auto it = perThread.find(reduce.getValue());
  if (it == perThread.end())
    return reduce->emitError() << "sqz-cuda-emulate-launches: the reduced value must be "
                                  "computed by each thread in the launch body";
  Value buffer = it->second;
  Value first = memref::LoadOp::create(b, loc, buffer, zero);
  bool ok = true;
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
  if (!ok)
    return reduce->emitError() << "sqz-cuda-emulate-launches: unknown gpu.all_reduce kind";
  uniform.map(reduce.getResult(), fold.getResult(0));
  return success();
}

LogicalResult Emulation::emitLoop(scf::ForOp loop, OpBuilder &b) {
  for (Value bound : {loop.getLowerBound(), loop.getUpperBound(), loop.getStep()})
    if (!isUniform(bound))
      return loop->emitError()
             << "sqz-cuda-emulate-launches: a loop that contains a block-wide "
                "synchronization must have bounds that are the same for every thread "
                "(constants, launch sizes, block ids, outer such loops' indices)";
  // The iteration values, one per thread.
  SmallVector<Value> iterBuffers;
  for (Value arg : loop.getRegionIterArgs()) {
    FailureOr<Value> buffer = bufferOf(arg, loop);
    if (failed(buffer))
      return failure();
    iterBuffers.push_back(*buffer);
  }
  if (!iterBuffers.empty())
    forEachThread(b, [&](OpBuilder &tb, IRMapping &mapping, Value linear) {
      for (auto [init, buffer] : llvm::zip(loop.getInitArgs(), iterBuffers))
        memref::StoreOp::create(tb, loc, threadValue(tb, mapping, init, linear), buffer, linear);
    });
  auto host = scf::ForOp::create(b, loc, uniform.lookupOrDefault(loop.getLowerBound()),
                                 uniform.lookupOrDefault(loop.getUpperBound()),
                                 uniform.lookupOrDefault(loop.getStep()));
  uniform.map(loop.getInductionVar(), host.getInductionVar());
  OpBuilder hb = OpBuilder::atBlockBegin(host.getBody());
  if (failed(emitBlock(*loop.getBody(), hb)))
    return failure();
  // The yielded values become the next iteration's (all loaded before any is stored).
  auto yield = cast<scf::YieldOp>(loop.getBody()->getTerminator());
  if (!iterBuffers.empty())
    forEachThread(hb, [&](OpBuilder &tb, IRMapping &mapping, Value linear) {
      SmallVector<Value> next = llvm::map_to_vector(yield.getOperands(), [&](Value v) {
        return threadValue(tb, mapping, v, linear);
      });
      for (auto [v, buffer] : llvm::zip(next, iterBuffers))
        memref::StoreOp::create(tb, loc, v, buffer, linear);
    });
  for (auto [result, buffer] : llvm::zip(loop.getResults(), iterBuffers))
    perThread[result] = buffer;
  return success();
}

LogicalResult Emulation::emitBlock(Block &body, OpBuilder &b) {
  SmallVector<Operation *> segment;
  for (Operation &op : body.without_terminator()) {
    if (op.hasTrait<OpTrait::ConstantLike>()) {
      b.clone(op, uniform); // the same for every thread
      continue;
    }
    if (!containsBlockSync(&op)) {
      segment.push_back(&op);
      continue;
    }
    if (failed(emitSegment(segment, body, b)))
      return failure();
    segment.clear();
    if (isa<gpu::BarrierOp>(op))
      continue; // every thread has run the segment before it
    if (auto reduce = dyn_cast<gpu::AllReduceOp>(op)) {
      if (failed(emitAllReduce(reduce, b)))
        return failure();
      continue;
    }
    if (auto loop = dyn_cast<scf::ForOp>(op)) {
      if (failed(emitLoop(loop, b)))
        return failure();
      continue;
    }
    Operation *sync = nullptr;
    op.walk([&](Operation *inner) {
      if (!sync && isBlockSync(inner))
        sync = inner;
    });
    return sync->emitError() << "sqz-cuda-emulate-launches: a block-wide synchronization "
                                "inside '"
                             << op.getName()
                             << "' cannot be emulated (only at the top level of the "
                                "gpu.launch body or in scf.for loops around it)";
  }
  return emitSegment(segment, body, b);
}

LogicalResult Emulation::run() {
  if (failed(checkEmulatable(launch)))
    return failure();
  OpBuilder b(launch);
  grid = launch.getGridSizeOperandValues();
  block = launch.getBlockSizeOperandValues();
  zero = arith::ConstantIndexOp::create(b, loc, 0);
  one = arith::ConstantIndexOp::create(b, loc, 1);
  threads = arith::MulIOp::create(b, loc, arith::MulIOp::create(b, loc, block.x, block.y),
                                  block.z);
  // The block's shared memory.
  SmallVector<Value> shared;
  for (BlockArgument attribution : launch.getWorkgroupAttributions()) {
    auto type = cast<MemRefType>(attribution.getType());
    auto hostType = MemRefType::get(type.getShape(), type.getElementType(), type.getLayout());
    Value alloc = memref::AllocOp::create(b, loc, hostType);
    shared.push_back(alloc);
    uniform.map(attribution, alloc);
  }
  // The blocks, z outermost.
  gpu::KernelDim3 gridArgs = launch.getGridSize(), blockArgs = launch.getBlockSize();
  uniform.map(gridArgs.x, grid.x);
  uniform.map(gridArgs.y, grid.y);
  uniform.map(gridArgs.z, grid.z);
  uniform.map(blockArgs.x, block.x);
  uniform.map(blockArgs.y, block.y);
  uniform.map(blockArgs.z, block.z);
  auto bz = scf::ForOp::create(b, loc, zero, grid.z, one);
  allocBuilder.setInsertionPoint(bz);
  b.setInsertionPointToStart(bz.getBody());
  auto by = scf::ForOp::create(b, loc, zero, grid.y, one);
  b.setInsertionPointToStart(by.getBody());
  auto bx = scf::ForOp::create(b, loc, zero, grid.x, one);
  b.setInsertionPointToStart(bx.getBody());
  blockIvs = {bx.getInductionVar(), by.getInductionVar(), bz.getInductionVar()};
  gpu::KernelDim3 blockIds = launch.getBlockIds();
  uniform.map(blockIds.x, bx.getInductionVar());
  uniform.map(blockIds.y, by.getInductionVar());
  uniform.map(blockIds.z, bz.getInductionVar());
  if (failed(emitBlock(launch.getBody().front(), b))) {
    bz->erase();
    for (Value v : llvm::concat<Value>(buffers, shared))
      v.getDefiningOp()->erase();
    return failure();
  }
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
      if (failed(Emulation(launch).run()))
        return signalPassFailure();
    if (failed(hostIntrinsics(getOperation())))
      signalPassFailure();
  }
};

} // namespace
