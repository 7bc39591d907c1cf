//===- PruneStructured.cpp - Structured pruning that shrinks the model ----===//
//
// `sqz-prune-structured{unit=ffn-neuron}`: removes whole FFN neurons. An FFN block is a down
// projection (the consumer, an sqz.linear with weight [H, I]) whose input is computed by
// elementwise ops only (linalg.generic with parallel loops, arith/math on tensors) from one or
// more producer linears (gate/up, weight [I, H'], optional bias [I]) that all read the same
// value. The lowest-scored floor(I · ratio) neurons (lib/Compression structuredScores /
// lowestUnits) lose their producer rows, bias entries and consumer columns, and every tensor
// between producers and consumer shrinks from I to I' along its last dimension. Blocks of any
// other shape are left alone with a warning naming them; nothing is rewritten before a block
// has passed every check.
//
//===----------------------------------------------------------------------===//

#include "CompressionSupport.h"
#include "LayerSelection.h"

#include "sqz/Compression/Pruning.h"
#include "sqz/Dialect/Sqz/IR/SqzDialect.h"
#include "sqz/Dialect/Sqz/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZPRUNESTRUCTURED
#include "sqz/Dialect/Sqz/Transforms/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;
namespace cmp = ::sqz::compression;

namespace {

/// An FFN block found behind a down projection, ready to be shrunk.
struct FFNBlock {
  LinearOp consumer;
  /// The gate/up linears, in discovery order.
  llvm::SetVector<Operation *> producers;
  /// The elementwise ops between producers and consumer.
  llvm::SetVector<Operation *> ops;
  /// Every value of shape [..., I] in the block (producer results, op results).
  llvm::SetVector<Value> values;
};

static std::string describe(Operation *op) {
  std::string text = "'" + op->getName().getStringRef().str() + "'";
  std::string name = getLayerName(op);
  if (!name.empty())
    text += " (" + name + ")";
  return text;
}

/// A splat constant, which can be rebuilt at any shape.
static bool isSplatConstant(Value value) {
  DenseElementsAttr attr;
  return matchPattern(value, m_Constant(&attr)) && attr.isSplat();
}

/// Whether a linalg.generic body reads anything but its block arguments elementwise: an
/// index (the position changes when the tensors shrink) or a captured tensor.
static bool bodyDependsOnPosition(linalg::GenericOp generic) {
  WalkResult result = generic.getRegion().walk([&](Operation *op) {
    if (isa<linalg::IndexOp>(op))
      return WalkResult::interrupt();
    for (Value operand : op->getOperands())
      if (isa<ShapedType>(operand.getType()))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return result.wasInterrupted();
}

/// Ops that only move data around (for the diagnostic walk that looks for a producer behind
/// an unsupported pattern).
static bool isShapeOp(Operation *op) {
  return isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp, tensor::ReshapeOp, tensor::CastOp,
             tensor::ExtractSliceOp, linalg::TransposeOp, linalg::CopyOp>(op);
}

/// Whether some sqz.linear feeds `start` through elementwise or shape ops only: the sign that
/// the consumer is the down projection of an FFN block we could not handle (warned about),
/// rather than some other linear (silently left alone).
static bool reachesLinearThroughSimpleOps(Value start) {
  SmallVector<Value> worklist{start};
  llvm::DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (!seen.insert(value).second)
      continue;
    Operation *def = value.getDefiningOp();
    if (!def)
      continue;
    if (isa<LinearOp>(def))
      return true;
    if (isShapeOp(def)) {
      worklist.push_back(def->getOperand(0));
      continue;
    }
    if (auto generic = dyn_cast<linalg::GenericOp>(def)) {
      if (generic.getNumLoops() != generic.getNumParallelLoops() || generic.getNumLoops() == 0)
        continue;
      unsigned last = generic.getNumLoops() - 1;
      bool perFeature = false;
      SmallVector<Value> next;
      for (OpOperand *operand : generic.getDpsInputOperands()) {
        AffineMap map = generic.getMatchingIndexingMap(operand);
        if (map.isIdentity())
          next.push_back(operand->get());
        else if (map.isFunctionOfDim(last))
          perFeature = true;
      }
      if (!perFeature)
        worklist.append(next.begin(), next.end());
      continue;
    }
    if (def->hasTrait<OpTrait::Elementwise>() &&
        isa_and_nonnull<arith::ArithDialect, math::MathDialect>(def->getDialect()))
      for (Value operand : def->getOperands())
        if (isa<RankedTensorType>(operand.getType()))
          worklist.push_back(operand);
  }
  return false;
}

/// Collects the FFN block behind `consumer`, or says why there is none (`sawProducer`: a
/// linear was reached through elementwise ops before the search failed).
static FailureOr<FFNBlock> findFFNBlock(LinearOp consumer, std::string &reason,
                                        bool &sawProducer) {
  FFNBlock block;
  block.consumer = consumer;
  auto reject = [&](const Twine &why) -> FailureOr<FFNBlock> {
    reason = why.str();
    sawProducer = !block.producers.empty();
    return failure();
  };
  auto shapeType = dyn_cast<RankedTensorType>(consumer.getInput().getType());
  if (!shapeType || !shapeType.hasStaticShape())
    return reject("its input does not have a static shape");
  ArrayRef<int64_t> shape = shapeType.getShape();
  int64_t rank = shape.size();

  SmallVector<Value> worklist{consumer.getInput()};
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (block.values.contains(value))
      continue;
    auto type = dyn_cast<RankedTensorType>(value.getType());
    if (!type || type.getShape() != shape) {
      std::string what = value.getDefiningOp() ? describe(value.getDefiningOp()) : "an argument";
      return reject("the result of " + what +
                    " reaches the down projection but does not have its input's shape");
    }
    Operation *def = value.getDefiningOp();
    if (!def)
      return reject("its input comes from a block argument, not from gate/up linears");
    block.values.insert(value);
    if (auto producer = dyn_cast<LinearOp>(def)) {
      if (!matchPattern(producer.getWeight(), m_Constant()))
        return reject("the weight of producer " + describe(def) + " is not a constant");
      if (producer.getBias() && !matchPattern(producer.getBias(), m_Constant()))
        return reject("the bias of producer " + describe(def) + " is not a constant");
      block.producers.insert(def);
      continue;
    }
    if (def->getNumResults() != 1)
      return reject(describe(def) + " between the producers and the down projection has " +
                    Twine(def->getNumResults()) + " results");
    if (auto generic = dyn_cast<linalg::GenericOp>(def)) {
      if (generic.getNumLoops() != generic.getNumParallelLoops())
        return reject(describe(def) + " between the producers and the down projection "
                                      "reduces (not elementwise)");
      if (static_cast<int64_t>(generic.getNumLoops()) != rank)
        return reject(describe(def) + " does not iterate over the intermediate's shape");
      if (bodyDependsOnPosition(generic))
        return reject(describe(def) + " depends on the element position (linalg.index or a "
                                      "captured tensor)");
      unsigned last = rank - 1;
      for (OpOperand *operand : generic.getDpsInputOperands()) {
        AffineMap map = generic.getMatchingIndexingMap(operand);
        if (map.isIdentity()) {
          if (!isSplatConstant(operand->get()))
            worklist.push_back(operand->get());
        } else if (map.isFunctionOfDim(last)) {
          return reject(describe(def) + " reads operand #" +
                        Twine(operand->getOperandNumber()) +
                        " along the neuron axis through a non-identity map");
        }
      }
      for (OpOperand &init : generic.getDpsInitsMutable()) {
        if (!generic.getMatchingIndexingMap(&init).isIdentity())
          return reject(describe(def) + " writes its result through a non-identity map");
        if (!init.get().getDefiningOp<tensor::EmptyOp>())
          worklist.push_back(init.get());
      }
      block.ops.insert(def);
      continue;
    }
    if (def->hasTrait<OpTrait::Elementwise>() &&
        isa_and_nonnull<arith::ArithDialect, math::MathDialect>(def->getDialect())) {
      for (Value operand : def->getOperands()) {
        if (!isa<RankedTensorType>(operand.getType()))
          return reject(describe(def) + " mixes tensors and scalars");
        if (!isSplatConstant(operand))
          worklist.push_back(operand);
      }
      block.ops.insert(def);
      continue;
    }
    return reject(describe(def) + " between the producers and the down projection is not "
                                  "elementwise");
  }
  if (block.producers.empty())
    return reject("no gate/up linear feeds it");
  Value input = cast<LinearOp>(block.producers.front()).getInput();
  for (Operation *producer : block.producers)
    if (cast<LinearOp>(producer).getInput() != input)
      return reject("its gate/up linears " + describe(block.producers.front()) + " and " +
                    describe(producer) + " read different inputs");
  // Nothing outside the block may see the intermediate (it is about to change shape).
  for (Value value : block.values)
    for (Operation *user : value.getUsers())
      if (user != consumer.getOperation() && !block.ops.contains(user))
        return reject("the intermediate value of " + describe(value.getDefiningOp()) +
                      " is also used by " + describe(user));
  if (consumer.getWeight() == consumer.getInput() ||
      (consumer.getBias() && block.values.contains(consumer.getBias())))
    return reject("the down projection's weight or bias depends on the intermediate");
  if (!matchPattern(consumer.getWeight(), m_Constant()))
    return reject("the down projection's weight is not a constant");
  return block;
}

/// The rows (unitIsRow) or columns of a row-major [rows, cols] matrix listed in `keep`.
static std::vector<float> sliceMatrix(ArrayRef<float> matrix, int64_t rows, int64_t cols,
                                      ArrayRef<int64_t> keep, bool unitIsRow) {
  std::vector<float> out;
  out.reserve(keep.size() * (unitIsRow ? cols : rows));
  if (unitIsRow) {
    for (int64_t r : keep)
      out.insert(out.end(), matrix.begin() + r * cols, matrix.begin() + (r + 1) * cols);
  } else {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c : keep)
        out.push_back(matrix[r * cols + c]);
  }
  return out;
}

