//===- Quantize.cpp - Weight quantization of linears ----------------------===//
//
// `sqz-quantize`: RTN, GPTQ, AWQ, NF4 or ternary quantization of the selected sqz.linear
// weights by the numeric core in lib/Compression (Quantization.h). Each linear becomes an
// sqz.quant_linear whose codes, scales and zero points are new dense_resource constants. AWQ
// quantizes the linears that share an input together and scales that input by 1/s. An
// n:m-sparse sqz.sparse_linear keeps its form with quantized kept values (rtn, nf4, and gptq
// with the mask fixed).
//
//===----------------------------------------------------------------------===//

#include "CompressionSupport.h"
#include "LayerSelection.h"

#include "sqz/Compression/Quantization.h"
#include "sqz/Dialect/Sqz/IR/SqzDialect.h"
#include "sqz/Dialect/Sqz/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/MapVector.h"

#include <cmath>

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZQUANTIZE
#include "sqz/Dialect/Sqz/Transforms/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;
namespace cmp = ::sqz::compression;

namespace {

enum class Method { RTN, GPTQ, AWQ, NF4, Ternary };

/// The IR format of `bits`-bit integer codes.
std::optional<QuantFormat> getIntFormat(int64_t bits) {
  switch (bits) {
  case 8:
    return QuantFormat::Int8;
  case 4:
    return QuantFormat::Int4;
  case 3:
    return QuantFormat::Int3;
  case 2:
    return QuantFormat::Int2;
  default:
    return std::nullopt;
  }
}

struct SqzQuantizePass : public mlir::sqz::impl::SqzQuantizeBase<SqzQuantizePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&] { return module.emitError() << "sqz-quantize: "; };
    std::optional<Method> kind = llvm::StringSwitch<std::optional<Method>>(method)
                                     .Case("rtn", Method::RTN)
                                     .Case("gptq", Method::GPTQ)
                                     .Case("awq", Method::AWQ)
                                     .Case("nf4", Method::NF4)
                                     .Case("ternary", Method::Ternary)
                                     .Default(std::nullopt);
    if (!kind) {
      emitError() << "unknown method '" << StringRef(method)
                  << "' (expected rtn, gptq, awq, nf4 or ternary)";
      return signalPassFailure();
    }
    if (group != -1 && (group <= 0 || (group & (group - 1)) != 0)) {
      emitError() << "group must be -1 or a power of two, got " << static_cast<int64_t>(group);
      return signalPassFailure();
    }
    if ((*kind == Method::RTN || *kind == Method::GPTQ || *kind == Method::AWQ) &&
        !getIntFormat(bits)) {
      emitError() << "bits must be 8, 4, 3 or 2 for " << StringRef(method) << ", got "
                  << static_cast<int64_t>(bits);
      return signalPassFailure();
    }
    if (*kind == Method::Ternary && group != -1) {
      emitError() << "ternary scales each output row (group=-1), got group="
                  << static_cast<int64_t>(group);
      return signalPassFailure();
    }
    if (blockSize <= 0 || !(damp >= 0.0)) {
      emitError() << "block-size must be positive and damp non-negative";
      return signalPassFailure();
    }
    if ((*kind == Method::GPTQ || *kind == Method::AWQ) && StringRef(stats).empty()) {
      emitError() << "method '" << StringRef(method)
                  << "' needs calibration statistics (stats=<file>, L/xtx per layer)";
      return signalPassFailure();
    }
    // Dense linears and n:m-sparse linears whose values are not quantized yet.
    auto isCandidate = [](Operation *op) {
      if (auto sparse = dyn_cast<SparseLinearOp>(op))
        return !sparse.getQuant();
      return isa<LinearOp>(op);
    };
    FailureOr<CompressionTargets> selected =
        selectCompressionTargets(module, targets, ignore, stats, emitError, isCandidate);
    if (failed(selected))
      return signalPassFailure();
    calibration = selected->stats.get();

    // The dense linears, taken before the sparse ones are replaced (and erased).
    SmallVector<std::pair<LinearOp, const SelectedLayer *>> dense;
    for (const SelectedLayer &layer : selected->layers)
      if (auto linear = dyn_cast<LinearOp>(layer.op))
        dense.emplace_back(linear, &layer);
    for (const SelectedLayer &layer : selected->layers)
      if (auto sparse = dyn_cast<SparseLinearOp>(layer.op))
        if (failed(quantizeSparse(sparse, layer.name, *kind)))
          return signalPassFailure();

    if (*kind == Method::AWQ) {
      // Linears that read the same value share one input scaling.
      llvm::MapVector<Value, SmallVector<const SelectedLayer *>> byInput;
      for (auto [linear, layer] : dense)
        byInput[linear.getInput()].push_back(layer);
      for (auto &[input, linears] : byInput)
        if (failed(quantizeAWQ(input, linears)))
          return signalPassFailure();
      return;
    }
    for (auto [linear, layer] : dense)
      if (failed(quantizeOne(linear, layer->name, *kind)))
        return signalPassFailure();
  }

