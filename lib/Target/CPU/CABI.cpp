//===- CABI.cpp - The C ABI of a compiled model ---------------------------===//
//
// `sqz-cpu-prepare-entry` (before bufferization), `sqz-cpu-convert-func-to-llvm` and
// `sqz-cpu-emit-c-abi` (after lowering to the LLVM dialect) together give a compiled model the
// artifact ABI that lib/Runtime loads:
//   uint32_t sqz_abi_version(void);  void sqz_model_invoke(void **buffers);
//   void sqz_model_set_num_threads(int32_t n);  // OpenMP threads of later invokes
// A model with a dynamic input or output dim gets ABI 3 (docs/Codegen.md):
//   void sqz_model_invoke(void **buffers, const int64_t *shapes);
//   void sqz_model_output_shapes(const int64_t *input_shapes, int64_t *output_shapes);
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/MathExtras.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZCPUPREPAREENTRY
#define GEN_PASS_DEF_SQZCPUEMITCABI
#define GEN_PASS_DEF_SQZCPUCONVERTFUNCTOLLVM
#define GEN_PASS_DEF_SQZCPUFORWARDOUTPUTS
#include "sqz/Target/CPU/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

/// Versions of the artifact ABI; lib/Runtime checks them at load. Version 2: the entry takes
/// the weights file's data after the outputs (the module is marked sqz.weights_file by
/// sqz-cpu-externalize-weights).
static constexpr int32_t kAbiVersion = 1;
static constexpr int32_t kAbiVersionWithWeights = 2;
/// Version 3: a dynamic model; `sqz_model_invoke(void **buffers, const int64_t *shapes)` and
/// `sqz_model_output_shapes`.
static constexpr int32_t kAbiVersionDynamic = 3;

namespace {
/// The shapes of memrefs, -1 for dynamic dims (the sqz.entry_arg_shapes attribute).
static ArrayAttr shapesAttr(MLIRContext *ctx, TypeRange types) {
  SmallVector<Attribute> shapes;
  for (Type t : types) {
    SmallVector<int64_t> shape;
    for (int64_t d : cast<ShapedType>(t).getShape())
      shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
    shapes.push_back(DenseI64ArrayAttr::get(ctx, shape));
  }
  return ArrayAttr::get(ctx, shapes);
}

/// The name of the entry's `kind` #i for diagnostics: its sqz.name, else "<kind> #i".
static std::string ioName(DictionaryAttr attrs, StringRef kind, unsigned i) {
  if (auto name = attrs ? attrs.getAs<StringAttr>("sqz.name") : StringAttr())
    return (kind + " '" + name.getValue() + "'").str();
  return (kind + " #" + Twine(i)).str();
}

/// Leaves of the output-shape computation: `tensor.dim` of an entry argument with a constant
/// index, and integer arithmetic over them. Returns the first op the value depends on that is
/// neither (the value then depends on tensor data), or null.
static Operation *findNonShapeDependency(Value root, Block &body) {
  SmallVector<Value> worklist{root};
  DenseSet<Operation *> seen;
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    Operation *op = v.getDefiningOp();
    if (!op) {
      // An argument used as a value (not through its shape) is data.
      return body.getParentOp();
    }
    if (!seen.insert(op).second)
      continue;
    if (auto dim = dyn_cast<tensor::DimOp>(op)) {
      auto arg = dyn_cast<BlockArgument>(dim.getSource());
      if (arg && arg.getOwner() == &body && dim.getConstantIndex())
        continue;
      return op;
    }
    bool arithmetic = isa<arith::ArithDialect, affine::AffineDialect, index::IndexDialect>(
                          op->getDialect()) &&
                      op->getNumRegions() == 0 &&
                      !isa<affine::AffineLoadOp, affine::AffineVectorLoadOp>(op);
    if (!arithmetic)
      return op;
    for (Value operand : op->getOperands())
      worklist.push_back(operand);
  }
  return nullptr;
}

/// Bounds [lo, hi] of an index value of the output-shape computation; nullopt: unknown.
struct Interval {
  std::optional<int64_t> lo, hi;
};