/// `type` with its last dimension set to `size`.
static RankedTensorType withLastDim(Type type, int64_t size) {
  auto ranked = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(ranked.getShape());
  shape.back() = size;
  return RankedTensorType::get(shape, ranked.getElementType(), ranked.getEncoding());
}

struct SqzPruneStructuredPass
    : public mlir::sqz::impl::SqzPruneStructuredBase<SqzPruneStructuredPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&] { return module.emitError() << "sqz-prune-structured: "; };
    if (!(ratio >= 0.0 && ratio < 1.0)) {
      emitError() << "ratio must be in [0, 1), got " << static_cast<double>(ratio);
      return signalPassFailure();
    }
    if (score != "l2" && score != "activation") {
      emitError() << "unknown score '" << StringRef(score) << "' (expected l2 or activation)";
      return signalPassFailure();
    }
    if (unit == "attention-head") {
      emitError() << "unit=attention-head is not supported for this graph: removing heads "
                     "needs the q/k/v reshapes, rotary embedding, GQA repeat and attention "
                     "ops between the projections to be rewritten, which is not implemented; "
                     "use unit=ffn-neuron";
      return signalPassFailure();
    }
    if (unit != "ffn-neuron") {
      emitError() << "unknown unit '" << StringRef(unit)
                  << "' (expected ffn-neuron or attention-head)";
      return signalPassFailure();
    }
    bool activation = score == "activation";
    if (activation && stats.empty()) {
      emitError() << "score=activation needs calibration statistics (stats=<file>, L/sumsq of "
                     "each down projection L)";
      return signalPassFailure();
    }
    FailureOr<CompressionTargets> selected =
        selectCompressionTargets(module, targets, ignore, stats, emitError);
    if (failed(selected))
      return signalPassFailure();
    std::unique_ptr<CalibrationStats> &calibration = selected->stats;
    SmallVector<SelectedLayer> &layers = selected->layers;
    // Linears are rewritten in place, so the selected ops stay valid while earlier blocks
    // shrink.
    for (const SelectedLayer &layer : layers) {
      auto consumer = cast<LinearOp>(layer.op);
      std::string reason;
      bool sawProducer = false;
      FailureOr<FFNBlock> block = findFFNBlock(consumer, reason, sawProducer);
      if (failed(block)) {
        if (sawProducer || reachesLinearThroughSimpleOps(consumer.getInput()))
          consumer.emitWarning() << "sqz-prune-structured: FFN block of '" << layer.name
                                 << "' left unpruned: " << reason;
        continue;
      }
      if (failed(prune(*block, layer.name, activation ? calibration.get() : nullptr)))
        return signalPassFailure();
    }
  }

  LogicalResult prune(FFNBlock &block, StringRef name, const CalibrationStats *calibration) {
    LinearOp consumer = block.consumer;
    int64_t units = consumer.getInFeatures();
    int64_t count = static_cast<int64_t>(std::floor(static_cast<double>(units) * ratio));
    if (count == 0)
      return success();
    auto fail = [&](Operation *op, const Twine &message) {
      return op->emitError() << "sqz-prune-structured: FFN block of '" << name
                             << "': " << message;
    };

    // Read every weight first: nothing changes unless the whole block can be rewritten.
    struct Matrix {
      Attribute attr;
      std::vector<float> values;
    };
    auto read = [&](Operation *op, Value value, Matrix &out) -> LogicalResult {
      matchPattern(value, m_Constant(&out.attr));
      std::string error;
      FailureOr<std::vector<float>> values = readFloatConstant(out.attr, error);
      if (failed(values))
        return fail(op, "cannot read a constant of " + describe(op) + ": " + error);
      out.values = std::move(*values);
      return success();
    };
    SmallVector<Matrix> weights(block.producers.size()), biases(block.producers.size());
    for (auto [i, op] : llvm::enumerate(block.producers)) {
      auto producer = cast<LinearOp>(op);
      if (failed(read(op, producer.getWeight(), weights[i])))
        return failure();
      if (producer.getBias() && failed(read(op, producer.getBias(), biases[i])))
        return failure();
    }
    Matrix down;
    if (failed(read(consumer, consumer.getWeight(), down)))
      return failure();
    int64_t outFeatures = consumer.getOutFeatures();

    std::vector<double> sumsq;
    SmallVector<cmp::UnitSlice> slices;
    if (calibration) {
      // Activation-weighted: the Wanda score of each neuron's column of the down projection,
      // Σ_o |W[o, i]| · sqrt(Σ x_i²), from the statistics of the down projection's input.
      FailureOr<std::vector<double>> read = calibration->getSumSq(consumer, name, units);
      if (failed(read))
        return failure();
      sumsq = std::move(*read);
    } else {
      for (auto [i, op] : llvm::enumerate(block.producers)) {
        auto producer = cast<LinearOp>(op);
        cmp::UnitSlice slice;
        slice.weight = weights[i].values;
        slice.rows = producer.getOutFeatures();
        slice.cols = producer.getInFeatures();
        slice.unitIsRow = true;
        slices.push_back(slice);
      }
    }
    cmp::UnitSlice downSlice;
    downSlice.weight = down.values;
    downSlice.rows = outFeatures;
    downSlice.cols = units;
    downSlice.unitIsRow = false;
    downSlice.inputSquareSums = sumsq;
    slices.push_back(downSlice);
    llvm::Expected<std::vector<double>> scores = cmp::structuredScores(slices);
    if (!scores)
      return fail(consumer, llvm::toString(scores.takeError()));
    std::vector<int64_t> removed = cmp::lowestUnits(*scores, count);
    std::vector<int64_t> keep;
    keep.reserve(units - removed.size());
    for (int64_t u = 0, r = 0; u < units; ++u) {
      if (r < static_cast<int64_t>(removed.size()) && removed[r] == u) {
        ++r;
        continue;
      }
      keep.push_back(u);
    }
    int64_t kept = keep.size();

    // A new constant for `operand` (the old one is erased when nothing else uses it).
    auto replaceConstant = [&](OpOperand &operand, const Matrix &matrix, RankedTensorType type,
                               ArrayRef<float> values, StringRef suffix) {
      Operation *old = operand.get().getDefiningOp();
      std::string key = getResourceKey(matrix.attr);
      OpBuilder builder(old);
      Value fresh = arith::ConstantOp::create(
          builder, old->getLoc(),
          cast<TypedAttr>(Attribute(makeFloatResource(
              type, values,
              key.empty() ? getBlobKeyBase(getLayerName(operand.getOwner())) + suffix.str()
                          : key + ".structured"))));
      operand.set(fresh);
      if (old->use_empty())
        old->erase();
    };

    for (auto [i, op] : llvm::enumerate(block.producers)) {
      auto producer = cast<LinearOp>(op);
      int64_t cols = producer.getInFeatures();
      auto weightType = cast<RankedTensorType>(producer.getWeight().getType());
      replaceConstant(producer.getWeightMutable(), weights[i],
                      RankedTensorType::get({kept, cols}, weightType.getElementType()),
                      sliceMatrix(weights[i].values, units, cols, keep, /*unitIsRow=*/true),
                      ".structured");
      if (producer.getBias()) {
        auto biasType = cast<RankedTensorType>(producer.getBias().getType());
        replaceConstant(producer.getBiasMutable()[0], biases[i],
                        RankedTensorType::get({kept}, biasType.getElementType()),
                        sliceMatrix(biases[i].values, units, 1, keep, /*unitIsRow=*/true),
                        ".bias.structured");
      }
      producer.getResult().setType(withLastDim(producer.getResult().getType(), kept));
    }
    for (Operation *op : block.ops) {
      OpBuilder builder(op);
      for (OpOperand &operand : op->getOpOperands()) {
        Value value = operand.get();
        auto type = dyn_cast<RankedTensorType>(value.getType());
        if (!type || block.values.contains(value))
          continue;
        auto generic = dyn_cast<linalg::GenericOp>(op);
        if (generic && generic.isDpsInit(&operand)) {
          // A tensor.empty init (possibly shared with other ops): a fresh one of the new shape.
          RankedTensorType fresh = withLastDim(type, kept);
          operand.set(tensor::EmptyOp::create(builder, value.getLoc(), fresh.getShape(),
                                              fresh.getElementType()));
          if (Operation *old = value.getDefiningOp(); old && old->use_empty())
            old->erase();
          continue;
        }
        bool identity = !generic || generic.getMatchingIndexingMap(&operand).isIdentity();
        if (identity && isSplatConstant(value)) {
          DenseElementsAttr attr;
          matchPattern(value, m_Constant(&attr));
          operand.set(arith::ConstantOp::create(
              builder, value.getLoc(), attr.resizeSplat(withLastDim(type, kept))));
          if (Operation *old = value.getDefiningOp(); old && old->use_empty())
            old->erase();
        }
      }
      op->getResult(0).setType(withLastDim(op->getResult(0).getType(), kept));
    }
    auto downType = cast<RankedTensorType>(consumer.getWeight().getType());
    replaceConstant(consumer.getWeightMutable(), down,
                    RankedTensorType::get({outFeatures, kept}, downType.getElementType()),
                    sliceMatrix(down.values, outFeatures, units, keep, /*unitIsRow=*/false),
                    ".structured");
    // Removing columns breaks the n:m groups along the input dimension.
    if (consumer.getSparsity())
      consumer.removeSparsityAttr();
    return success();
  }
};
} // namespace