private:
  const CalibrationStats *calibration = nullptr;

  cmp::QuantOptions uniformOptions() const {
    cmp::QuantOptions options;
    options.format = symmetric ? cmp::QuantFormat::Symmetric : cmp::QuantFormat::Asymmetric;
    options.bits = bits;
    options.groupSize = group;
    return options;
  }

  FailureOr<std::vector<float>> readWeight(LinearOp op, StringRef name, Attribute &value) {
    if (!matchPattern(op.getWeight(), m_Constant(&value)))
      return op.emitError() << "layer '" << name << "': the weight is not a constant";
    std::string error;
    FailureOr<std::vector<float>> weight = readFloatConstant(value, error);
    if (failed(weight))
      return op.emitError() << "layer '" << name << "': " << error;
    return weight;
  }

  LogicalResult check(LinearOp op, StringRef name, llvm::Error error) {
    if (!error)
      return success();
    return op.emitError() << "layer '" << name << "': " << llvm::toString(std::move(error));
  }

  LogicalResult quantizeOne(LinearOp op, StringRef name, Method kind) {
    int64_t rows = op.getOutFeatures(), cols = op.getInFeatures();
    Attribute value;
    FailureOr<std::vector<float>> weight = readWeight(op, name, value);
    if (failed(weight))
      return failure();
    auto compute = [&]() -> FailureOr<llvm::Expected<cmp::QuantizedMatrix>> {
      switch (kind) {
      case Method::RTN:
        return cmp::quantizeRTN(*weight, rows, cols, uniformOptions());
      case Method::GPTQ: {
        FailureOr<std::vector<double>> xtx = calibration->getXtX(op, name, cols);
        if (failed(xtx))
          return failure();
        cmp::GPTQOptions options;
        options.quant = uniformOptions();
        options.blockSize = blockSize;
        options.percDamp = damp;
        options.actOrder = actOrder;
        cmp::GPTQResult result;
        llvm::Expected<cmp::QuantizedMatrix> q =
            cmp::gptq(*weight, rows, cols, *xtx, options, result);
        if (q && result.identityFallback)
          op.emitWarning() << "layer '" << name
                           << "': the damped Hessian is not positive definite; quantized "
                              "without error feedback (raise damp or calibrate on more tokens)";
        return q;
      }
      case Method::NF4: {
        cmp::NF4Options options;
        options.blockSize = group;
        return cmp::quantizeNF4(*weight, rows, cols, options);
      }
      case Method::Ternary:
        return cmp::quantizeTernary(*weight, rows, cols, /*perRow=*/true);
      case Method::AWQ:
        break;
      }
      llvm_unreachable("AWQ quantizes groups of linears");
    };
    FailureOr<llvm::Expected<cmp::QuantizedMatrix>> computed = compute();
    if (failed(computed))
      return failure();
    llvm::Expected<cmp::QuantizedMatrix> &q = *computed;
    if (!q)
      return check(op, name, q.takeError());
    replace(op, name, value, *q, op.getInput());
    return success();
  }

  LogicalResult quantizeAWQ(Value input, ArrayRef<const SelectedLayer *> layers) {
    auto first = cast<LinearOp>(layers.front()->op);
    StringRef firstName = layers.front()->name;
    int64_t cols = first.getInFeatures();
    // The statistics of the shared input (any of its linears has them; taps are per linear).
    FailureOr<std::vector<double>> xtx = calibration->getXtX(first, firstName, cols);
    FailureOr<std::vector<double>> sumsq = calibration->getSumSq(first, firstName, cols);
    if (failed(xtx) || failed(sumsq))
      return failure();
    std::vector<double> rms(cols);
    for (int64_t j = 0; j < cols; ++j)
      rms[j] = std::sqrt((*sumsq)[j]); // any constant factor cancels in AWQ's normalization
    std::vector<std::vector<float>> weights;
    std::vector<Attribute> values;
    SmallVector<cmp::WeightView> views;
    for (const SelectedLayer *layer : layers) {
      Attribute value;
      FailureOr<std::vector<float>> weight = readWeight(cast<LinearOp>(layer->op), layer->name, value);
      if (failed(weight))
        return failure();
      weights.push_back(std::move(*weight));
      values.push_back(value);
    }
    for (auto [layer, weight] : llvm::zip(layers, weights))
      views.push_back({weight, cast<LinearOp>(layer->op).getOutFeatures(), cols});
    cmp::AWQOptions options;
    options.quant = uniformOptions();
    cmp::AWQResult result;
    if (failed(check(first, firstName, cmp::awq(views, *xtx, rms, options, result))))
      return failure();

    // x · diag(1/s), right before the first of the linears (it dominates the others: they
    // all read `input`, so it is placed right after the input's definition).
    OpBuilder b(first);
    if (Operation *def = input.getDefiningOp())
      b.setInsertionPointAfter(def);
    else
      b.setInsertionPointToStart(cast<BlockArgument>(input).getOwner());
    Location loc = first.getLoc();
    auto inputType = cast<RankedTensorType>(input.getType());
    Type elt = inputType.getElementType();
    std::vector<float> inverse(cols);
    for (int64_t j = 0; j < cols; ++j)
      inverse[j] = 1.0f / result.inputScales[j];
    auto scaleType = RankedTensorType::get({cols}, elt);
    Value scale = arith::ConstantOp::create(
        b, loc,
        cast<TypedAttr>(Attribute(makeFloatResource(
            scaleType, inverse, getBlobKeyBase(firstName) + ".awq_input_scale"))));
    int64_t rank = inputType.getRank();
    MLIRContext *ctx = b.getContext();
    AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, ctx);
    AffineMap last = AffineMap::get(rank, 0, {getAffineDimExpr(rank - 1, ctx)}, ctx);
    SmallVector<OpFoldResult> sizes;
    for (int64_t d = 0; d < rank; ++d)
      sizes.push_back(inputType.isDynamicDim(d)
                          ? OpFoldResult(tensor::DimOp::create(b, loc, input, d).getResult())
                          : OpFoldResult(b.getIndexAttr(inputType.getDimSize(d))));
    Value init = tensor::EmptyOp::create(b, loc, sizes, elt);
    SmallVector<utils::IteratorType> parallel(rank, utils::IteratorType::parallel);
    Value scaled = linalg::GenericOp::create(
                       b, loc, TypeRange{inputType}, ValueRange{input, scale}, ValueRange{init},
                       ArrayRef<AffineMap>{identity, last, identity}, parallel,
                       [](OpBuilder &nb, Location nl, ValueRange args) {
                         linalg::YieldOp::create(
                             nb, nl, arith::MulFOp::create(nb, nl, args[0], args[1]).getResult());
                       })
                       .getResult(0);
    for (auto [layer, value, q] : llvm::zip(layers, values, result.quantized))
      replace(cast<LinearOp>(layer->op), layer->name, value, q, scaled);
    return success();
  }

  /// Quantizes the kept values of an n:m-sparse linear in place: the op keeps its indices and
  /// gets i8 codes, scales (zeros) over groups of dense columns, and the `quant` attribute.
  LogicalResult quantizeSparse(SparseLinearOp op, StringRef name, Method kind) {
    if (kind == Method::AWQ || kind == Method::Ternary)
      return op.emitError() << "layer '" << name << "': method '" << StringRef(method)
                            << "' does not quantize n:m-sparse linears (use rtn, gptq or nf4)";
    SparseLinearOp::Layout layout = op.getLayout();
    int64_t rows = op.getOutFeatures(), cols = op.getInFeatures();
    if (group > 0 && group < cols && group % layout.m != 0)
      return op.emitError() << "layer '" << name << "': the group (" << static_cast<int64_t>(group)
                            << " input columns) must be a multiple of m = " << layout.m
                            << " (the linear is " << layout.n << ":" << layout.m
                            << "-sparse)";
    Attribute valuesAttr, indicesAttr;
    if (!matchPattern(op.getValues(), m_Constant(&valuesAttr)) ||
        !matchPattern(op.getIndices(), m_Constant(&indicesAttr)))
      return op.emitError() << "layer '" << name << "': values and indices must be constants";
    std::string error;
    FailureOr<std::vector<float>> values = readFloatConstant(valuesAttr, error);
    if (failed(values))
      return op.emitError() << "layer '" << name << "': " << error;
    std::vector<uint8_t> indexBytes;
    if (auto dense = dyn_cast<DenseIntElementsAttr>(indicesAttr)) {
      for (const APInt &v : dense.getValues<APInt>())
        indexBytes.push_back(static_cast<uint8_t>(v.getZExtValue()));
    } else if (auto blob = dyn_cast<DenseResourceElementsAttr>(indicesAttr)) {
      if (AsmResourceBlob *data = blob.getRawHandle().getBlob())
        indexBytes.assign(data->getData().begin(), data->getData().end());
    }
    int64_t perRow = layout.valuesPerRow(), rowBytes = layout.indexBytesPerRow();
    if (static_cast<int64_t>(indexBytes.size()) != rows * rowBytes)
      return op.emitError() << "layer '" << name << "': the indices are not readable";

    // The dense weight (pruned weights 0), its keep mask, and each stored value's column.
    std::vector<float> weight(rows * cols, 0.0f);
    std::vector<uint8_t> keep(rows * cols, 0);
    std::vector<int64_t> column(rows * perRow);
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t *idx = indexBytes.data() + r * rowBytes;
      for (int64_t k = 0; k < perRow; ++k) {
        int64_t c = k < layout.groups() * layout.n
                        ? k / layout.n * layout.m + layout.readIndex(idx, k)
                        : layout.groups() * layout.m + (k - layout.groups() * layout.n);
        column[r * perRow + k] = c;
        weight[r * cols + c] = (*values)[r * perRow + k];
        keep[r * cols + c] = 1;
      }
    }
    // RTN and NF4 parameters of a group do not change with its pruned zeros (the uniform
    // ranges always contain 0; absmax ignores zeros), so the dense pruned weight is quantized.
    llvm::Expected<cmp::QuantizedMatrix> q = [&]() -> llvm::Expected<cmp::QuantizedMatrix> {
      if (kind == Method::RTN)
        return cmp::quantizeRTN(weight, rows, cols, uniformOptions());
      if (kind == Method::NF4) {
        cmp::NF4Options options;
        options.blockSize = group;
        return cmp::quantizeNF4(weight, rows, cols, options);
      }
      FailureOr<std::vector<double>> xtx = calibration->getXtX(op, name, cols);
      if (failed(xtx))
        return llvm::createStringError(llvm::inconvertibleErrorCode(), "");
      cmp::GPTQOptions options;
      options.quant = uniformOptions();
      options.blockSize = blockSize;
      options.percDamp = damp;
      options.actOrder = actOrder;
      options.keep = keep;
      cmp::GPTQResult result;
      llvm::Expected<cmp::QuantizedMatrix> out =
          cmp::gptq(weight, rows, cols, *xtx, options, result);
      if (out && result.identityFallback)
        op.emitWarning() << "layer '" << name
                         << "': the damped Hessian is not positive definite; quantized "
                            "without error feedback (raise damp or calibrate on more tokens)";
      return out;
    }();
    if (!q) {
      std::string message = llvm::toString(q.takeError());
      if (message.empty())
        return failure(); // reported by the statistics reader
      return op.emitError() << "layer '" << name << "': " << message;
    }
    std::vector<uint8_t> codes(rows * perRow);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < perRow; ++k)
        codes[r * perRow + k] = q->codes[r * cols + column[r * perRow + k]];

    MLIRContext *ctx = op.getContext();
    std::string key = getResourceKey(valuesAttr);
    std::string base = key.empty() ? getBlobKeyBase(name) : key;
    OpBuilder b(op);
    Location loc = op.getValues().getLoc();
    auto i8 = IntegerType::get(ctx, 8);
    int64_t groups = q->groups();
    Value codesConst = arith::ConstantOp::create(
        b, loc,
        cast<TypedAttr>(Attribute(makeI8Resource(RankedTensorType::get({rows, perRow}, i8),
                                                 codes, base + ".codes"))));
    Value scales = arith::ConstantOp::create(
        b, loc,
        cast<TypedAttr>(Attribute(makeFloatResource(
            RankedTensorType::get({rows, groups}, Float32Type::get(ctx)), q->scales,
            base + ".scales"))));
    Value zeros;
    if (!q->zeros.empty())
      zeros = arith::ConstantOp::create(
          b, loc,
          cast<TypedAttr>(Attribute(makeI8Resource(RankedTensorType::get({rows, groups}, i8),
                                                   q->zeros, base + ".zeros"))));
    auto quantized = SparseLinearOp::create(b, op.getLoc(), op.getResult().getType(),
                                            op.getInput(), codesConst, op.getIndices(), scales,
                                            zeros, op.getBias(), op.getSparsity(),
                                            getScheme(ctx, *q));
    Operation *oldValues = op.getValues().getDefiningOp();
    op.getResult().replaceAllUsesWith(quantized.getResult());
    op.erase();
    if (oldValues && oldValues->use_empty())
      oldValues->erase();
    return success();
  }

  /// The #sqz.quant of a quantized matrix (group -1 when one group covers the row).
  static QuantAttr getScheme(MLIRContext *ctx, const cmp::QuantizedMatrix &q) {
    QuantFormat format;
    bool symmetricScheme = true;
    switch (q.format) {
    case cmp::QuantFormat::NF4:
      format = QuantFormat::NF4;
      break;
    case cmp::QuantFormat::Ternary:
      format = QuantFormat::Ternary;
      break;
    case cmp::QuantFormat::Asymmetric:
      symmetricScheme = false;
      format = *getIntFormat(q.bits);
      break;
    default:
      format = *getIntFormat(q.bits);
      break;
    }
    int64_t groupSize = q.groupSize < 0 || q.groupSize >= q.cols ? -1 : q.groupSize;
    return QuantAttr::get(ctx, format, groupSize, symmetricScheme);
  }

  /// Replaces `op` by an sqz.quant_linear of `q` reading `input`.
  void replace(LinearOp op, StringRef name, Attribute oldValue, const cmp::QuantizedMatrix &q,
               Value input) {
    MLIRContext *ctx = op.getContext();
    QuantAttr quant = getScheme(ctx, q);
    bool symmetricScheme = quant.getSymmetric();
    std::string key = getResourceKey(oldValue);
    std::string base = key.empty() ? getBlobKeyBase(name) : key;
    OpBuilder b(op);
    Location loc = op.getWeight().getLoc();
    int64_t groups = q.groups();
    auto i8 = IntegerType::get(ctx, 8);
    Value codes = arith::ConstantOp::create(
        b, loc,
        cast<TypedAttr>(Attribute(makeI8Resource(RankedTensorType::get({q.rows, q.cols}, i8),
                                                 q.codes, base + ".codes"))));
    Value scales = arith::ConstantOp::create(
        b, loc,
        cast<TypedAttr>(Attribute(makeFloatResource(
            RankedTensorType::get({q.rows, groups}, Float32Type::get(ctx)), q.scales,
            base + ".scales"))));
    Value zeros;
    if (!symmetricScheme)
      zeros = arith::ConstantOp::create(
          b, loc,
          cast<TypedAttr>(Attribute(makeI8Resource(RankedTensorType::get({q.rows, groups}, i8),
                                                   q.zeros, base + ".zeros"))));
    auto quantized = QuantLinearOp::create(b, op.getLoc(), op.getResult().getType(), input,
                                           codes, scales, zeros, op.getBias(), quant);
    Operation *oldConstant = op.getWeight().getDefiningOp();
    op.getResult().replaceAllUsesWith(quantized.getResult());
    op.erase();
    if (oldConstant && oldConstant->use_empty())
      oldConstant->erase();
  }
};

} // namespace