static std::optional<int64_t> add(std::optional<int64_t> a, std::optional<int64_t> b) {
  return a && b ? llvm::checkedAdd(*a, *b) : std::nullopt;
}
static std::optional<int64_t> sub(std::optional<int64_t> a, std::optional<int64_t> b) {
  return a && b ? llvm::checkedSub(*a, *b) : std::nullopt;
}

/// `v` scaled by the constant `c`.
static Interval scale(Interval v, int64_t c) {
  auto mul = [&](std::optional<int64_t> x) {
    return x ? llvm::checkedMul(*x, c) : std::nullopt;
  };
  if (c >= 0)
    return {mul(v.lo), mul(v.hi)};
  return {mul(v.hi), mul(v.lo)};
}

/// `v` divided by the constant `c` > 0, rounding down (or up), for v >= 0.
static Interval divide(Interval v, int64_t c, bool ceil) {
  if (c <= 0 || !v.lo || *v.lo < 0)
    return {};
  auto div = [&](std::optional<int64_t> x) -> std::optional<int64_t> {
    if (!x)
      return std::nullopt;
    return ceil ? llvm::divideCeil(*x, c) : *x / c;
  };
  return {div(v.lo), div(v.hi)};
}

static Interval evalAffine(AffineExpr e, ArrayRef<Interval> dims, ArrayRef<Interval> syms) {
  if (auto c = dyn_cast<AffineConstantExpr>(e))
    return {c.getValue(), c.getValue()};
  if (auto d = dyn_cast<AffineDimExpr>(e))
    return dims[d.getPosition()];
  if (auto sy = dyn_cast<AffineSymbolExpr>(e))
    return syms[sy.getPosition()];
  auto bin = cast<AffineBinaryOpExpr>(e);
  Interval l = evalAffine(bin.getLHS(), dims, syms);
  auto rhsConst = dyn_cast<AffineConstantExpr>(bin.getRHS());
  switch (e.getKind()) {
  case AffineExprKind::Add: {
    Interval r = evalAffine(bin.getRHS(), dims, syms);
    return {add(l.lo, r.lo), add(l.hi, r.hi)};
  }
  case AffineExprKind::Mul:
    if (rhsConst)
      return scale(l, rhsConst.getValue());
    return {};
  case AffineExprKind::FloorDiv:
  case AffineExprKind::CeilDiv:
    if (rhsConst)
      return divide(l, rhsConst.getValue(), e.getKind() == AffineExprKind::CeilDiv);
    return {};
  case AffineExprKind::Mod:
    if (rhsConst && rhsConst.getValue() > 0 && l.lo && *l.lo >= 0)
      return {0, l.hi ? std::min(*l.hi, rhsConst.getValue() - 1)
                      : rhsConst.getValue() - 1};
    return {};
  default:
    return {};
  }
}

