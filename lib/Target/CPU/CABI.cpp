//===- CABI.cpp - The C ABI of a compiled model ---------------------------===//
//
// `sqz-cpu-prepare-entry` (before bufferization) and `sqz-cpu-emit-c-abi` (after lowering to
// the LLVM dialect) together give a compiled model the artifact ABI v1 that lib/Runtime loads:
//   uint32_t sqz_abi_version(void);  void sqz_model_invoke(void **buffers);
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZCPUPREPAREENTRY
#define GEN_PASS_DEF_SQZCPUEMITCABI
#include "sqz/Target/CPU/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

/// Version of the artifact ABI; lib/Runtime checks it at load.
static constexpr int32_t kAbiVersion = 1;

namespace {
struct SqzCPUPrepareEntryPass
    : public mlir::sqz::impl::SqzCPUPrepareEntryBase<SqzCPUPrepareEntryPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fn = module.lookupSymbol<func::FuncOp>(entry);
    if (!fn) {
      module.emitError() << "entry function '" << entry << "' not found";
      return signalPassFailure();
    }
    auto checkStatic = [&](Type t, StringRef what, unsigned i) {
      auto ranked = dyn_cast<RankedTensorType>(t);
      if (!ranked || !ranked.hasStaticShape()) {
        fn.emitError() << "entry function " << what << " #" << i
                       << " must be a statically shaped tensor, got " << t;
        return false;
      }
      // The bare-pointer calling convention cannot pass empty buffers.
      if (ranked.getNumElements() == 0) {
        fn.emitError() << "entry function " << what << " #" << i
                       << " has no elements (" << t
                       << "); empty inputs and outputs are not supported";
        return false;
      }
      return true;
    };
    FunctionType type = fn.getFunctionType();
    for (auto [i, t] : llvm::enumerate(type.getInputs()))
      if (!checkStatic(t, "argument", i))
        return signalPassFailure();
    for (auto [i, t] : llvm::enumerate(type.getResults()))
      if (!checkStatic(t, "result", i))
        return signalPassFailure();
    // Inputs are caller-owned and const in the ABI: never bufferize in place.
    for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
      fn.setArgAttr(i, bufferization::BufferizationDialect::kWritableAttrName,
                    BoolAttr::get(&getContext(), false));
  }
};

struct SqzCPUEmitCABIPass
    : public mlir::sqz::impl::SqzCPUEmitCABIBase<SqzCPUEmitCABIPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto fn = module.lookupSymbol<LLVM::LLVMFuncOp>(entry);
    if (!fn) {
      module.emitError() << "entry function '" << entry
                         << "' was not lowered to the LLVM dialect";
      return signalPassFailure();
    }
    auto ptrTy = LLVM::LLVMPointerType::get(ctx);
    LLVM::LLVMFunctionType fnTy = fn.getFunctionType();
    if (!isa<LLVM::LLVMVoidType>(fnTy.getReturnType()) ||
        llvm::any_of(fnTy.getParams(),
                     [&](Type t) { return t != ptrTy; })) {
      fn.emitError() << "entry function must take only bare pointers and "
                        "return nothing (lower with the bare-pointer calling "
                        "convention and out-parameters), got "
                     << fnTy;
      return signalPassFailure();
    }
    if (module.lookupSymbol("sqz_model_invoke") ||
        module.lookupSymbol("sqz_abi_version")) {
      module.emitError() << "module already defines the C ABI symbols";
      return signalPassFailure();
    }
    fn.setLinkage(LLVM::Linkage::Internal);
    // I/O names and signedness live in the manifest; LLVM IR has no use for
    // the sqz.* argument attributes (and warns about them).
    for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
      for (NamedAttribute attr : llvm::to_vector(
               cast<FunctionOpInterface>(fn.getOperation()).getArgAttrs(i)))
        if (attr.getName().getValue().starts_with("sqz."))
          fn.removeArgAttr(i, attr.getName());

    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    Location loc = fn.getLoc();
    auto i32Ty = IntegerType::get(ctx, 32);

    auto version = LLVM::LLVMFuncOp::create(
        b, loc, "sqz_abi_version", LLVM::LLVMFunctionType::get(i32Ty, {}));
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(version.addEntryBlock(b));
      Value v = LLVM::ConstantOp::create(b, loc, i32Ty, kAbiVersion);
      LLVM::ReturnOp::create(b, loc, v);
    }

    auto invoke = LLVM::LLVMFuncOp::create(
        b, loc, "sqz_model_invoke",
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptrTy}));
    OpBuilder::InsertionGuard g(b);
    Block *body = invoke.addEntryBlock(b);
    b.setInsertionPointToStart(body);
    SmallVector<Value> args;
    for (unsigned i = 0, e = fnTy.getNumParams(); i < e; ++i) {
      Value slot = LLVM::GEPOp::create(
          b, loc, ptrTy, ptrTy, body->getArgument(0),
          ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
      args.push_back(LLVM::LoadOp::create(b, loc, ptrTy, slot));
    }
    LLVM::CallOp::create(b, loc, fn, args);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
  }
};
} // namespace
