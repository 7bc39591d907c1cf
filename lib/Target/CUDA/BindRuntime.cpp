//===- BindRuntime.cpp - Route mgpu* calls through sqz_gpu_api ------------===//
//
// See include/sqz/Target/CUDA/BindRuntime.h. What LLVM 22's MLIR emits (checked with
// mlir-opt --convert-gpu-to-nvvm --gpu-module-to-binary --gpu-to-llvm and mlir-translate):
//
//   ptr  @mgpuModuleLoadJIT(ptr, i32)        gpu.binary, format=isa (PTX; i32: JIT opt level)
//   ptr  @mgpuModuleLoad(ptr, i64)           gpu.binary, format=bin/fatbin (i64: bytes)
//   void @mgpuModuleUnload(ptr)
//   ptr  @mgpuModuleGetFunction(ptr, ptr)
//   void @mgpuLaunchKernel(ptr, i64 x6, i32, ptr, ptr, ptr, i64)
//   void @mgpuLaunchClusterKernel(ptr, i64 x9, i32, ptr, ptr, ptr)
//   ptr  @mgpuStreamCreate()                 void @mgpuStreamDestroy(ptr)
//   void @mgpuStreamSynchronize(ptr)         void @mgpuStreamWaitEvent(ptr, ptr)
//   ptr  @mgpuEventCreate()                  void @mgpuEventDestroy(ptr)
//   void @mgpuEventSynchronize(ptr)          void @mgpuEventRecord(ptr, ptr)
//   ptr  @mgpuMemAlloc(i64, ptr, i8)         i8: host_shared (a C bool)
//   void @mgpuMemFree(ptr, ptr)              void @mgpuMemcpy(ptr, ptr, i64, ptr)
//   void @mgpuMemset32(ptr, i32, i64, ptr)   void @mgpuMemset16(ptr, i16, i64, ptr)
//   void @mgpuSetDefaultDevice(i32)          dropped: the runtime chose the device
//
// The module loads sit in internal functions `<gpu.module>_load` / `_unload` referenced from
// llvm.global_ctors / llvm.global_dtors (priority 123), storing the CUmodule in an internal
// global `<gpu.module>_module` that each launch reads. Everything else MLIR can emit
// (mgpuMemHostRegisterMemRef, the cuSPARSE/cuSPARSELt wrappers, mgpuTensorMapEncodeTiledMemref)
// has no table entry and is rejected with a diagnostic.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CUDA/BindRuntime.h"

#include "sqz-c/sqz_gpu.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DerivedTypes.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstddef>
#include <tuple>

using namespace llvm;

static_assert(sizeof(void *) == 8, "the table layout is computed for a 64-bit host");