/// Bounds of `v` (integer arithmetic on `tensor.dim`s of the entry's arguments) from the
/// arguments' static dims and `sqz.max_shape` bounds. Unknown ops give unknown bounds.
static Interval evalBounds(Value v, func::FuncOp entry, DenseMap<Value, Interval> &memo) {
  if (auto it = memo.find(v); it != memo.end())
    return it->second;
  Interval result;
  Operation *op = v.getDefiningOp();
  auto operand = [&](unsigned i) { return evalBounds(op->getOperand(i), entry, memo); };
  APInt constant;
  if (!op) {
    result = {};
  } else if (matchPattern(v, m_ConstantInt(&constant))) {
    result = {constant.getSExtValue(), constant.getSExtValue()};
  } else if (auto dim = dyn_cast<tensor::DimOp>(op)) {
    auto arg = dyn_cast<BlockArgument>(dim.getSource());
    std::optional<int64_t> axis = dim.getConstantIndex();
    if (arg && axis) {
      auto type = cast<RankedTensorType>(arg.getType());
      if (!type.isDynamicDim(*axis)) {
        result = {type.getDimSize(*axis), type.getDimSize(*axis)};
      } else {
        result = {0, std::nullopt};
        auto bounds = entry.getArgAttrOfType<DenseI64ArrayAttr>(arg.getArgNumber(),
                                                               "sqz.max_shape");
        if (bounds && *axis < bounds.size() && bounds[*axis] >= 0)
          result.hi = bounds[*axis];
      }
    }
  } else if (isa<arith::IndexCastOp, arith::IndexCastUIOp>(op)) {
    result = operand(0);
  } else if (isa<arith::AddIOp>(op)) {
    Interval l = operand(0), r = operand(1);
    result = {add(l.lo, r.lo), add(l.hi, r.hi)};
  } else if (isa<arith::SubIOp>(op)) {
    Interval l = operand(0), r = operand(1);
    result = {sub(l.lo, r.hi), sub(l.hi, r.lo)};
  } else if (isa<arith::MulIOp>(op)) {
    Interval l = operand(0), r = operand(1);
    if (l.lo && r.lo && *l.lo >= 0 && *r.lo >= 0)
      result = {llvm::checkedMul(*l.lo, *r.lo),
                l.hi && r.hi ? llvm::checkedMul(*l.hi, *r.hi) : std::nullopt};
  } else if (isa<arith::DivUIOp, arith::DivSIOp, arith::FloorDivSIOp, arith::CeilDivSIOp,
                 arith::CeilDivUIOp>(op)) {
    Interval r = operand(1);
    if (r.lo && r.lo == r.hi)
      result = divide(operand(0), *r.lo, isa<arith::CeilDivSIOp, arith::CeilDivUIOp>(op));
  } else if (isa<arith::MaxSIOp, arith::MaxUIOp>(op)) {
    Interval l = operand(0), r = operand(1);
    bool nonNegative = l.lo && r.lo && *l.lo >= 0 && *r.lo >= 0;
    if (isa<arith::MaxUIOp>(op) && !nonNegative)
      l = r = Interval();
    if (l.lo && r.lo)
      result.lo = std::max(*l.lo, *r.lo);
    if (l.hi && r.hi)
      result.hi = std::max(*l.hi, *r.hi);
  } else if (isa<arith::MinSIOp, arith::MinUIOp>(op)) {
    Interval l = operand(0), r = operand(1);
    bool nonNegative = l.lo && r.lo && *l.lo >= 0 && *r.lo >= 0;
    if (isa<arith::MinUIOp>(op) && !nonNegative)
      l = r = Interval();
    if (l.lo && r.lo)
      result.lo = std::min(*l.lo, *r.lo);
    if (l.hi || r.hi)
      result.hi = l.hi && r.hi ? std::min(*l.hi, *r.hi) : l.hi ? *l.hi : *r.hi;
  } else if (auto apply = dyn_cast<affine::AffineApplyOp>(op)) {
    AffineMap map = apply.getAffineMap();
    SmallVector<Interval> values;
    for (unsigned i = 0, e = op->getNumOperands(); i < e; ++i)
      values.push_back(operand(i));
    result = evalAffine(map.getResult(0), ArrayRef(values).take_front(map.getNumDims()),
                        ArrayRef(values).drop_front(map.getNumDims()));
  }
  memo[v] = result;
  return result;
}

