//===- Device.cpp - Device memory, math expansion, one kernel module ------===//
//
// `sqz-cuda-device-memory`, `sqz-cuda-expand-math` and `sqz-cuda-merge-kernel-modules`,
// the passes of sqz-lower-to-cuda around the upstream outlining and NVVM lowering.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CUDA/Passes.h"

#include "MathF64.h"

#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZCUDADEVICEMEMORY
#define GEN_PASS_DEF_SQZCUDAEXPANDMATH
#define GEN_PASS_DEF_SQZCUDALIBDEVICECALLS
#define GEN_PASS_DEF_SQZCUDAMERGEKERNELMODULES
#include "sqz/Target/CUDA/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

namespace {

/// Whether `op` is a math function on f64 that device code can only get from libdevice
/// (what sqz-cuda-expand-math{libdevice-functions} leaves).
static bool needsLibdevice(Operation *op) {
  return isa<math::MathDialect>(op->getDialect()) && !isa<math::FmaOp>(op) &&
         op->getNumResults() == 1 && op->getResult(0).getType().isF64();
}

struct SqzCUDAExpandMathPass
    : public mlir::sqz::impl::SqzCUDAExpandMathBase<SqzCUDAExpandMathPass> {
  using Base::Base;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    // log10 is log / ln(10) (then a polynomial).
    SmallVector<math::Log10Op> log10s;
    getOperation()->walk([&](math::Log10Op op) { log10s.push_back(op); });
    for (math::Log10Op op : log10s) {
      OpBuilder b(op);
      Value log = math::LogOp::create(b, op.getLoc(), op.getOperand());
      Value scale = arith::ConstantOp::create(
          b, op.getLoc(), b.getFloatAttr(op.getType(), 0.43429448190325182));
      op.replaceAllUsesWith(arith::MulFOp::create(b, op.getLoc(), log, scale).getResult());
      op.erase();
    }
    // Functions the backend has no instruction for: first into other math ops...
    {
      RewritePatternSet patterns(ctx);
      math::populateExpansionPatterns(
          patterns, {"tan", "sinh", "cosh", "asinh", "acosh", "atanh", "exp2", "powf",
                     "fpowi", "ipowi", "rsqrt", "round", "roundeven"});
      if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
        return signalPassFailure();
    }
    // ... then the transcendental ones into polynomials (in f32).
    static constexpr llvm::StringLiteral kPolynomial[] = {
        "exp", "expm1", "log", "log2", "log1p", "tanh", "erf", "erfc", "sin",
        "cos", "atan", "atan2", "asin", "acos", "cbrt"};
    auto polynomial = [](StringRef name) {
      name.consume_front("math.");
      return llvm::is_contained(kPolynomial, name);
    };
    RewritePatternSet patterns(ctx);
    populateMathF32ExpansionPatterns(patterns, polynomial);
    populateMathPolynomialApproximationPatterns(patterns, polynomial);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // ... f64 exp and log (and log2, and through the expansions above exp2, pow, sinh, cosh,
    // asinh, acosh, atanh) by the f64 code of MathF64.cpp, and without libdevice its other
    // functions too (expm1, log1p, tanh, cbrt, sin, cos and through tan's expansion tan,
    // atan, atan2, asin, acos, erf, erfc) ...
    SmallVector<Operation *> f64Ops;
    getOperation()->walk([&](Operation *op) {
      if (cuda::expandsMathF64(op, libdeviceFunctions))
        f64Ops.push_back(op);
    });
    for (Operation *op : f64Ops) {
      OpBuilder b(op);
      op->getResult(0).replaceAllUsesWith(cuda::expandMathF64(b, op));
      op->erase();
    }
    // ... and what has a PTX instruction into NVVM intrinsics (convert-gpu-to-nvvm would
    // make the LLVM intrinsics libdevice calls), in f32 (f64 stays f64).
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isa<math::SqrtOp, math::FloorOp, math::CeilOp, math::TruncOp, math::AbsFOp,
              math::CopySignOp, arith::RemFOp>(op) &&
          isa<Float16Type, BFloat16Type, Float32Type, Float64Type>(op->getResult(0).getType()))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      OpBuilder b(op);
      Location loc = op->getLoc();
      Type type = op->getResult(0).getType();
      bool f64 = type.isF64();
      Type ct = f64 ? b.getF64Type() : b.getF32Type();
      Type it = f64 ? b.getI64Type() : b.getI32Type();
      std::string suffix = f64 ? "d" : "f";
      auto toCT = [&](Value v) {
        return type == ct ? v : arith::ExtFOp::create(b, loc, ct, v).getResult();
      };
      auto intrinsic = [&](StringRef name, Value v) {
        return LLVM::CallIntrinsicOp::create(b, loc, ct, b.getStringAttr(name + suffix),
                                             ValueRange{v})
            .getResult(0);
      };
      Value magnitudeMask = arith::ConstantIntOp::create(
          b, loc, it, f64 ? INT64_MAX : static_cast<int64_t>(0x7fffffff));
      Value signMask = arith::ConstantIntOp::create(
          b, loc, it, f64 ? INT64_MIN : static_cast<int64_t>(0x80000000u));
      Value x = toCT(op->getOperand(0));
      Value y;
      if (isa<math::CopySignOp>(op)) {
        // |x| with the sign bit of the second operand.
        Value z = toCT(op->getOperand(1));
        Value magnitude = arith::AndIOp::create(
            b, loc, arith::BitcastOp::create(b, loc, it, x), magnitudeMask);
        Value sign =
            arith::AndIOp::create(b, loc, arith::BitcastOp::create(b, loc, it, z), signMask);
        y = arith::BitcastOp::create(b, loc, ct, arith::OrIOp::create(b, loc, magnitude, sign));
      } else if (isa<arith::RemFOp>(op)) {
        // fmod: x - trunc(x / z) * z (exact while the quotient fits the mantissa).
        Value z = toCT(op->getOperand(1));
        Value q = intrinsic("llvm.nvvm.trunc.", arith::DivFOp::create(b, loc, x, z));
        y = arith::SubFOp::create(b, loc, x, arith::MulFOp::create(b, loc, q, z));
      } else if (isa<math::AbsFOp>(op)) {
        // Clear the sign bit (abs.f32 after the backend's peephole).
        y = arith::BitcastOp::create(
            b, loc, ct,
            arith::AndIOp::create(b, loc, arith::BitcastOp::create(b, loc, it, x),
                                  magnitudeMask));
      } else {
        StringRef name = llvm::TypeSwitch<Operation *, StringRef>(op)
                             .Case([](math::SqrtOp) { return "llvm.nvvm.sqrt.rn."; })
                             .Case([](math::FloorOp) { return "llvm.nvvm.floor."; })
                             .Case([](math::CeilOp) { return "llvm.nvvm.ceil."; })
                             .Default([](Operation *) { return "llvm.nvvm.trunc."; });
        y = intrinsic(name, x);
      }
      if (type != ct)
        y = arith::TruncFOp::create(b, loc, type, y);
      op->getResult(0).replaceAllUsesWith(y);
      op->erase();
    }
    // What is left: with libdevice-functions the f64 functions above other than exp and log
    // (for libdevice); anything else is an op no expansion knows (e.g. sincos, or f64
    // vectors: the polynomials are f32 only and the f64 code is scalar).
    WalkResult left = getOperation()->walk([&](Operation *op) {
      if (!isa<math::MathDialect>(op->getDialect()) ||
          (libdeviceFunctions && needsLibdevice(op)) ||
          isa<math::FmaOp, math::IsNaNOp, math::IsInfOp, math::IsFiniteOp, math::IsNormalOp,
              math::CountLeadingZerosOp, math::CountTrailingZerosOp, math::CtPopOp,
              math::AbsIOp>(op))
        return WalkResult::advance();
      op->emitError() << "the CUDA target has no device code for '" << op->getName()
                      << "' on " << op->getResult(0).getType()
                      << " (supported: f32, f16/bf16 computed in f32, and scalar f64 "
                         "functions; docs/CUDA.md, \"Math functions\")";
      return WalkResult::interrupt();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

/// Clones into `launch` (at `b`, which moves past each clone) the view chain over a
/// memref.get_global that `v` is (a value used inside the launch and defined outside it);
/// returns the clone, or null if `v` is not one.
static Value sinkGlobalView(Value v, gpu::LaunchOp launch, OpBuilder &b, IRMapping &mapping) {
  if (Value done = mapping.lookupOrNull(v))
    return done;
  Operation *def = v.getDefiningOp();
  if (!def || launch->isAncestor(def))
    return nullptr;
  if (!isa<memref::GetGlobalOp, ViewLikeOpInterface, memref::CollapseShapeOp,
           memref::ExpandShapeOp, memref::CastOp, arith::ConstantOp>(def))
    return nullptr;
  if (!isa<memref::GetGlobalOp, arith::ConstantOp>(def))
    for (Value operand : def->getOperands())
      if (!sinkGlobalView(operand, launch, b, mapping))
        return nullptr;
  Operation *clone = b.clone(*def, mapping);
  b.setInsertionPointAfter(clone);
  return clone->getResult(cast<OpResult>(v).getResultNumber());
}

/// Whether `v` (a memref) is, through views, a memref.get_global.
static bool isGlobalView(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (isa<memref::GetGlobalOp>(def))
      return true;
    if (def->getNumOperands() == 0 || !isa<MemRefType>(def->getOperand(0).getType()))
      return false;
    v = def->getOperand(0);
  }
  return false;
}

struct SqzCUDALibdeviceCallsPass
    : public mlir::sqz::impl::SqzCUDALibdeviceCallsBase<SqzCUDALibdeviceCallsPass> {
  using Base::Base;
  void runOnOperation() override {
    gpu::GPUModuleOp module = getOperation();
    LowerToLLVMOptions options(&getContext());
    LLVMTypeConverter converter(&getContext(), options);
    RewritePatternSet patterns(&getContext());
    populateLibDeviceConversionPatterns(converter, patterns);
    ConversionTarget target(getContext());
    target.markUnknownOpDynamicallyLegal([](Operation *op) { return !needsLibdevice(op); });
    target.addLegalDialect<LLVM::LLVMDialect>();
    if (failed(applyPartialConversion(module, target, std::move(patterns)))) {
      module.walk([](Operation *op) {
        if (needsLibdevice(op))
          op->emitError() << "no libdevice function for '" << op->getName() << "' on f64";
      });
      signalPassFailure();
    }
  }
};

struct SqzCUDADeviceMemoryPass
    : public mlir::sqz::impl::SqzCUDADeviceMemoryBase<SqzCUDADeviceMemoryPass> {
  using Base::Base;
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    SmallVector<Operation *> ops;
    fn.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp>(op))
        return WalkResult::skip();
      if (isa<memref::AllocOp, memref::DeallocOp, memref::AllocaOp>(op))
        ops.push_back(op);
      return WalkResult::advance();
    });
    for (Operation *op : ops) {
      OpBuilder b(op);
      Location loc = op->getLoc();
      if (auto alloca = dyn_cast<memref::AllocaOp>(op)) {
        alloca.emitError() << "the CUDA target cannot place a stack buffer on the device";
        return signalPassFailure();
      }
      // Synchronous forms: gpu-async-region (after outlining) puts them, like the launches,
      // on the function's one stream.
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        if (!alloc.getSymbolOperands().empty()) {
          alloc.emitError() << "the CUDA target does not support allocations with symbols";
          return signalPassFailure();
        }
        auto gpuAlloc = gpu::AllocOp::create(b, loc, alloc.getType(), Type(), ValueRange{},
                                             alloc.getDynamicSizes(), ValueRange{},
                                             /*hostShared=*/false);
        alloc.replaceAllUsesWith(gpuAlloc.getMemref());
      } else {
        auto dealloc = cast<memref::DeallocOp>(op);
        gpu::DeallocOp::create(b, loc, Type(), ValueRange{}, dealloc.getMemref());
      }
      op->erase();
    }
    // Globals a kernel reads move into the kernel (outlining copies them into the module).
    fn.walk([&](gpu::LaunchOp launch) {
      IRMapping mapping;
      OpBuilder b = OpBuilder::atBlockBegin(&launch.getBody().front());
      SmallVector<OpOperand *> uses;
      launch.getBody().walk([&](Operation *op) {
        for (OpOperand &operand : op->getOpOperands())
          if (isa<MemRefType>(operand.get().getType()) &&
              !launch->isAncestor(operand.get().getParentBlock()->getParentOp()) &&
              isGlobalView(operand.get()))
            uses.push_back(&operand);
      });
      for (OpOperand *use : uses)
        if (Value sunk = sinkGlobalView(use->get(), launch, b, mapping))
          use->set(sunk);
    });
  }
};

