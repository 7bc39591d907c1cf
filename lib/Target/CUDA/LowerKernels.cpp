//===- LowerKernels.cpp - sqz.packed_linear to CUDA kernel launches -------===//
//
// `sqz-cuda-lower-kernels`: each sqz.packed_linear with a CUDA blob (isa sm_80, sm_90,
// sm_90a; sqz-materialize{target=cuda}) becomes a gpu.launch_func of a generated gpu.func
// wrapper that calls the kernel's device function `sqz_cuk_<format>_<variant>_sm<80|90>`
// (lib/Kernels/CUDA/CudaKernels.h) from every thread, with the grid, block and dynamic
// shared memory that sqz_cuk_plan returns for the op's M (for a dynamic M, one launch per
// variant with grid x from M at run time). sqz-cuda-serialize links
// the function's NVPTX bitcode into the device module.
//
// Like sqz-cpu-lower-ukernels it runs on tensors, before convert-sqz-to-linalg, and writes
// the call in memref form between the bufferization bridges: x and the bias enter as
// `bufferization.to_buffer ... read_only`, y is a fresh memref.alloc (a device allocation
// after sqz-cuda-device-memory) returned as `bufferization.to_tensor ... restrict
// writable`. The blob is a private constant memref.global aligned to 256 bytes, which
// sqz-cpu-externalize-weights moves into the weights buffer (device memory) at that
// alignment. The launch takes the buffers' addresses as i64 values (device pointers); until
// the buffers are final it is a func.call marked with the launch shape (kCUDALaunchAttr),
// which sqz-cuda-map-to-gpu turns into the gpu.launch_func.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CUDA/Passes.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"

#include "CudaKernels.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"

#include <cstring>
#include <limits>

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZCUDALOWERKERNELS
#include "sqz/Target/CUDA/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

namespace {

/// The address of element `offset` of `buffer` (any layout) as an i64.
Value getAddress(OpBuilder &b, Location loc, Value buffer, unsigned elementBytes) {
  Value aligned = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer);
  auto meta = memref::ExtractStridedMetadataOp::create(b, loc, buffer);
  Value bytes = arith::MulIOp::create(b, loc, meta.getOffset(),
                                      arith::ConstantIndexOp::create(b, loc, elementBytes));
  Value address = arith::AddIOp::create(b, loc, aligned, bytes);
  return arith::IndexCastOp::create(b, loc, b.getI64Type(), address);
}

/// The bytes of the header of a constant blob, false when they are not available.
bool readHeader(Value blob, sqz_uk_header &header) {
  Attribute attr;
  if (!matchPattern(blob, m_Constant(&attr)))
    return false;
  ArrayRef<char> data;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *b = resource.getRawHandle().getBlob();
    if (!b)
      return false;
    data = b->getData();
  } else if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (dense.isSplat())
      return false;
    data = dense.getRawData();
  } else {
    return false;
  }
  if (data.size() < sizeof(sqz_uk_header))
    return false;
  std::memcpy(&header, data.data(), sizeof(header));
  return true;
}