/// Builds `void sqz_model_output_shapes(const int64_t *input_shapes, int64_t *output_shapes)`
/// from a clone of the tensor-level entry: the dims of its results, resolved through the ops'
/// shape reification and canonicalization into arithmetic on the input dims.
static LogicalResult buildOutputShapesFunction(func::FuncOp fn, SymbolTable &symbols) {
  MLIRContext *ctx = fn.getContext();
  Location loc = fn.getLoc();
  if (!fn.getBody().hasOneBlock())
    return fn.emitError() << "entry function '" << fn.getSymName()
                          << "' must have a single block to derive its output shapes";
  if (symbols.lookup(kOutputShapesFunction))
    return fn.emitError() << "the module already defines '" << kOutputShapesFunction << "'";
  auto clone = cast<func::FuncOp>(fn->clone());
  clone.setSymName(kOutputShapesFunction);
  clone.setPublic();
  clone.removeArgAttrsAttr();
  clone.removeResAttrsAttr();
  symbols.insert(clone, std::next(Block::iterator(fn)));
  Block &body = clone.getBody().front();

  // Return the dynamic dims of the results.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  OpBuilder b(ret);
  SmallVector<Value> dims;
  SmallVector<std::pair<unsigned, unsigned>> dimOf; // (result, axis) of each dims entry
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    auto type = cast<RankedTensorType>(v.getType());
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if (!type.isDynamicDim(d))
        continue;
      dims.push_back(tensor::DimOp::create(b, loc, v, d));
      dimOf.emplace_back(i, d);
    }
  }
  TypeRange resultTypes = fn.getFunctionType().getResults();
  auto newRet = func::ReturnOp::create(b, loc, dims);
  ret.erase();
  clone.setFunctionType(FunctionType::get(ctx, fn.getFunctionType().getInputs(),
                                          TypeRange(ValueRange(dims))));

  RewritePatternSet patterns(ctx);
  memref::populateResolveRankedShapedTypeResultDimsPatterns(patterns);
  memref::populateResolveShapedTypeResultDimsPatterns(patterns);
  for (Dialect *dialect : ctx->getLoadedDialects())
    dialect->getCanonicalizationPatterns(patterns);
  for (RegisteredOperationName op : ctx->getRegisteredOperations())
    op.getCanonicalizationPatterns(patterns, ctx);
  // Not converging leaves dims unresolved, which the check below reports.
  (void)applyPatternsGreedily(clone, std::move(patterns));

  bool ok = true;
  for (auto [value, where] : llvm::zip(newRet.getOperands(), dimOf)) {
    Operation *culprit = findNonShapeDependency(value, body);
    if (!culprit)
      continue;
    auto diag = fn.emitError()
                << ioName(fn.getResultAttrDict(where.first), "output", where.first) << " dim "
                << where.second
                << " depends on input values; dynamic output shapes must follow from input "
                   "shapes";
    if (culprit != clone)
      diag << " (it is computed by '" << culprit->getName() << "')";
    ok = false;
  }
  if (!ok) {
    clone.erase();
    return failure();
  }

  // Bounds of the output dims (the manifest's max_shape): static dims, and dynamic dims whose
  // value is bounded by the inputs' static dims and sqz.max_shape bounds, else -1.
  SmallVector<Attribute> maxShapes;
  {
    DenseMap<Value, Interval> memo;
    unsigned next = 0;
    for (Type t : fn.getFunctionType().getResults()) {
      SmallVector<int64_t> bounds;
      for (int64_t d : cast<RankedTensorType>(t).getShape()) {
        if (!ShapedType::isDynamic(d)) {
          bounds.push_back(d);
          continue;
        }
        Interval dim = evalBounds(newRet.getOperand(next++), fn, memo);
        bounds.push_back(dim.hi ? std::max<int64_t>(*dim.hi, 0) : -1);
      }
      maxShapes.push_back(DenseI64ArrayAttr::get(ctx, bounds));
    }
  }
  fn->getParentOp()->setAttr(kOutputMaxShapesAttr, ArrayAttr::get(ctx, maxShapes));

  // Drop everything the dims do not need.
  DenseSet<Operation *> needed{newRet};
  SmallVector<Operation *> worklist{newRet};
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    for (Value operand : op->getOperands())
      if (Operation *def = operand.getDefiningOp())
        if (needed.insert(def).second)
          worklist.push_back(def);
  }
  SmallVector<Operation *> ops = llvm::map_to_vector(
      body.without_terminator(), [](Operation &op) { return &op; });
  for (Operation *op : llvm::reverse(ops))
    if (!needed.contains(op)) {
      op->dropAllUses();
      op->erase();
    }

  // Input dims come from `input_shapes`, output dims go to `output_shapes` (full shapes,
  // concatenated in order).
  auto ptrTy = LLVM::LLVMPointerType::get(ctx);
  auto i64Ty = IntegerType::get(ctx, 64);
  unsigned numInputs = body.getNumArguments();
  Value inShapes = body.addArgument(ptrTy, loc);
  Value outShapes = body.addArgument(ptrTy, loc);
  SmallVector<int64_t> inputOffset;
  int64_t offset = 0;
  for (Type t : fn.getFunctionType().getInputs()) {
    inputOffset.push_back(offset);
    offset += cast<RankedTensorType>(t).getRank();
  }
  auto slot = [&](OpBuilder &builder, Value base, int64_t i) -> Value {
    return LLVM::GEPOp::create(builder, loc, ptrTy, i64Ty, base,
                               ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
  };
  // One load per input dim read, at the start.
  SmallVector<tensor::DimOp> argDims;
  body.walk([&](tensor::DimOp dim) { argDims.push_back(dim); });
  llvm::DenseMap<int64_t, Value> loadedDims;
  OpBuilder db = OpBuilder::atBlockBegin(&body);
  for (tensor::DimOp dim : argDims) {
    auto arg = cast<BlockArgument>(dim.getSource());
    int64_t at = inputOffset[arg.getArgNumber()] + *dim.getConstantIndex();
    Value &loaded = loadedDims[at];
    if (!loaded)
      loaded = arith::IndexCastOp::create(
          db, loc, db.getIndexType(),
          LLVM::LoadOp::create(db, loc, i64Ty, slot(db, inShapes, at)));
    dim.replaceAllUsesWith(loaded);
    dim.erase();
  }
  ops = llvm::map_to_vector(body.without_terminator(), [](Operation &op) { return &op; });
  for (Operation *op : llvm::reverse(ops))
    if (isOpTriviallyDead(op))
      op->erase();
  b.setInsertionPoint(newRet);
  offset = 0;
  unsigned next = 0;
  for (auto [i, t] : llvm::enumerate(resultTypes)) {
    auto type = cast<RankedTensorType>(t);
    for (int64_t d = 0; d < type.getRank(); ++d, ++offset) {
      Value v;
      if (type.isDynamicDim(d))
        v = arith::IndexCastOp::create(b, loc, i64Ty, newRet.getOperand(next++));
      else
        v = arith::ConstantIntOp::create(b, loc, type.getDimSize(d), 64);
      LLVM::StoreOp::create(b, loc, v, slot(b, outShapes, offset));
    }
  }
  func::ReturnOp::create(b, loc);
  newRet.erase();
  body.eraseArguments(0, numInputs);
  clone.setFunctionType(FunctionType::get(ctx, {ptrTy, ptrTy}, {}));
  return success();
}

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
    FunctionType type = fn.getFunctionType();
    auto isDynamic = [](Type t) {
      auto ranked = dyn_cast<RankedTensorType>(t);
      return ranked && !ranked.hasStaticShape();
    };
    bool dynamic = llvm::any_of(type.getInputs(), isDynamic) ||
                   llvm::any_of(type.getResults(), isDynamic);
    auto check = [&](Type t, StringRef what, unsigned i) {
      auto ranked = dyn_cast<RankedTensorType>(t);
      if (!ranked || (!dynamic && !ranked.hasStaticShape())) {
        fn.emitError() << "entry function " << what << " #" << i
                       << " must be a ranked tensor, got " << t;
        return false;
      }
      // The bare-pointer calling convention of static models (ABI 1/2) cannot pass empty
      // buffers; ABI 3 passes shapes and allows them.
      if (!dynamic && ranked.getNumElements() == 0) {
        fn.emitError() << "entry function " << what << " #" << i
                       << " has no elements (" << t
                       << "); empty inputs and outputs of statically shaped models are not "
                          "supported";
        return false;
      }
      return true;
    };
    for (auto [i, t] : llvm::enumerate(type.getInputs()))
      if (!check(t, "argument", i))
        return signalPassFailure();
    for (auto [i, t] : llvm::enumerate(type.getResults()))
      if (!check(t, "result", i))
        return signalPassFailure();
    // Inputs are caller-owned and const in the ABI: never bufferize in place.
    for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
      fn.setArgAttr(i, bufferization::BufferizationDialect::kWritableAttrName,
                    BoolAttr::get(&getContext(), false));
    if (!dynamic)
      return;
    module->setAttr(kDynamicShapesAttr, UnitAttr::get(&getContext()));
    SymbolTable symbols(module);
    if (failed(buildOutputShapesFunction(fn, symbols)))
      return signalPassFailure();
  }
};

