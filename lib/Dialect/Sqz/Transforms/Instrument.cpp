//===- Instrument.cpp - Calibration taps on selected linears --------------===//
//
// `sqz-instrument`: see Passes.td.
//
//===----------------------------------------------------------------------===//

#include "LayerSelection.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"
#include "sqz/Dialect/Sqz/Transforms/Passes.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZINSTRUMENT
#include "sqz/Dialect/Sqz/Transforms/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

namespace {
struct SqzInstrumentPass : public mlir::sqz::impl::SqzInstrumentBase<SqzInstrumentPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&]() { return module.emitError(); };
    ObserveStat wanted = static_cast<ObserveStat>(0);
    if (stats.empty())
      wanted = ObserveStat::SumSq | ObserveStat::AbsMax | ObserveStat::XtX;
    for (const std::string &name : stats) {
      std::optional<ObserveStat> stat = symbolizeObserveStat(name);
      if (!stat) {
        module.emitError() << "sqz-instrument: unknown statistic '" << name
                           << "' (valid: sumsq, absmax, xtx)";
        return signalPassFailure();
      }
      wanted = wanted | *stat;
    }
    FailureOr<LayerSelector> selector = LayerSelector::create(targets, ignore, emitError);
    if (failed(selector))
      return signalPassFailure();
    FailureOr<SmallVector<SelectedLayer>> layers = selectLayers(
        module, *selector, [](Operation *op) { return isa<LinearOp>(op); });
    if (failed(layers))
      return signalPassFailure();
    for (const SelectedLayer &layer : *layers) {
      auto linear = cast<LinearOp>(layer.op);
      if (linear.getInput().getDefiningOp<ObserveOp>())
        continue;
      OpBuilder b(linear);
      auto tap = ObserveOp::create(b, linear.getLoc(), linear.getInput().getType(),
                                   linear.getInput(), layer.name, wanted);
      linear.getInputMutable().assign(tap.getResult());
    }
  }
};
} // namespace
