//===- CABI.cpp - The C ABI of a compiled model ---------------------------===//
//
// `sqz-cpu-prepare-entry` (before bufferization) and `sqz-cpu-emit-c-abi` (after lowering to
// the LLVM dialect) together give a compiled model the artifact ABI v1 that lib/Runtime loads:
//   uint32_t sqz_abi_version(void);  void sqz_model_invoke(void **buffers);
//   void sqz_model_set_num_threads(int32_t n);  // OpenMP threads of later invokes
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

/// Versions of the artifact ABI; lib/Runtime checks them at load. Version 2: the entry takes
/// the weights file's data after the outputs (the module is marked sqz.weights_file by
/// sqz-cpu-externalize-weights).
static constexpr int32_t kAbiVersion = 1;
static constexpr int32_t kAbiVersionWithWeights = 2;

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
        module.lookupSymbol("sqz_abi_version") ||
        module.lookupSymbol("sqz_model_set_num_threads")) {
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
      Value v = LLVM::ConstantOp::create(
          b, loc, i32Ty,
          module->hasAttr("sqz.weights_file") ? kAbiVersionWithWeights : kAbiVersion);
      LLVM::ReturnOp::create(b, loc, v);
    }

    // Thread count of the OpenMP regions: 0 (the default) leaves libomp's default, the
    // number of cores or OMP_NUM_THREADS. It is applied on the invoking thread at every
    // invoke, since omp_set_num_threads only sets the calling thread's ICV.
    auto voidTy = LLVM::LLVMVoidType::get(ctx);
    auto threadsVar = LLVM::GlobalOp::create(
        b, loc, i32Ty, /*isConstant=*/false, LLVM::Linkage::Internal,
        "sqz_num_threads", b.getI32IntegerAttr(0));
    auto ompSet = LLVM::LLVMFuncOp::create(
        b, loc, "omp_set_num_threads",
        LLVM::LLVMFunctionType::get(voidTy, {i32Ty}));
    auto setThreads = LLVM::LLVMFuncOp::create(
        b, loc, "sqz_model_set_num_threads",
        LLVM::LLVMFunctionType::get(voidTy, {i32Ty}));
    {
      OpBuilder::InsertionGuard g(b);
      Block *entryBlock = setThreads.addEntryBlock(b);
      b.setInsertionPointToStart(entryBlock);
      Value zero = LLVM::ConstantOp::create(b, loc, i32Ty, 0);
      Value n = entryBlock->getArgument(0);
      Value positive = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::sgt, n, zero);
      Value clamped = LLVM::SelectOp::create(b, loc, positive, n, zero);
      Value addr = LLVM::AddressOfOp::create(b, loc, threadsVar);
      LLVM::StoreOp::create(b, loc, clamped, addr);
      LLVM::ReturnOp::create(b, loc, ValueRange{});
    }

    auto invoke = LLVM::LLVMFuncOp::create(
        b, loc, "sqz_model_invoke",
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptrTy}));
    OpBuilder::InsertionGuard g(b);
    Block *body = invoke.addEntryBlock(b);
    b.setInsertionPointToStart(body);
    {
      Value addr = LLVM::AddressOfOp::create(b, loc, threadsVar);
      Value n = LLVM::LoadOp::create(b, loc, i32Ty, addr);
      Value zero = LLVM::ConstantOp::create(b, loc, i32Ty, 0);
      Value set = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::sgt, n, zero);
      Block *call = invoke.addBlock();
      Block *rest = invoke.addBlock();
      LLVM::CondBrOp::create(b, loc, set, call, rest);
      b.setInsertionPointToStart(call);
      LLVM::CallOp::create(b, loc, ompSet, ValueRange{n});
      LLVM::BrOp::create(b, loc, rest);
      b.setInsertionPointToStart(rest);
    }
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
