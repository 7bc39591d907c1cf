//===- ExposeTaps.cpp - Calibration taps as extra entry results -----------===//
//
// `sqz-expose-taps`: see Passes.td. The compiled calibration build returns each tapped
// activation as a [tokens, channels] output named `__tap__/<tap>`.
//
//===----------------------------------------------------------------------===//

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"
#include "sqz/Dialect/Sqz/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZEXPOSETAPS
#include "sqz/Dialect/Sqz/Transforms/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

namespace {
struct SqzExposeTapsPass : public mlir::sqz::impl::SqzExposeTapsBase<SqzExposeTapsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fn = module.lookupSymbol<func::FuncOp>(entry);
    if (!fn) {
      module.emitError() << "entry function '" << entry << "' not found";
      return signalPassFailure();
    }
    WalkResult outside = module.walk([&](ObserveOp tap) {
      if (tap->getParentOfType<func::FuncOp>() != fn) {
        tap.emitError() << "calibration tap '" << tap.getTap()
                        << "' is outside the entry function '" << entry << "'";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (outside.wasInterrupted())
      return signalPassFailure();

    SmallVector<ObserveOp> taps;
    fn.walk([&](ObserveOp tap) { taps.push_back(tap); });
    if (taps.empty())
      return;
    auto ret = cast<func::ReturnOp>(fn.getBody().back().getTerminator());
    SmallVector<Value> results(ret.getOperands());
    SmallVector<Type> resultTypes(fn.getResultTypes());
    SmallVector<DictionaryAttr> resultAttrs;
    for (unsigned i = 0, e = fn.getNumResults(); i < e; ++i)
      resultAttrs.push_back(fn.getResultAttrDict(i));
    llvm::StringSet<> seen;
    MLIRContext *ctx = &getContext();
    OpBuilder b(ret);
    for (ObserveOp tap : taps) {
      if (!seen.insert(tap.getTap()).second) {
        tap.emitError() << "two calibration taps are named '" << tap.getTap() << "'";
        return signalPassFailure();
      }
      auto type = cast<RankedTensorType>(tap.getInput().getType());
      if (type.getRank() < 1 || !type.hasStaticShape() || !type.getElementType().isF32()) {
        tap.emitError() << "calibration tap '" << tap.getTap()
                        << "' must observe a static f32 tensor of rank >= 1, got " << type;
        return signalPassFailure();
      }
      Value value = tap.getInput();
      tap.getResult().replaceAllUsesWith(value);
      int64_t channels = type.getShape().back();
      int64_t tokens = type.getNumElements() / std::max<int64_t>(channels, 1);
      auto flatType = RankedTensorType::get({tokens, channels}, type.getElementType());
      if (type.getRank() != 2) {
        SmallVector<ReassociationIndices> groups(2);
        for (int64_t d = 0; d + 1 < type.getRank(); ++d)
          groups[0].push_back(d);
        groups[1].push_back(type.getRank() - 1);
        if (type.getRank() == 1) {
          groups[0].clear();
          groups[1] = {0};
          value = tensor::ExpandShapeOp::create(b, tap.getLoc(), flatType, value,
                                                ArrayRef<ReassociationIndices>{{0, 1}});
        } else {
          value = tensor::CollapseShapeOp::create(b, tap.getLoc(), flatType, value, groups);
        }
      }
      results.push_back(value);
      resultTypes.push_back(flatType);
      resultAttrs.push_back(DictionaryAttr::get(
          ctx, {NamedAttribute(StringAttr::get(ctx, "sqz.name"),
                               StringAttr::get(ctx, "__tap__/" + tap.getTap().str()))}));
      tap.erase();
    }
    ret->setOperands(results);
    fn.setFunctionType(FunctionType::get(ctx, fn.getArgumentTypes(), resultTypes));
    fn.setAllResultAttrs(resultAttrs);
  }
};
} // namespace