struct SqzCUDALowerKernelsPass
    : public mlir::sqz::impl::SqzCUDALowerKernelsBase<SqzCUDALowerKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<PackedLinearOp> ops;
    module.walk([&](PackedLinearOp op) { ops.push_back(op); });
    if (ops.empty())
      return;
    for (PackedLinearOp op : ops)
      if (!op.isCUDA()) {
        op.emitOpError() << "holds a blob for the CPU (isa '" << op.getIsa()
                         << "'): sqz-cuda-lower-kernels launches CUDA kernels only "
                            "(sqz-materialize{target=cuda})";
        return signalPassFailure();
      }
    SymbolTable symbols(module);
    for (PackedLinearOp op : ops)
      if (failed(lower(op, symbols)))
        return signalPassFailure();
  }

  /// The gpu.module of the wrappers (created first in the module).
  gpu::GPUModuleOp getKernelModule(SymbolTable &symbols, Location loc) {
    if (auto existing = symbols.lookup<gpu::GPUModuleOp>(kCUDAKernelModule))
      return existing;
    ModuleOp module = getOperation();
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(&getContext()));
    OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
    auto gpuModule = gpu::GPUModuleOp::create(b, loc, kCUDAKernelModule);
    symbols.insert(gpuModule);
    return gpuModule;
  }

  /// The kernel wrapper calling `symbol` (the CudaKernels.h signature):
  ///   gpu.func @<symbol>_kernel(blob, x, M, ldx, bias, y, ldy : i64) kernel
  gpu::GPUFuncOp getWrapper(SymbolTable &symbols, StringRef symbol, Location loc) {
    gpu::GPUModuleOp gpuModule = getKernelModule(symbols, loc);
    SymbolTable inner(gpuModule);
    std::string name = (symbol + "_kernel").str();
    if (auto fn = inner.lookup<gpu::GPUFuncOp>(name))
      return fn;
    MLIRContext *ctx = &getContext();
    Type ptr = LLVM::LLVMPointerType::get(ctx), i64 = IntegerType::get(ctx, 64);
    OpBuilder b = OpBuilder::atBlockBegin(gpuModule.getBody());
    // An llvm.func declaration (a func.func one would be renamed _mlir_ciface_* by the NVVM
    // lowering); sqz-cuda-serialize links its definition.
    auto decl = inner.lookup<LLVM::LLVMFuncOp>(symbol);
    if (!decl) {
      auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                              {ptr, ptr, i64, i64, ptr, ptr, i64});
      decl = LLVM::LLVMFuncOp::create(b, loc, symbol, type);
      inner.insert(decl);
    }
    auto fn = gpu::GPUFuncOp::create(b, loc, name,
                                     FunctionType::get(ctx, SmallVector<Type>(7, i64), {}));
    fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), UnitAttr::get(ctx));
    inner.insert(fn);
    Block &body = fn.getBody().front();
    OpBuilder fb = OpBuilder::atBlockBegin(&body);
    auto args = body.getArguments();
    auto toPtr = [&](Value v) { return LLVM::IntToPtrOp::create(fb, loc, ptr, v).getResult(); };
    LLVM::CallOp::create(fb, loc, decl,
                         ValueRange{toPtr(args[0]), toPtr(args[1]), args[2], args[3],
                                    toPtr(args[4]), toPtr(args[5]), args[6]});
    gpu::ReturnOp::create(fb, loc);
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
    // M, the rows: the product of the input's leading dims, read at run time when one is
    // dynamic.
    if (xTy.isDynamicDim(rank - 1))
      return op.emitOpError() << "needs a static last input dim (" << k
                              << " in-features) for the CUDA kernels, got " << xTy;
    bool dynamicRows = !xTy.hasStaticShape();
    int64_t m = 1;
    for (int64_t d = 0; !dynamicRows && d + 1 < rank; ++d)
      m *= xTy.getDimSize(d);

    sqz_uk_header header;
    if (!readHeader(op.getBlob(), header))
      return op.emitOpError() << "blob data is not available (an elided or non-constant "
                                 "blob): cannot plan the kernel launch";
    int32_t sm = PackedLinearOp::getCUDAArch(op.getIsa());
    if (op.getIsa().ends_with("a")) // sm_90a: the architecture-specific (wgmma) kernels too
      sm |= SQZ_CUK_SM_ARCH_SPECIFIC;
    // The launches: sqz_cuk_plan's for a static M. For a dynamic M, one per range of M with
    // its own kernel variant (planned at the range's first M: only grid x depends on M
    // within it), each launched with an empty grid unless M is in its range.
    struct Planned {
      sqz_cuk_launch launch;
      int64_t lo, hi;
    };
    SmallVector<Planned> plans;
    auto plan = [&](int64_t lo, int64_t hi) -> LogicalResult {
      Planned p{{}, lo, hi};
      char error[512] = {0};
      if (lo < 1 || sqz_cuk_plan_checked(&header, lo, sm, SQZ_CUK_VARIANT_AUTO, &p.launch,
                                         error, sizeof(error)) != 0)
        return op.emitOpError() << "no CUDA kernel launch for M=" << lo << " on "
                                << op.getIsa() << ": " << (lo < 1 ? "empty input" : error);
      if (!p.launch.symbol)
        return op.emitOpError() << "sqz_cuk_plan named no kernel";
      plans.push_back(p);
      return success();
    };
    if (!dynamicRows) {
      if (failed(plan(m, m)))
        return failure();
    } else if (failed(plan(1, SQZ_CUK_GEMV_MAX_M)) ||
               failed(plan(SQZ_CUK_GEMV_MAX_M + 1, SQZ_CUK_GEMM64_MIN_M - 1)) ||
               failed(plan(SQZ_CUK_GEMM64_MIN_M, std::numeric_limits<int64_t>::max()))) {
      return failure();
    }

    OpBuilder b(op);
    // Input as [M, K].
    Value x2 = op.getInput();
    SmallVector<ReassociationIndices> toRows;
    if (rank == 1) {
      toRows = {{0, 1}};
      x2 = tensor::ExpandShapeOp::create(b, loc, RankedTensorType::get({1, k}, f32), x2,
                                         toRows);
    } else if (rank > 2) {
      ReassociationIndices lead;
      for (int64_t d = 0; d + 1 < rank; ++d)
        lead.push_back(d);
      toRows = {lead, {rank - 1}};
      x2 = tensor::CollapseShapeOp::create(b, loc, x2, toRows);
    }
    int64_t rowsDim = dynamicRows ? ShapedType::kDynamic : m;
    Value rows = dynamicRows ? tensor::DimOp::create(b, loc, x2, 0).getResult() : Value();
    // The kernel reads x through a raw pointer, which One-Shot Bufferize cannot see: the
    // to_buffer is the read it analyzes (unique attribute: no CSE with another call's).
    auto xBufTy = MemRefType::get(
        {rowsDim, k}, f32,
        StridedLayoutAttr::get(ctx, ShapedType::kDynamic, {ShapedType::kDynamic, 1}));
    auto xBufOp = bufferization::ToBufferOp::create(b, loc, xBufTy, x2, /*read_only=*/true);
    xBufOp->setAttr("sqz.ukernel_call", b.getI64IntegerAttr(callId));
    Value xAddr = getAddress(b, loc, xBufOp, 4);
    Value ldx = arith::IndexCastOp::create(
        b, loc, b.getI64Type(),
        memref::ExtractStridedMetadataOp::create(b, loc, xBufOp).getStrides()[0]);

    Attribute blobValue;
    matchPattern(op.getBlob(), m_Constant(&blobValue));
    auto blobTy = cast<RankedTensorType>(op.getBlob().getType());
    std::string globalName = "__sqz_cuk_blob";
    {
      OpBuilder gb = OpBuilder::atBlockEnd(module.getBody());
      auto global = memref::GlobalOp::create(
          gb, loc, gb.getStringAttr(globalName), gb.getStringAttr("private"),
          TypeAttr::get(MemRefType::get(blobTy.getShape(), gb.getI8Type())), blobValue,
          gb.getUnitAttr(), gb.getI64IntegerAttr(256));
      symbols.insert(global); // renamed to be unique
      globalName = global.getSymName().str();
    }
    Value blob = memref::GetGlobalOp::create(
        b, loc, MemRefType::get(blobTy.getShape(), b.getI8Type()), globalName);
    Value blobAddr = getAddress(b, loc, blob, 1);

    Value biasAddr;
    if (Value bias = op.getBias()) {
      auto biasBufTy =
          MemRefType::get({n}, f32, StridedLayoutAttr::get(ctx, ShapedType::kDynamic, {1}));
      auto biasBufOp = bufferization::ToBufferOp::create(b, loc, biasBufTy, bias, true);
      biasBufOp->setAttr("sqz.ukernel_call", b.getI64IntegerAttr(callId));
      biasAddr = getAddress(b, loc, biasBufOp, 4);
    } else {
      biasAddr = arith::ConstantIntOp::create(b, loc, 0, 64);
    }

    Value yBuf = memref::AllocOp::create(b, loc, MemRefType::get({rowsDim, n}, f32),
                                         dynamicRows ? ValueRange{rows} : ValueRange{});
    Value yAddr = getAddress(b, loc, yBuf, 4);
    Value m64 = dynamicRows
                    ? arith::IndexCastOp::create(b, loc, b.getI64Type(), rows).getResult()
                    : arith::ConstantIntOp::create(b, loc, m, 64).getResult();
    Value ldy = arith::ConstantIntOp::create(b, loc, n, 64);
    SmallVector<Value> args{blobAddr, xAddr, m64, ldx, biasAddr, yAddr, ldy};

    for (const Planned &p : plans) {
      const sqz_cuk_launch &launch = p.launch;
      gpu::GPUFuncOp wrapper = getWrapper(symbols, launch.symbol, loc);
      SmallVector<int64_t> shape{launch.grid[0],  launch.grid[1],  launch.grid[2],
                                 launch.block[0], launch.block[1], launch.block[2],
                                 launch.shared_bytes};
      SmallVector<Value> operands = args;
      std::string launcherName = wrapper.getName().str();
      SmallVector<Type> launcherInputs(wrapper.getFunctionType().getInputs());
      if (dynamicRows) {
        // Grid x: ceil(M / rows_per_block) when M is in [lo, hi], else 0 (nothing runs).
        auto index = [&](int64_t v) {
          return arith::ConstantIndexOp::create(b, loc, v).getResult();
        };
        int64_t perBlock = launch.rows_per_block;
        Value blocks = arith::DivUIOp::create(
            b, loc, arith::AddIOp::create(b, loc, rows, index(perBlock - 1)), index(perBlock));
        Value in = arith::AndIOp::create(
            b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, rows, index(p.lo)),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, rows, index(p.hi)));
        operands.insert(operands.begin(),
                        arith::SelectOp::create(b, loc, in, blocks, index(0)).getResult());
        launcherInputs.insert(launcherInputs.begin(), b.getIndexType());
        launcherName += "_dynamic_grid";
        shape[0] = -1;
      }
      // The launch, as a call until the buffers are final (kCUDALaunchAttr).
      func::FuncOp launcher = symbols.lookup<func::FuncOp>(launcherName);
      if (!launcher) {
        OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
        launcher = func::FuncOp::create(mb, loc, launcherName,
                                        FunctionType::get(ctx, launcherInputs, {}));
        launcher.setPrivate();
        symbols.insert(launcher);
      }
      auto call = func::CallOp::create(b, loc, launcher, operands);
      call->setAttr(kCUDALaunchAttr, b.getDenseI64ArrayAttr(shape));
      call->setAttr(kCUDAKernelAttr, FlatSymbolRefAttr::get(wrapper.getNameAttr()));
    }

    // Back to tensors, in the result's shape.
    Value y = bufferization::ToTensorOp::create(b, loc, RankedTensorType::get({rowsDim, n}, f32),
                                                yBuf, /*restrict=*/true, /*writable=*/true);
    if (rank == 1) {
      y = tensor::CollapseShapeOp::create(b, loc, yTy, y, toRows);
    } else if (rank > 2) {
      SmallVector<OpFoldResult> yShape;
      for (int64_t d = 0; d + 1 < rank; ++d)
        yShape.push_back(xTy.isDynamicDim(d)
                             ? OpFoldResult(tensor::DimOp::create(b, loc, op.getInput(), d))
                             : OpFoldResult(b.getIndexAttr(xTy.getDimSize(d))));
      yShape.push_back(b.getIndexAttr(n));
      y = tensor::ExpandShapeOp::create(b, loc, yTy, y, toRows, yShape);
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
