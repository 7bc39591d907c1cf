//===- LowerUKernels.cpp - sqz.packed_linear to microkernel calls ----------===//
//
// `sqz-cpu-lower-ukernels`: each sqz.packed_linear becomes calls of its microkernel
// `sqz_uk_<kernel>_<isa>` (lib/Kernels/CPU/Microkernels.h) on raw pointers, over column
// ranges in an scf.parallel (OpenMP later, like the tiled contractions).
//
// The pass runs on tensors, before convert-sqz-to-linalg (which takes every other sqz op)
// and One-Shot Bufferize. The call needs buffers, so it is written in memref form between
// the two documented bridges of the bufferization dialect: the input (and bias) enter as
// `bufferization.to_buffer ... read_only` (One-Shot Bufferize replaces it by the buffer of
// the tensor, so nothing is copied), and the result is a fresh `memref.alloc` handed back
// as `bufferization.to_tensor ... restrict writable` (the only form One-Shot Bufferize
// accepts: nothing else aliases the buffer). The blob is a private constant memref.global
// with 64-byte alignment, the alignment the kernels are promised.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"

#include "Microkernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZCPULOWERUKERNELS
#include "sqz/Target/CPU/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

namespace {

/// A pointer to element `offset` of `buffer` (any layout) as an !llvm.ptr.
Value getElementPointer(OpBuilder &b, Location loc, Value buffer, unsigned elementBytes) {
  Value aligned = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer);
  auto meta = memref::ExtractStridedMetadataOp::create(b, loc, buffer);
  Value bytes = arith::MulIOp::create(
      b, loc, meta.getOffset(), arith::ConstantIndexOp::create(b, loc, elementBytes));
  Value address = arith::AddIOp::create(b, loc, aligned, bytes);
  Value i64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), address);
  return LLVM::IntToPtrOp::create(b, loc, LLVM::LLVMPointerType::get(b.getContext()), i64);
}

Value toI64(OpBuilder &b, Location loc, Value index) {
  return arith::IndexCastOp::create(b, loc, b.getI64Type(), index);
}

