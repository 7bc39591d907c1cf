//===- QuantizeOutliers.cpp - LLM.int8() outlier decomposition ------------===//
//
// `sqz-quantize-outliers`: for each selected sqz.linear, the input channels whose calibration
// absmax reaches the threshold keep float weight columns and the rest is int8 per output row
// (`decomposeInt8` of lib/Compression/Quantization.h). The linear becomes an
// sqz.outlier_linear, or an int8 sqz.quant_linear when it has no outlier channel.
//
//===----------------------------------------------------------------------===//

#include "CompressionSupport.h"
#include "LayerSelection.h"

#include "sqz/Compression/Quantization.h"
#include "sqz/Dialect/Sqz/IR/SqzDialect.h"
#include "sqz/Dialect/Sqz/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZQUANTIZEOUTLIERS
#include "sqz/Dialect/Sqz/Transforms/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;
namespace cmp = ::sqz::compression;

namespace {
struct SqzQuantizeOutliersPass
    : public mlir::sqz::impl::SqzQuantizeOutliersBase<SqzQuantizeOutliersPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&] { return module.emitError() << "sqz-quantize-outliers: "; };
    if (!(threshold > 0.0)) {
      emitError() << "threshold must be positive, got " << static_cast<double>(threshold);
      return signalPassFailure();
    }
    if (StringRef(stats).empty()) {
      emitError() << "needs calibration statistics (stats=<file>, L/absmax per layer): the "
                     "outlier channels are found from the calibration activations";
      return signalPassFailure();
    }
    FailureOr<CompressionTargets> selected =
        selectCompressionTargets(module, targets, ignore, stats, emitError);
    if (failed(selected))
      return signalPassFailure();
    for (const SelectedLayer &layer : selected->layers)
      if (failed(decompose(cast<LinearOp>(layer.op), layer.name, *selected->stats)))
        return signalPassFailure();
  }

  LogicalResult decompose(LinearOp op, StringRef name, const CalibrationStats &calibration) {
    int64_t rows = op.getOutFeatures(), cols = op.getInFeatures();
    Attribute value;
    if (!matchPattern(op.getWeight(), m_Constant(&value)))
      return op.emitError() << "layer '" << name << "': the weight is not a constant";
    std::string error;
    FailureOr<std::vector<float>> weight = readFloatConstant(value, error);
    if (failed(weight))
      return op.emitError() << "layer '" << name << "': " << error;
    FailureOr<std::vector<float>> absmax = calibration.getAbsMax(op, name, cols);
    if (failed(absmax))
      return failure();
    llvm::Expected<cmp::Int8Decomposition> d =
        cmp::decomposeInt8(*weight, rows, cols, *absmax, threshold);
    if (!d)
      return op.emitError() << "layer '" << name << "': " << llvm::toString(d.takeError());

    MLIRContext *ctx = op.getContext();
    std::string key = getResourceKey(value);
    std::string base = key.empty() ? getBlobKeyBase(name) : key;
    auto i8 = IntegerType::get(ctx, 8);
    auto quant = QuantAttr::get(ctx, QuantFormat::Int8, /*group=*/-1, /*symmetric=*/true);
    OpBuilder b(op);
    Location loc = op.getWeight().getLoc();
    auto constant = [&](Attribute attr) -> Value {
      return arith::ConstantOp::create(b, loc, cast<TypedAttr>(attr));
    };
    Value codes = constant(makeI8Resource(RankedTensorType::get({rows, cols}, i8), d->int8.codes,
                                          base + ".int8_codes"));
    Value scales = constant(makeFloatResource(
        RankedTensorType::get({rows, 1}, Float32Type::get(ctx)), d->int8.scales,
        base + ".int8_scales"));
    Operation *replacement;
    int64_t n = d->outlierColumns.size();
    if (n == 0) {
      replacement = QuantLinearOp::create(b, op.getLoc(), op.getResult().getType(), op.getInput(),
                                          codes, scales, /*zeros=*/Value(), op.getBias(), quant);
    } else {
      Type elt = op.getWeight().getType().getElementType();
      Value columns = constant(DenseIntElementsAttr::get(
          RankedTensorType::get({n}, IntegerType::get(ctx, 64)),
          ArrayRef<int64_t>(d->outlierColumns)));
      Value fp = constant(makeFloatResource(RankedTensorType::get({rows, n}, elt),
                                            d->outlierWeights, base + ".outlier_weights"));
      replacement =
          OutlierLinearOp::create(b, op.getLoc(), op.getResult().getType(), op.getInput(), codes,
                                  scales, columns, fp, op.getBias(), quant);
    }
    Operation *oldConstant = op.getWeight().getDefiningOp();
    op.getResult().replaceAllUsesWith(replacement->getResult(0));
    op.erase();
    if (oldConstant && oldConstant->use_empty())
      oldConstant->erase();
    return success();
  }
};
} // namespace