namespace {

/// How a call's arguments become the table function's.
enum class Adapt {
  Same,       ///< identical signature
  JitLoad,    ///< mgpuModuleLoadJIT(ptr, i32 optLevel) -> module_load(ptr, size_t bytes)
  BoolArg2,   ///< argument 2 is an i8 C bool -> i1 zeroext
  ZextArg1,   ///< argument 1 is an i16 -> zeroext (C's uint16_t)
  Drop,       ///< the call is removed (void result)
};

struct Mapping {
  StringRef name;
  /// Offset of the table field; unused for Adapt::Drop.
  size_t offset;
  Adapt adapt;
};

#define SQZ_FIELD(field) offsetof(sqz_gpu_api, field)

const Mapping kMappings[] = {
    {"mgpuModuleLoad", SQZ_FIELD(module_load), Adapt::Same},
    {"mgpuModuleLoadJIT", SQZ_FIELD(module_load), Adapt::JitLoad},
    {"mgpuModuleUnload", SQZ_FIELD(module_unload), Adapt::Same},
    {"mgpuModuleGetFunction", SQZ_FIELD(module_get_function), Adapt::Same},
    {"mgpuLaunchKernel", SQZ_FIELD(launch_kernel), Adapt::Same},
    {"mgpuLaunchClusterKernel", SQZ_FIELD(launch_cluster_kernel), Adapt::Same},
    {"mgpuStreamCreate", SQZ_FIELD(stream_create), Adapt::Same},
    {"mgpuStreamDestroy", SQZ_FIELD(stream_destroy), Adapt::Same},
    {"mgpuStreamSynchronize", SQZ_FIELD(stream_synchronize), Adapt::Same},
    {"mgpuStreamWaitEvent", SQZ_FIELD(stream_wait_event), Adapt::Same},
    {"mgpuEventCreate", SQZ_FIELD(event_create), Adapt::Same},
    {"mgpuEventDestroy", SQZ_FIELD(event_destroy), Adapt::Same},
    {"mgpuEventSynchronize", SQZ_FIELD(event_synchronize), Adapt::Same},
    {"mgpuEventRecord", SQZ_FIELD(event_record), Adapt::Same},
    {"mgpuMemAlloc", SQZ_FIELD(mem_alloc), Adapt::BoolArg2},
    {"mgpuMemFree", SQZ_FIELD(mem_free), Adapt::Same},
    {"mgpuMemcpy", SQZ_FIELD(memcpy), Adapt::Same},
    {"mgpuMemset32", SQZ_FIELD(memset32), Adapt::Same},
    {"mgpuMemset16", SQZ_FIELD(memset16), Adapt::ZextArg1},
    {"mgpuSetDefaultDevice", 0, Adapt::Drop},
};

constexpr size_t kLastErrorOffset = SQZ_FIELD(last_error);
#undef SQZ_FIELD

/// The signature MLIR 22 declares each mgpu* function with.
FunctionType *expectedType(StringRef name, LLVMContext &ctx) {
  Type *ptr = PointerType::getUnqual(ctx);
  Type *i8 = Type::getInt8Ty(ctx), *i16 = Type::getInt16Ty(ctx), *i32 = Type::getInt32Ty(ctx);
  Type *i64 = Type::getInt64Ty(ctx), *v = Type::getVoidTy(ctx);
  auto fn = [](Type *result, ArrayRef<Type *> params) {
    return FunctionType::get(result, params, false);
  };
  return StringSwitch<FunctionType *>(name)
      .Case("mgpuModuleLoad", fn(ptr, {ptr, i64}))
      .Case("mgpuModuleLoadJIT", fn(ptr, {ptr, i32}))
      .Case("mgpuModuleUnload", fn(v, {ptr}))
      .Case("mgpuModuleGetFunction", fn(ptr, {ptr, ptr}))
      .Case("mgpuLaunchKernel",
            fn(v, {ptr, i64, i64, i64, i64, i64, i64, i32, ptr, ptr, ptr, i64}))
      .Case("mgpuLaunchClusterKernel",
            fn(v, {ptr, i64, i64, i64, i64, i64, i64, i64, i64, i64, i32, ptr, ptr, ptr}))
      .Case("mgpuStreamCreate", fn(ptr, {}))
      .Case("mgpuStreamDestroy", fn(v, {ptr}))
      .Case("mgpuStreamSynchronize", fn(v, {ptr}))
      .Case("mgpuStreamWaitEvent", fn(v, {ptr, ptr}))
      .Case("mgpuEventCreate", fn(ptr, {}))
      .Case("mgpuEventDestroy", fn(v, {ptr}))
      .Case("mgpuEventSynchronize", fn(v, {ptr}))
      .Case("mgpuEventRecord", fn(v, {ptr, ptr}))
      .Case("mgpuMemAlloc", fn(ptr, {i64, ptr, i8}))
      .Case("mgpuMemFree", fn(v, {ptr, ptr}))
      .Case("mgpuMemcpy", fn(v, {ptr, ptr, i64, ptr}))
      .Case("mgpuMemset32", fn(v, {ptr, i32, i64, ptr}))
      .Case("mgpuMemset16", fn(v, {ptr, i16, i64, ptr}))
      .Case("mgpuSetDefaultDevice", fn(v, {i32}))
      .Default(nullptr);
}

/// What an unsupported mgpu* function comes from, for the diagnostic.
StringRef unsupportedOrigin(StringRef name) {
  if (name.starts_with("mgpuMemHost"))
    return "gpu.host_register/gpu.host_unregister";
  if (name == "mgpuTensorMapEncodeTiledMemref")
    return "nvgpu.tma.create.descriptor";
  if (name.contains("Sp") || name.contains("Sparse") || name.contains("Dn") ||
      name.contains("SDDMM") || name.starts_with("mgpuCreate") ||
      name.starts_with("mgpuDestroy") || name == "mgpuSetCsrPointers")
    return "the gpu dialect's cuSPARSE/cuSPARSELt ops";
  return "an MLIR GPU runtime feature";
}

std::string typeText(Type *type) {
  std::string text;
  raw_string_ostream os(text);
  type->print(os);
  return text;
}

Error failure(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// One entry of llvm.global_ctors / llvm.global_dtors.
struct Structor {
  uint64_t priority;
  /// Position in the list: equal priorities run in list order.
  unsigned index;
  Function *function;
};

/// Removes from `listName` the entries whose function calls an mgpu* function (those MLIR
/// added to load and unload the device modules) and returns them in the order they would
/// run (ascending priority). Other entries stay.
Expected<SmallVector<Structor>> takeGpuStructors(Module &module, StringRef listName,
                                                  const SmallPtrSetImpl<Function *> &mgpu) {
  SmallVector<Structor> taken;
  GlobalVariable *list = module.getGlobalVariable(listName);
  if (!list)
    return taken;
  if (!list->hasInitializer())
    return failure(listName + " has no initializer");
  auto callsMgpu = [&](Function *f) {
    for (Instruction &inst : instructions(*f))
      if (auto *call = dyn_cast<CallBase>(&inst))
        if (mgpu.contains(call->getCalledFunction()))
          return true;
    return false;
  };
  SmallVector<Constant *> kept;
  auto *array = dyn_cast<ConstantArray>(list->getInitializer());
  if (!array && !isa<ConstantAggregateZero>(list->getInitializer()))
    return failure(listName + " is not a constant array");
  for (unsigned i = 0, e = array ? array->getNumOperands() : 0; i < e; ++i) {
    auto *entry = dyn_cast<ConstantStruct>(array->getOperand(i));
    if (!entry || entry->getNumOperands() < 2)
      return failure(listName + " entry " + Twine(i) + " is malformed");
    auto *priority = dyn_cast<ConstantInt>(entry->getOperand(0));
    auto *function = dyn_cast<Function>(entry->getOperand(1)->stripPointerCasts());
    if (priority && function && !function->isDeclaration() && callsMgpu(function)) {
      taken.push_back({priority->getZExtValue(), i, function});
      continue;
    }
    kept.push_back(entry);
  }
  llvm::sort(taken, [](const Structor &a, const Structor &b) {
    return std::tie(a.priority, a.index) < std::tie(b.priority, b.index);
  });
  if (taken.empty())
    return taken;
  // Rebuild the list without the GPU entries (an appending global cannot be edited in place).
  auto *elementType = cast<ArrayType>(list->getValueType())->getElementType();
  list->eraseFromParent();
  if (!kept.empty()) {
    auto *type = ArrayType::get(elementType, kept.size());
    new GlobalVariable(module, type, false, GlobalValue::AppendingLinkage,
                       ConstantArray::get(type, kept), listName);
  }
  return taken;
}

/// Loads field `offset` of the table into a function pointer.
Value *loadTableFunction(IRBuilder<> &builder, GlobalVariable *apiGlobal, size_t offset) {
  Type *ptr = builder.getPtrTy();
  Value *api = builder.CreateLoad(ptr, apiGlobal, "sqz.gpu.api");
  Value *slot = builder.CreateConstInBoundsGEP1_64(builder.getInt8Ty(), api, offset);
  return builder.CreateLoad(ptr, slot, "sqz.gpu.fn");
}

/// Rewrites every call of `callee` (an mgpu* declaration) to go through the table.
Error rewriteCalls(Function *callee, const Mapping &mapping, GlobalVariable *apiGlobal) {
  LLVMContext &ctx = callee->getContext();
  FunctionType *type = callee->getFunctionType();
  SmallVector<Type *> paramTypes(type->params());
  if (mapping.adapt == Adapt::JitLoad)
    paramTypes[1] = Type::getInt64Ty(ctx);
  if (mapping.adapt == Adapt::BoolArg2)
    paramTypes[2] = Type::getInt1Ty(ctx);
  auto *tableType = FunctionType::get(type->getReturnType(), paramTypes, false);

  SmallVector<User *> users(callee->users());
  for (User *user : users) {
    auto *call = dyn_cast<CallInst>(user);
    if (!call || call->getCalledOperand() != callee)
      return failure("@" + callee->getName() +
                     " is used other than by a direct call; cannot bind it to sqz_gpu_api");
    if (mapping.adapt == Adapt::Drop) {
      call->eraseFromParent();
      continue;
    }
    IRBuilder<> builder(call);
    SmallVector<Value *> args(call->args());
    if (mapping.adapt == Adapt::JitLoad) {
      // The PTX image's size when it is a constant global (MLIR's `<module>_binary`), else 0:
      // module_load then reads the NUL-terminated text.
      uint64_t bytes = 0;
      if (auto *image = dyn_cast<GlobalVariable>(args[0]->stripPointerCasts()))
        if (image->hasInitializer())
          bytes = callee->getParent()->getDataLayout().getTypeAllocSize(image->getValueType());
      args[1] = builder.getInt64(bytes);
    } else if (mapping.adapt == Adapt::BoolArg2) {
      args[2] = builder.CreateICmpNE(args[2], builder.getInt8(0), "host_shared");
    }
    Value *fn = loadTableFunction(builder, apiGlobal, mapping.offset);
    CallInst *replacement = builder.CreateCall(tableType, fn, args);
    // C's bool and uint16_t parameters are zero-extended by the caller on x86-64.
    if (mapping.adapt == Adapt::BoolArg2)
      replacement->addParamAttr(2, Attribute::ZExt);
    if (mapping.adapt == Adapt::ZextArg1)
      replacement->addParamAttr(1, Attribute::ZExt);
    replacement->takeName(call);
    call->replaceAllUsesWith(replacement);
    call->eraseFromParent();
  }
  return Error::success();
}

/// An exported function of the artifact's ABI.
Function *createExported(Module &module, FunctionType *type, StringRef name) {
  Function *f = Function::Create(type, GlobalValue::ExternalLinkage, name, module);
  f->setVisibility(GlobalValue::DefaultVisibility);
  f->setDSOLocal(false);
  f->addFnAttr(Attribute::NoUnwind);
  return f;
}

/// Calls the former ctors/dtors, which no longer run at load, from their new home.
void callStructors(IRBuilder<> &builder, ArrayRef<Structor> structors) {
  for (const Structor &s : structors) {
    // They ran from .init_array: internal, in .text.startup. Now ordinary functions.
    s.function->setSection("");
    builder.CreateCall(s.function->getFunctionType(), s.function, {});
  }
}

} // namespace

Error sqz::cuda::bindGpuRuntime(Module &module) {
  LLVMContext &ctx = module.getContext();
  for (StringRef name : {kGpuBindSymbol, kGpuUnbindSymbol, kGpuApiGlobal})
    if (module.getNamedValue(name))
      return failure("the module already defines '" + name + "' (bound twice?)");
  if (module.getDataLayout().getPointerSize() != 8)
    return failure("the host module is not 64-bit; sqz_gpu_api is laid out for 64-bit hosts");

  // Check every mgpu* function first, so a failure leaves the calls untouched.
  SmallVector<std::pair<Function *, const Mapping *>> mgpuFunctions;
  SmallPtrSet<Function *, 32> mgpuSet;
  for (Function &f : module) {
    StringRef name = f.getName();
    if (!name.starts_with("mgpu"))
      continue;
    if (!f.isDeclaration())
      return failure("the module defines @" + name +
                     " itself; it must only call MLIR's GPU runtime wrappers");
    const Mapping *mapping = llvm::find_if(kMappings, [&](const Mapping &m) {
      return m.name == name;
    });
    if (mapping == std::end(kMappings))
      return failure("the host code calls @" + name + " (from " + unsupportedOrigin(name) +
                     "), which the Squeeze GPU runtime (sqz_gpu_api) does not provide");
    FunctionType *expected = expectedType(name, ctx);
    if (f.getFunctionType() != expected)
      return failure("@" + name + " is declared as " + typeText(f.getFunctionType()) +
                     ", but MLIR 22 declares it as " + typeText(expected) +
                     " (an MLIR version the binder does not know?)");
    mgpuFunctions.push_back({&f, mapping});
    mgpuSet.insert(&f);
  }

  Expected<SmallVector<Structor>> ctors = takeGpuStructors(module, "llvm.global_ctors", mgpuSet);
  if (!ctors)
    return ctors.takeError();
  Expected<SmallVector<Structor>> dtors = takeGpuStructors(module, "llvm.global_dtors", mgpuSet);
  if (!dtors)
    return dtors.takeError();

  Type *ptr = PointerType::getUnqual(ctx);
  auto *apiGlobal = new GlobalVariable(module, ptr, false, GlobalValue::InternalLinkage,
                                       ConstantPointerNull::get(PointerType::getUnqual(ctx)),
                                       kGpuApiGlobal);
  apiGlobal->setAlignment(Align(8));

  // The table must hold every field the module calls (later fields are newer).
  size_t needed = kLastErrorOffset + sizeof(void *);
  for (auto &[function, mapping] : mgpuFunctions) {
    if (mapping->adapt != Adapt::Drop && !function->use_empty())
      needed = std::max(needed, mapping->offset + sizeof(void *));
    if (Error e = rewriteCalls(function, *mapping, apiGlobal))
      return e;
    function->eraseFromParent();
  }

  // void sqz_model_gpu_unbind(void)
  Function *unbind =
      createExported(module, FunctionType::get(Type::getVoidTy(ctx), false), kGpuUnbindSymbol);
  {
    auto *entry = BasicBlock::Create(ctx, "entry", unbind);
    auto *run = BasicBlock::Create(ctx, "unload", unbind);
    auto *done = BasicBlock::Create(ctx, "done", unbind);
    IRBuilder<> builder(entry);
    Value *api = builder.CreateLoad(ptr, apiGlobal, "api");
    builder.CreateCondBr(builder.CreateIsNull(api), done, run);
    builder.SetInsertPoint(run);
    callStructors(builder, *dtors);
    builder.CreateStore(ConstantPointerNull::get(PointerType::getUnqual(ctx)), apiGlobal);
    builder.CreateBr(done);
    builder.SetInsertPoint(done);
    builder.CreateRetVoid();
  }

  // int32_t sqz_model_gpu_bind(const sqz_gpu_api *api)
  Function *bind = createExported(
      module, FunctionType::get(Type::getInt32Ty(ctx), {ptr}, false), kGpuBindSymbol);
  {
    Argument *api = bind->getArg(0);
    api->setName("api");
    auto *entry = BasicBlock::Create(ctx, "entry", bind);
    auto *checkLayout = BasicBlock::Create(ctx, "check_layout", bind);
    auto *unbindFirst = BasicBlock::Create(ctx, "unbind_previous", bind);
    auto *load = BasicBlock::Create(ctx, "load_modules", bind);
    auto *nullApi = BasicBlock::Create(ctx, "null_api", bind);
    auto *tooOld = BasicBlock::Create(ctx, "api_too_old", bind);
    IRBuilder<> builder(entry);
    builder.CreateCondBr(builder.CreateIsNull(api), nullApi, checkLayout);

    builder.SetInsertPoint(checkLayout);
    Value *version = builder.CreateLoad(builder.getInt32Ty(), api, "version");
    Value *size = builder.CreateLoad(
        builder.getInt32Ty(),
        builder.CreateConstInBoundsGEP1_64(builder.getInt8Ty(), api, offsetof(sqz_gpu_api, size)),
        "size");
    Value *ok = builder.CreateAnd(
        builder.CreateICmpUGE(version, builder.getInt32(1)),
        builder.CreateICmpUGE(size, builder.getInt32(static_cast<uint32_t>(needed))));
    Value *previous = builder.CreateLoad(ptr, apiGlobal, "previous");
    auto *checked = BasicBlock::Create(ctx, "checked", bind);
    builder.CreateCondBr(ok, checked, tooOld);
    builder.SetInsertPoint(checked);
    builder.CreateCondBr(builder.CreateIsNotNull(previous), unbindFirst, load);

    builder.SetInsertPoint(unbindFirst);
    builder.CreateCall(unbind, {});
    builder.CreateBr(load);

    builder.SetInsertPoint(load);
    builder.CreateStore(api, apiGlobal);
    // Clear a failure left from earlier calls, load, then report what failed.
    auto *lastErrorType = FunctionType::get(ptr, false);
    builder.CreateCall(lastErrorType, loadTableFunction(builder, apiGlobal, kLastErrorOffset),
                       {});
    callStructors(builder, *ctors);
    Value *error = builder.CreateCall(
        lastErrorType, loadTableFunction(builder, apiGlobal, kLastErrorOffset), {}, "error");
    builder.CreateRet(builder.CreateSelect(builder.CreateIsNotNull(error),
                                           builder.getInt32(SQZ_GPU_BIND_LOAD_FAILED),
                                           builder.getInt32(SQZ_GPU_BIND_OK)));

    builder.SetInsertPoint(nullApi);
    builder.CreateRet(builder.getInt32(SQZ_GPU_BIND_NULL_API));
    builder.SetInsertPoint(tooOld);
    builder.CreateRet(builder.getInt32(SQZ_GPU_BIND_API_TOO_OLD));
  }
  return Error::success();
}
