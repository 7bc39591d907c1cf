//===- StripObserve.cpp - Erase calibration taps --------------------------===//
//
// `sqz-strip-observe`: replaces every sqz.observe by its input once calibration is done.
//
//===----------------------------------------------------------------------===//

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"
#include "sqz/Dialect/Sqz/Transforms/Passes.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZSTRIPOBSERVE
#include "sqz/Dialect/Sqz/Transforms/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

namespace {
struct SqzStripObservePass
    : public mlir::sqz::impl::SqzStripObserveBase<SqzStripObservePass> {
  void runOnOperation() override {
    getOperation()->walk([](ObserveOp tap) {
      tap.getResult().replaceAllUsesWith(tap.getInput());
      tap.erase();
    });
  }
};
} // namespace