/// Dynamic models: buffer-results-to-out-params copies a dynamically shaped result from its
/// allocation into the out-parameter (hoist-static-allocs only forwards static ones). When the
/// result is a buffer allocated in the entry block and the out-parameter has no other use, the
/// allocation is replaced by the out-parameter, which the caller sized with
/// sqz_model_output_shapes: the result is computed in place, with no malloc and no copy.
struct SqzCPUForwardOutputsPass
    : public mlir::sqz::impl::SqzCPUForwardOutputsBase<SqzCPUForwardOutputsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!module->hasAttr(kDynamicShapesAttr))
      return;
    auto fn = module.lookupSymbol<func::FuncOp>(entry);
    if (!fn || fn.isExternal())
      return;
    Block &body = fn.getBody().front();
    for (BlockArgument arg : body.getArguments()) {
      if (!arg.hasOneUse())
        continue;
      auto copy = dyn_cast<memref::CopyOp>(*arg.getUsers().begin());
      if (!copy || copy.getTarget() != arg || copy->getBlock() != &body)
        continue;
      auto alloc = copy.getSource().getDefiningOp<memref::AllocOp>();
      if (!alloc || alloc->getBlock() != &body || alloc.getType() != arg.getType())
        continue;
      copy.erase();
      alloc.replaceAllUsesWith(arg);
      alloc.erase();
    }
  }
};