struct SqzCUDAMergeKernelModulesPass
    : public mlir::sqz::impl::SqzCUDAMergeKernelModulesBase<SqzCUDAMergeKernelModulesPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> gpuModules(module.getOps<gpu::GPUModuleOp>());
    if (gpuModules.size() < 2)
      return;
    // Outlining names each module uniquely but may give the kernels inside the same name:
    // a kernel is renamed after its module (unique among the top-level symbols).
    DenseMap<std::pair<StringAttr, StringAttr>, StringAttr> renamed;
    for (gpu::GPUModuleOp gpuModule : gpuModules) {
      SmallVector<gpu::GPUFuncOp> kernels;
      for (auto fn : gpuModule.getOps<gpu::GPUFuncOp>())
        if (fn.isKernel())
          kernels.push_back(fn);
      for (auto [i, fn] : llvm::enumerate(kernels)) {
        std::string name = gpuModule.getName().str();
        if (i > 0)
          name += "_k" + std::to_string(i);
        StringAttr newName = StringAttr::get(&getContext(), name);
        renamed[{gpuModule.getNameAttr(), fn.getNameAttr()}] = newName;
        // Nothing in the module refers to a kernel; the launches are updated below.
        SymbolTable::setSymbolName(fn, newName);
      }
    }
    gpu::GPUModuleOp target = gpuModules.front();
    SymbolTable targetSymbols(target);
    for (gpu::GPUModuleOp source : ArrayRef(gpuModules).drop_front()) {
      for (Operation &op : llvm::make_early_inc_range(source.getBody()->getOperations())) {
        auto sym = dyn_cast<SymbolOpInterface>(&op);
        if (!sym)
          continue;
        if (Operation *existing = targetSymbols.lookup(sym.getNameAttr())) {
          // The same global (or declaration) copied by outlining into every module.
          if (isa<gpu::GPUFuncOp>(op) || existing->getName() != op.getName()) {
            op.emitError() << "kernel modules define '" << sym.getName() << "' twice";
            return signalPassFailure();
          }
          op.erase();
          continue;
        }
        op.remove();
        targetSymbols.insert(&op);
      }
      source.erase();
    }
    StringAttr targetName = target.getNameAttr();
    module.walk([&](gpu::LaunchFuncOp launch) {
      StringAttr kernel = renamed.lookup({launch.getKernelModuleName(), launch.getKernelName()});
      if (!kernel)
        kernel = launch.getKernelName();
      launch.setKernelAttr(SymbolRefAttr::get(targetName, {FlatSymbolRefAttr::get(kernel)}));
    });
  }
};

} // namespace