struct SqzCPULowerUKernelsPass
    : public mlir::sqz::impl::SqzCPULowerUKernelsBase<SqzCPULowerUKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<PackedLinearOp> ops;
    module.walk([&](PackedLinearOp op) { ops.push_back(op); });
    if (ops.empty())
      return;
    if (chunks < 1 || minParallelWork < 0) {
      module.emitError() << "sqz-cpu-lower-ukernels: chunks must be >= 1 and "
                            "min-parallel-work >= 0";
      return signalPassFailure();
    }
    StringRef isa = ops.front().getIsa();
    for (PackedLinearOp op : ops)
      if (op.getIsa() != isa) {
        op.emitOpError() << "calls isa '" << op.getIsa() << "' but another packed linear of "
                         << "the module calls '" << isa
                         << "': one model links the kernels of one ISA level";
        return signalPassFailure();
      }
    SymbolTable symbols(module);
    for (PackedLinearOp op : ops)
      if (failed(lower(op, symbols)))
        return signalPassFailure();
    module->setAttr(kUKernelISAAttr, StringAttr::get(&getContext(), isa));
  }

  /// The external declaration of `name` with the kernel signature (Microkernels.h).
  func::FuncOp getKernelDecl(ModuleOp module, SymbolTable &symbols, StringRef name,
                             Location loc) {
    if (auto fn = symbols.lookup<func::FuncOp>(name))
      return fn;
    MLIRContext *ctx = module.getContext();
    Type ptr = LLVM::LLVMPointerType::get(ctx), i64 = IntegerType::get(ctx, 64);
    // (blob, x, M, ldx, bias, y, ldy, n_begin, n_end)
    auto type = FunctionType::get(ctx, {ptr, ptr, i64, i64, ptr, ptr, i64, i64, i64}, {});
    OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
    auto fn = func::FuncOp::create(b, loc, name, type);
    fn.setPrivate();
    symbols.insert(fn);
    return fn;
  }

  /// Numbers the calls (see the to_buffer of x).
  int64_t callId = 0;

  LogicalResult lower(PackedLinearOp op, SymbolTable &symbols) {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    Location loc = op.getLoc();
    auto xTy = op.getInput().getType();
    auto yTy = op.getResult().getType();
    int64_t rank = xTy.getRank(), k = op.getInFeatures(), n = op.getOutFeatures();
    Type f32 = Float32Type::get(ctx);

    Attribute blobValue;
    if (!matchPattern(op.getBlob(), m_Constant(&blobValue)))
      return op.emitOpError() << "blob must be a constant";
    auto blobTy = cast<RankedTensorType>(op.getBlob().getType());

    OpBuilder b(op);
    // Input as [M, K].
    Value x2 = op.getInput();
    if (rank == 1) {
      x2 = tensor::ExpandShapeOp::create(b, loc, RankedTensorType::get({1, k}, f32), x2,
                                         SmallVector<ReassociationIndices>{{0, 1}});
    } else if (rank > 2) {
      ReassociationIndices lead;
      for (int64_t d = 0; d + 1 < rank; ++d)
        lead.push_back(d);
      x2 = tensor::CollapseShapeOp::create(b, loc, x2,
                                           SmallVector<ReassociationIndices>{lead, {rank - 1}});
    }
    int64_t mStatic = cast<RankedTensorType>(x2.getType()).getDimSize(0);
    Value m = ShapedType::isDynamic(mStatic)
                  ? tensor::DimOp::create(b, loc, x2, 0).getResult()
                  : arith::ConstantIndexOp::create(b, loc, mStatic).getResult();

    // Buffers: rows of x with any stride (the kernel takes ldx), y fresh and contiguous.
    auto xBufTy = MemRefType::get(
        {mStatic, k}, f32,
        StridedLayoutAttr::get(ctx, ShapedType::kDynamic, {ShapedType::kDynamic, 1}));
    // The kernel reads x through a raw pointer, which One-Shot Bufferize cannot see: the
    // to_buffer is the read it analyzes, so it must stay right before the call. A unique
    // attribute keeps CSE from merging it with the to_buffer of another call on the same
    // tensor (which would move this read before ops that may then overwrite x in place).
    auto xBufOp = bufferization::ToBufferOp::create(b, loc, xBufTy, x2, /*read_only=*/true);
    xBufOp->setAttr("sqz.ukernel_call", b.getI64IntegerAttr(callId));
    Value xBuf = xBufOp;
    Value xPtr = getElementPointer(b, loc, xBuf, 4);
    Value ldx = memref::ExtractStridedMetadataOp::create(b, loc, xBuf).getStrides()[0];

    std::string globalName = "__sqz_uk_blob";
    {
      OpBuilder gb = OpBuilder::atBlockBegin(module.getBody());
      auto global = memref::GlobalOp::create(
          gb, loc, gb.getStringAttr(globalName), gb.getStringAttr("private"),
          TypeAttr::get(MemRefType::get(blobTy.getShape(), gb.getI8Type())), blobValue,
          gb.getUnitAttr(), gb.getI64IntegerAttr(64));
      symbols.insert(global); // renamed to be unique
      globalName = global.getSymName().str();
    }
    Value blob = memref::GetGlobalOp::create(
        b, loc, MemRefType::get(blobTy.getShape(), b.getI8Type()), globalName);
    Value blobPtr = getElementPointer(b, loc, blob, 1);

    Type ptrTy = LLVM::LLVMPointerType::get(ctx);
    Value biasPtr;
    if (Value bias = op.getBias()) {
      auto biasBufTy = MemRefType::get({n}, f32, StridedLayoutAttr::get(ctx, ShapedType::kDynamic, {1}));
      auto biasBufOp = bufferization::ToBufferOp::create(b, loc, biasBufTy, bias, true);
      biasBufOp->setAttr("sqz.ukernel_call", b.getI64IntegerAttr(callId));
      Value biasBuf = biasBufOp;
      biasPtr = getElementPointer(b, loc, biasBuf, 4);
    } else {
      biasPtr = LLVM::ZeroOp::create(b, loc, ptrTy);
    }

    auto yBufTy = MemRefType::get({mStatic, n}, f32);
    Value yBuf = memref::AllocOp::create(
        b, loc, yBufTy,
        ShapedType::isDynamic(mStatic) ? ValueRange{m} : ValueRange{});
    Value yPtr = getElementPointer(b, loc, yBuf, 4);

    std::string symbol = ("sqz_uk_" + op.getKernel() + "_" + op.getIsa()).str();
    func::FuncOp kernel = getKernelDecl(module, symbols, symbol, loc);
    Value m64 = toI64(b, loc, m), ldx64 = toI64(b, loc, ldx);
    Value n64 = arith::ConstantIntOp::create(b, loc, n, 64);
    auto call = [&](OpBuilder &cb, Location l, Value begin, Value end) {
      func::CallOp::create(cb, l, kernel,
                           ValueRange{blobPtr, xPtr, m64, ldx64, biasPtr, yPtr, n64,
                                      toI64(cb, l, begin), toI64(cb, l, end)});
    };

    // Column chunks of `step` columns (a multiple of SQZ_UK_N_STEP), about `chunks` of them.
    int64_t blocks = (n + SQZ_UK_N_STEP - 1) / SQZ_UK_N_STEP;
    int64_t perChunk = std::max<int64_t>(1, blocks / chunks);
    int64_t step = perChunk * SQZ_UK_N_STEP;
    int64_t numChunks = (n + step - 1) / step;
    int64_t work = k * n * (ShapedType::isDynamic(mStatic) ? 1 : mStatic);
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value nIndex = arith::ConstantIndexOp::create(b, loc, n);
    if (numChunks > 1 && work >= minParallelWork) {
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      Value count = arith::ConstantIndexOp::create(b, loc, numChunks);
      Value stepValue = arith::ConstantIndexOp::create(b, loc, step);
      scf::ParallelOp::create(
          b, loc, ValueRange{zero}, ValueRange{count}, ValueRange{one},
          [&](OpBuilder &pb, Location l, ValueRange ivs) {
            Value begin = arith::MulIOp::create(pb, l, ivs[0], stepValue);
            Value end = arith::MinSIOp::create(
                pb, l, arith::AddIOp::create(pb, l, begin, stepValue), nIndex);
            call(pb, l, begin, end);
            scf::ReduceOp::create(pb, l);
          });
    } else {
      call(b, loc, zero, nIndex);
    }

    // Back to tensors, in the result's shape.
    Value y2 = bufferization::ToTensorOp::create(b, loc, RankedTensorType::get({mStatic, n}, f32),
                                                 yBuf, /*restrict=*/true, /*writable=*/true);
    Value y = y2;
    if (rank == 1) {
      y = tensor::CollapseShapeOp::create(b, loc, yTy, y2,
                                          SmallVector<ReassociationIndices>{{0, 1}});
    } else if (rank > 2) {
      ReassociationIndices lead;
      for (int64_t d = 0; d + 1 < rank; ++d)
        lead.push_back(d);
      SmallVector<OpFoldResult> shape;
      for (int64_t d = 0; d + 1 < rank; ++d)
        shape.push_back(xTy.isDynamicDim(d)
                            ? OpFoldResult(tensor::DimOp::create(b, loc, op.getInput(), d)
                                               .getResult())
                            : OpFoldResult(b.getIndexAttr(xTy.getDimSize(d))));
      shape.push_back(b.getIndexAttr(n));
      y = tensor::ExpandShapeOp::create(b, loc, yTy, y2,
                                        SmallVector<ReassociationIndices>{lead, {rank - 1}},
                                        shape);
    }
    ++callId;
    op.getResult().replaceAllUsesWith(y);
    Operation *blobDef = op.getBlob().getDefiningOp();
    op.erase();
    if (blobDef && blobDef->use_empty())
      blobDef->erase();
    return success();
  }
};

} // namespace