/// Lowers func to LLVM: with bare pointers for static models (ABI 1/2), with memref
/// descriptors (the default calling convention) for dynamic ones, after recording the entry
/// arguments' shapes for sqz-cpu-emit-c-abi.
struct SqzCPUConvertFuncToLLVMPass
    : public mlir::sqz::impl::SqzCPUConvertFuncToLLVMBase<SqzCPUConvertFuncToLLVMPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool dynamic = module->hasAttr(kDynamicShapesAttr);
    if (dynamic) {
      auto fn = module.lookupSymbol<func::FuncOp>(entry);
      if (!fn) {
        module.emitError() << "entry function '" << entry << "' not found";
        return signalPassFailure();
      }
      for (auto [i, t] : llvm::enumerate(fn.getArgumentTypes())) {
        auto memref = dyn_cast<MemRefType>(t);
        if (!memref || !memref.getLayout().isIdentity()) {
          fn.emitError() << "entry function argument #" << i
                         << " must be a memref with the identity layout, got " << t;
          return signalPassFailure();
        }
      }
      if (fn.getNumResults() != 0) {
        fn.emitError() << "entry function must return its results through out-parameters";
        return signalPassFailure();
      }
      module->setAttr(kEntryArgShapesAttr, shapesAttr(&getContext(), fn.getArgumentTypes()));
    }
    OpPassManager pm(ModuleOp::getOperationName());
    std::string errorText;
    llvm::raw_string_ostream errorStream(errorText);
    if (failed(parsePassPipeline(dynamic ? "convert-func-to-llvm"
                                         : "convert-func-to-llvm{use-bare-ptr-memref-call-conv}",
                                 pm, errorStream))) {
      module.emitError() << "sqz-cpu-convert-func-to-llvm: " << errorText;
      return signalPassFailure();
    }
    if (failed(runPipeline(pm, module)))
      signalPassFailure();
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
    auto i64Ty = IntegerType::get(ctx, 64);
    LLVM::LLVMFunctionType fnTy = fn.getFunctionType();
    // Dynamic models (ABI 3): the entry takes memref descriptors (allocated and aligned
    // pointers, offset, sizes, strides) of the shapes sqz-cpu-convert-func-to-llvm recorded.
    auto argShapes = module->getAttrOfType<ArrayAttr>(kEntryArgShapesAttr);
    bool dynamic = module->hasAttr(kDynamicShapesAttr);
    if (dynamic) {
      if (!argShapes || !llvm::all_of(argShapes, llvm::IsaPred<DenseI64ArrayAttr>)) {
        module.emitError() << "dynamic model without the '" << kEntryArgShapesAttr
                           << "' shapes of its entry arguments (lower the entry with "
                              "sqz-cpu-convert-func-to-llvm)";
        return signalPassFailure();
      }
      unsigned expected = 0;
      for (Attribute a : argShapes)
        expected += 3 + 2 * cast<DenseI64ArrayAttr>(a).size();
      bool ok = isa<LLVM::LLVMVoidType>(fnTy.getReturnType()) &&
                fnTy.getNumParams() == expected;
      for (unsigned i = 0; ok && i < fnTy.getNumParams(); ++i)
        ok = fnTy.getParamType(i) == ptrTy || fnTy.getParamType(i) == i64Ty;
      if (!ok) {
        fn.emitError() << "entry function must take the memref descriptors of "
                       << argShapes.size() << " arguments (" << expected
                       << " pointers and i64 values) and return nothing, got " << fnTy;
        return signalPassFailure();
      }
      unsigned numIO = argShapes.size() - (module->hasAttr("sqz.weights_file") ? 1 : 0);
      for (unsigned i = numIO; i < argShapes.size(); ++i)
        if (llvm::any_of(cast<DenseI64ArrayAttr>(argShapes[i]).asArrayRef(),
                         [](int64_t d) { return d < 0; })) {
          fn.emitError() << "entry function argument #" << i
                         << " (the weights buffer) must have a static shape";
          return signalPassFailure();
        }
      auto shapesFn = module.lookupSymbol<LLVM::LLVMFuncOp>(kOutputShapesFunction);
      if (!shapesFn ||
          shapesFn.getFunctionType() !=
              LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptrTy, ptrTy})) {
        module.emitError() << "dynamic model without its '" << kOutputShapesFunction
                           << "(ptr, ptr)' function (built by sqz-cpu-prepare-entry)";
        return signalPassFailure();
      }
    } else if (!isa<LLVM::LLVMVoidType>(fnTy.getReturnType()) ||
               llvm::any_of(fnTy.getParams(), [&](Type t) { return t != ptrTy; })) {
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
      int32_t abi = dynamic ? kAbiVersionDynamic
                    : module->hasAttr("sqz.weights_file") ? kAbiVersionWithWeights
                                                          : kAbiVersion;
      Value v = LLVM::ConstantOp::create(b, loc, i32Ty, abi);
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

    SmallVector<Type> invokeParams{ptrTy};
    if (dynamic)
      invokeParams.push_back(ptrTy);
    auto invoke = LLVM::LLVMFuncOp::create(
        b, loc, "sqz_model_invoke",
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), invokeParams));
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
    auto loadSlot = [&](Value base, Type elt, int64_t i) -> Value {
      Value slot = LLVM::GEPOp::create(b, loc, ptrTy, elt, base,
                                       ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
      return LLVM::LoadOp::create(b, loc, elt, slot);
    };
    auto i64 = [&](int64_t v) -> Value { return LLVM::ConstantOp::create(b, loc, i64Ty, v); };
    SmallVector<Value> args;
    if (!dynamic) {
      for (unsigned i = 0, e = fnTy.getNumParams(); i < e; ++i)
        args.push_back(loadSlot(body->getArgument(0), ptrTy, i));
    } else {
      // Inputs and outputs take their dims from `shapes` (every dim, static ones included;
      // the static ones are compiled in as constants); the weights buffer after them is
      // static. Buffers are dense and row-major.
      unsigned numIO = argShapes.size() - (module->hasAttr("sqz.weights_file") ? 1 : 0);
      int64_t shapeIndex = 0;
      for (auto [i, attr] : llvm::enumerate(argShapes)) {
        ArrayRef<int64_t> shape = cast<DenseI64ArrayAttr>(attr).asArrayRef();
        Value p = loadSlot(body->getArgument(0), ptrTy, i);
        SmallVector<Value> sizes;
        for (int64_t d : shape) {
          if (d < 0)
            sizes.push_back(loadSlot(body->getArgument(1), i64Ty, shapeIndex));
          else
            sizes.push_back(i64(d));
          if (i < numIO)
            ++shapeIndex;
        }
        SmallVector<Value> strides(shape.size());
        for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d)
          strides[d] = d + 1 == static_cast<int64_t>(shape.size())
                           ? i64(1)
                           : LLVM::MulOp::create(b, loc, strides[d + 1], sizes[d + 1]).getResult();
        args.append({p, p, i64(0)});
        args.append(sizes);
        args.append(strides);
      }
    }
    LLVM::CallOp::create(b, loc, fn, args);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
  }
};
} // namespace
