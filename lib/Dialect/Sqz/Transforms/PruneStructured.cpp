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
// `sqz-prune-structured{unit=attention-head}`: removes whole GQA groups (a KV head and the query
// heads sharing it) behind an output projection. The head axis is propagated from the q/k/v
// outputs through reshapes, slices and linalg ops to the output projection (HeadAnalysis), so
// any static-shape lowering of attention that keeps heads apart is handled (stories260K's
// explicit ONNX pattern and the importer's lowering of ONNX Attention alike); the pruned groups
// lose their q/k/v rows and output columns and every tensor in between its heads dimension.
// docs/Compression.md describes both units.
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
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>
#include <numeric>

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

/// A constant read for slicing: its attribute and values.
struct Matrix {
  Attribute attr;
  std::vector<float> values;
};

/// Sets `operand` to a new constant of `type` holding `values`: a dense resource named after
/// the old blob with ".structured", or after the owner's layer with `suffix`. The old constant
/// is erased when nothing else uses it.
static void replaceConstant(OpOperand &operand, const Matrix &matrix, RankedTensorType type,
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
}

/// `type` with its last dimension set to `size`.
static RankedTensorType withLastDim(Type type, int64_t size) {
  auto ranked = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(ranked.getShape());
  shape.back() = size;
  return RankedTensorType::get(shape, ranked.getElementType(), ranked.getEncoding());
}

/// Reports a failure on `op` within the block being pruned.
using BlockFailure = function_ref<InFlightDiagnostic(Operation *, const Twine &)>;

/// Reads the float constant `value` (a weight or bias of `op`) into `out`.
static LogicalResult readMatrix(Operation *op, Value value, Matrix &out, BlockFailure fail) {
  if (!matchPattern(value, m_Constant(&out.attr)))
    return fail(op, "a weight or bias of " + describe(op) + " is not a constant");
  std::string error;
  FailureOr<std::vector<float>> values = readFloatConstant(out.attr, error);
  if (failed(values))
    return fail(op, "cannot read a constant of " + describe(op) + ": " + error);
  out.values = std::move(*values);
  return success();
}

/// The `count` lowest-scored of `units` structural units, in increasing order. Unit u is rows
/// [u·w, (u+1)·w) of every producer (w = its rows / units) and the matching columns of the
/// consumer: scored by L2 over all of them or, with `calibration`, by the Wanda score of the
/// consumer's columns under the statistics of its input.
static FailureOr<std::vector<int64_t>>
lowestScoredUnits(ArrayRef<LinearOp> producers, ArrayRef<Matrix> weights, LinearOp consumer,
                  const Matrix &consumerWeight, StringRef name,
                  const CalibrationStats *calibration, int64_t units, int64_t count,
                  BlockFailure fail) {
  int64_t inFeatures = consumer.getInFeatures();
  std::vector<double> sumsq;
  SmallVector<cmp::UnitSlice> slices;
  if (calibration) {
    FailureOr<std::vector<double>> read = calibration->getSumSq(consumer, name, inFeatures);
    if (failed(read))
      return failure();
    sumsq = std::move(*read);
  } else {
    for (auto [i, weight] : llvm::enumerate(weights)) {
      LinearOp producer = producers[i];
      cmp::UnitSlice slice;
      slice.weight = weight.values;
      slice.rows = producer.getOutFeatures();
      slice.cols = producer.getInFeatures();
      slice.unitIsRow = true;
      slice.unitWidth = slice.rows / units;
      slices.push_back(slice);
    }
  }
  cmp::UnitSlice consumerSlice;
  consumerSlice.weight = consumerWeight.values;
  consumerSlice.rows = consumer.getOutFeatures();
  consumerSlice.cols = inFeatures;
  consumerSlice.unitIsRow = false;
  consumerSlice.unitWidth = inFeatures / units;
  consumerSlice.inputSquareSums = sumsq;
  slices.push_back(consumerSlice);
  llvm::Expected<std::vector<double>> scores = cmp::structuredScores(slices);
  if (!scores)
    return fail(consumer, llvm::toString(scores.takeError()));
  return cmp::lowestUnits(*scores, count);
}

//===----------------------------------------------------------------------===//
// Attention heads
//===----------------------------------------------------------------------===//

/// Where a tensor carries the attention groups: its dimension `dim` has size
/// outer · G · inner and index i belongs to group (i / inner) mod G. At a q/k/v projection's
/// output (the last dimension, [G · inner]) a group is `inner` consecutive features; after
/// the reshapes to [B, S, heads, head_dim] it is a slice of the heads dimension.
struct HeadAxis {
  int64_t dim = 0, inner = 1;
  bool operator==(const HeadAxis &other) const {
    return dim == other.dim && inner == other.inner;
  }
  bool operator!=(const HeadAxis &other) const { return !(*this == other); }
};

/// An attention block found behind an output projection: every value between the q/k/v
/// projections and the output projection, and where each carries the G groups.
struct AttentionBlock {
  LinearOp consumer;
  SmallVector<LinearOp> producers;
  int64_t groups = 0;
  llvm::MapVector<Value, HeadAxis> values;
  /// The linalg ops of the block and their head loop.
  llvm::MapVector<Operation *, unsigned> linalgOps;
  /// Operands that vary along the heads without being block values: inits made by
  /// tensor.empty or by linalg.fill of one, and splat constants, rebuilt at the new shape.
  SmallVector<std::pair<OpOperand *, HeadAxis>> rebuilt;
};

/// Finds the attention block of `consumer` for G = `groups`: propagates the group axis from
/// the producers' outputs through every use (reshapes, slices, transposes, elementwise and
/// batched linalg ops, values captured by linalg bodies) and checks that the heads never mix
/// before the consumer. On failure `reason` says why.
class HeadAnalysis {
public:
  HeadAnalysis(LinearOp consumer, ArrayRef<LinearOp> producers, int64_t groups) {
    block.consumer = consumer;
    block.producers.assign(producers.begin(), producers.end());
    block.groups = groups;
  }

  /// Fails with the reason in `error`.
  LogicalResult run() {
    int64_t g = block.groups;
    for (LinearOp producer : block.producers) {
      int64_t out = producer.getOutFeatures();
      if (out % g != 0)
        return fail(describe(producer) + " has " + std::to_string(out) +
                    " outputs, not a multiple of the group count");
      int64_t rank = cast<RankedTensorType>(producer.getResult().getType()).getRank();
      if (failed(assign(producer.getResult(), {rank - 1, out / g})))
        return failure();
    }
    while (!worklist.empty()) {
      Value value = worklist.pop_back_val();
      HeadAxis axis = block.values.lookup(value);
      for (OpOperand &use : value.getUses())
        if (failed(visitUse(use, axis)))
          return failure();
    }
    if (!reachedConsumer)
      return fail("the projections do not reach it");
    for (auto [operand, axis] : required) {
      Value value = operand->get();
      auto found = block.values.find(value);
      if (found != block.values.end()) {
        if (found->second != axis)
          return fail("operand #" + std::to_string(operand->getOperandNumber()) + " of " +
                      describe(operand->getOwner()) + " carries the heads differently");
        continue;
      }
      auto linalgOp = cast<linalg::LinalgOp>(operand->getOwner());
      if (isRebuildable(value, linalgOp.isDpsInit(operand))) {
        OpOperand *rebuiltOperand = operand;
        if (!llvm::any_of(block.rebuilt,
                          [&](const auto &r) { return r.first == rebuiltOperand; }))
          block.rebuilt.push_back({operand, axis});
        continue;
      }
      return fail("operand #" + std::to_string(operand->getOperandNumber()) + " of " +
                  describe(operand->getOwner()) +
                  " varies along the heads but does not come from the q/k/v projections "
                  "(a per-head constant is not sliced)");
    }
    for (auto [value, axis] : captures) {
      auto found = block.values.find(value);
      if (found == block.values.end() || found->second != axis)
        return fail("a linalg body reads a tensor at the head index that does not carry the "
                    "heads there");
    }
    if (!contraction)
      return fail("no batched contraction over the heads (not an attention block)");
    return success();
  }

  AttentionBlock block;
  std::string error;
  /// Whether a contraction of two block values over a head-parallel loop was found (q·kᵀ,
  /// probs·v): what makes this an attention block rather than an FFN.
  bool contraction = false;

private:
  LogicalResult fail(const std::string &why) {
    error = why;
    return failure();
  }

  static bool isRebuildable(Value value, bool init) {
    if (!init)
      return isSplatConstant(value);
    if (value.getDefiningOp<tensor::EmptyOp>())
      return true;
    auto fill = value.getDefiningOp<linalg::FillOp>();
    return fill && fill.getOutputs()[0].getDefiningOp<tensor::EmptyOp>() &&
           !isa<ShapedType>(fill.getInputs()[0].getType());
  }

  LogicalResult assign(Value value, HeadAxis axis) {
    auto type = dyn_cast<RankedTensorType>(value.getType());
    if (!type || !type.hasStaticShape())
      return fail("a value between the projections and the output projection does not have "
                  "a static shape");
    if (axis.dim >= type.getRank() || type.getDimSize(axis.dim) % (block.groups * axis.inner))
      return fail("internal: a head axis does not divide its dimension");
    auto [it, inserted] = block.values.insert({value, axis});
    if (!inserted) {
      if (it->second != axis)
        return fail("a value reached on two paths carries the heads differently");
      return success();
    }
    worklist.push_back(value);
    return success();
  }

  LogicalResult visitUse(OpOperand &use, HeadAxis axis) {
    Operation *user = use.getOwner();
    if (user == block.consumer.getOperation()) {
      auto type = cast<RankedTensorType>(use.get().getType());
      if (&use != &block.consumer.getInputMutable() || axis.dim != type.getRank() - 1 ||
          block.consumer.getInFeatures() != block.groups * axis.inner)
        return fail("the output projection does not read the heads along its input features");
      reachedConsumer = true;
      return success();
    }
    if (isa<LinearOp>(user))
      return fail(describe(user) + " reads the heads before the output projection");
    if (auto expand = dyn_cast<tensor::ExpandShapeOp>(user)) {
      ArrayRef<int64_t> sizes = expand.getResultType().getShape();
      ReassociationIndices group = expand.getReassociationIndices()[axis.dim];
      int64_t innerProduct = 1;
      for (int64_t k = group.size() - 1; k >= 0; --k) {
        int64_t size = sizes[group[k]];
        if (axis.inner % innerProduct == 0 &&
            (size * innerProduct) % (block.groups * axis.inner) == 0)
          return assign(expand.getResult(), {group[k], axis.inner / innerProduct});
        innerProduct *= size;
      }
      return fail(describe(user) + " splits the heads across dimensions");
    }
    if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(user)) {
      ArrayRef<int64_t> sizes = collapse.getSrcType().getShape();
      for (auto [j, group] : llvm::enumerate(collapse.getReassociationIndices())) {
        if (!llvm::is_contained(group, axis.dim))
          continue;
        int64_t inner = axis.inner;
        for (int64_t d : group)
          if (d > axis.dim)
            inner *= sizes[d];
        return assign(collapse.getResult(), {static_cast<int64_t>(j), inner});
      }
      return fail("internal: collapse_shape without the head dimension");
    }
    if (auto slice = dyn_cast<tensor::ExtractSliceOp>(user)) {
      auto source = slice.getSourceType();
      if (&use != &slice.getSourceMutable() || slice.getResultType().getRank() != source.getRank() ||
          slice.getStaticOffsets()[axis.dim] != 0 ||
          slice.getStaticSizes()[axis.dim] != source.getDimSize(axis.dim) ||
          slice.getStaticStrides()[axis.dim] != 1)
        return fail(describe(user) + " slices the heads dimension");
      return assign(slice.getResult(), axis);
    }
    if (auto extract = dyn_cast<tensor::ExtractOp>(user)) {
      // A tensor captured by a linalg body and read at the element's own head index.
      auto parent = dyn_cast_or_null<linalg::LinalgOp>(user->getParentOp());
      auto index = parent ? extract.getIndices()[axis.dim].getDefiningOp<linalg::IndexOp>()
                          : linalg::IndexOp();
      if (!index || index->getParentOp() != parent.getOperation())
        return fail(describe(user) + " reads a head that is not its own");
      return visitLinalg(parent, index.getDim(), axis.inner);
    }
    if (auto linalgOp = dyn_cast<linalg::LinalgOp>(user)) {
      AffineMap map = linalgOp.getMatchingIndexingMap(&use);
      auto dimExpr = dyn_cast<AffineDimExpr>(map.getResult(axis.dim));
      if (!dimExpr)
        return fail(describe(user) + " does not index the heads by a loop");
      return visitLinalg(linalgOp, dimExpr.getPosition(), axis.inner);
    }
    return fail(describe(user) + " uses a value that carries the heads (only reshapes, slices "
                                 "and linalg ops are followed)");
  }

  /// `op`'s loop `loop` walks the groups (with `inner` as its inner factor).
  LogicalResult visitLinalg(linalg::LinalgOp op, unsigned loop, int64_t inner) {
    auto [it, inserted] = block.linalgOps.insert({op.getOperation(), loop});
    if (!inserted) {
      if (it->second != loop)
        return fail(describe(op) + " sees the heads along two loops");
      return success();
    }
    if (op.getIteratorTypesArray()[loop] != utils::IteratorType::parallel)
      return fail(describe(op) + " reduces across the heads");
    unsigned carriers = 0;
    for (OpOperand &operand : op->getOpOperands()) {
      AffineMap map = op.getMatchingIndexingMap(&operand);
      std::optional<int64_t> position;
      for (unsigned r = 0; r < map.getNumResults(); ++r) {
        AffineExpr expr = map.getResult(r);
        if (!expr.isFunctionOfDim(loop))
          continue;
        if (!isa<AffineDimExpr>(expr) || position)
          return fail(describe(op) + " indexes operand #" +
                      std::to_string(operand.getOperandNumber()) +
                      " by an expression of the head loop");
        position = r;
      }
      bool init = op.isDpsInit(&operand);
      if (!position) {
        if (init)
          return fail(describe(op) + " writes a result without the heads dimension");
        continue;
      }
      HeadAxis axis{*position, inner};
      required.push_back({&operand, axis});
      if (init) {
        if (failed(assign(op.getTiedOpResult(&operand), axis)))
          return failure();
      } else if (!isSplatConstant(operand.get())) {
        ++carriers;
      }
    }
    if (carriers >= 2 && op.getNumReductionLoops() > 0)
      contraction = true;
    // The head index may only read captured tensors at their own head dimension.
    WalkResult walk = op->walk([&](linalg::IndexOp index) {
      if (index.getDim() != loop || index->getParentOp() != op.getOperation())
        return WalkResult::advance();
      for (OpOperand &use : index->getUses()) {
        auto extract = dyn_cast<tensor::ExtractOp>(use.getOwner());
        if (!extract || use.getOperandNumber() == 0 ||
            op->getRegion(0).isAncestor(extract.getTensor().getParentRegion())) {
          (void)fail(describe(op) + " computes with the head index");
          return WalkResult::interrupt();
        }
        captures.push_back(
            {extract.getTensor(),
             HeadAxis{static_cast<int64_t>(use.getOperandNumber() - 1), inner}});
      }
      return WalkResult::advance();
    });
    return failure(walk.wasInterrupted());
  }

  SmallVector<Value> worklist;
  SmallVector<std::pair<OpOperand *, HeadAxis>> required;
  SmallVector<std::pair<Value, HeadAxis>> captures;
  bool reachedConsumer = false;
};

/// The linears behind `consumer` (walking back through every op and captured value, stopping
/// at linears) and whether a contraction of activations (a batched matmul of two computed
/// tensors) lies on the way: the sign of an attention block.
static SmallVector<LinearOp> findHeadProducers(LinearOp consumer, bool &attentionLike) {
  attentionLike = false;
  llvm::SetVector<Operation *> producers;
  SmallVector<Value> worklist{consumer.getInput()};
  llvm::DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (!seen.insert(value).second)
      continue;
    Operation *def = value.getDefiningOp();
    if (!def)
      continue;
    if (isa<LinearOp>(def)) {
      producers.insert(def);
      continue;
    }
    if (auto linalgOp = dyn_cast<linalg::LinalgOp>(def)) {
      unsigned computed = 0;
      for (Value input : linalgOp.getDpsInputs())
        if (isa<ShapedType>(input.getType()) && !matchPattern(input, m_Constant()))
          ++computed;
      if (computed >= 2 && linalgOp.getNumReductionLoops() > 0)
        attentionLike = true;
    }
    worklist.append(def->operand_begin(), def->operand_end());
    llvm::SetVector<Value> captured;
    getUsedValuesDefinedAbove(def->getRegions(), captured);
    worklist.append(captured.begin(), captured.end());
  }
  SmallVector<LinearOp> result;
  for (Operation *op : producers)
    result.push_back(cast<LinearOp>(op));
  return result;
}

/// The attention block of `consumer` at the finest grouping that keeps the heads apart: the
/// largest G ≥ 2 dividing every projection for which the analysis succeeds (the number of
/// KV heads: with GQA a KV head and the query heads that share it are one group).
static FailureOr<AttentionBlock> findAttentionBlock(LinearOp consumer,
                                                    ArrayRef<LinearOp> producers,
                                                    std::string &reason) {
  int64_t common = consumer.getInFeatures();
  for (LinearOp producer : producers)
    common = std::gcd(common, producer.getOutFeatures());
  reason = "the projections have no common head count";
  for (int64_t g = common; g >= 2; --g) {
    if (common % g)
      continue;
    HeadAnalysis analysis(consumer, producers, g);
    if (succeeded(analysis.run()))
      return std::move(analysis.block);
    reason = analysis.error; // the coarsest grouping's reason is reported
  }
  return failure();
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
    bool heads = unit == "attention-head";
    if (unit != "ffn-neuron" && !heads) {
      emitError() << "unknown unit '" << StringRef(unit)
                  << "' (expected ffn-neuron or attention-head)";
      return signalPassFailure();
    }
    bool activation = score == "activation";
    if (activation && stats.empty()) {
      emitError() << "score=activation needs calibration statistics (stats=<file>, L/sumsq of "
                     "each down (ffn-neuron) or output (attention-head) projection L)";
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
      if (heads) {
        bool attentionLike = false;
        SmallVector<LinearOp> producers = findHeadProducers(consumer, attentionLike);
        if (!attentionLike || producers.empty())
          continue;
        FailureOr<AttentionBlock> block = findAttentionBlock(consumer, producers, reason);
        if (failed(block)) {
          consumer.emitWarning() << "sqz-prune-structured: attention block of '" << layer.name
                                 << "' left unpruned: " << reason;
          continue;
        }
        if (failed(pruneHeads(*block, layer.name, activation ? calibration.get() : nullptr)))
          return signalPassFailure();
        continue;
      }
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
    SmallVector<LinearOp> producers;
    for (Operation *op : block.producers)
      producers.push_back(cast<LinearOp>(op));
    SmallVector<Matrix> weights(producers.size()), biases(producers.size());
    for (auto [i, producer] : llvm::enumerate(producers)) {
      if (failed(readMatrix(producer, producer.getWeight(), weights[i], fail)))
        return failure();
      if (producer.getBias() && failed(readMatrix(producer, producer.getBias(), biases[i], fail)))
        return failure();
    }
    Matrix down;
    if (failed(readMatrix(consumer, consumer.getWeight(), down, fail)))
      return failure();
    int64_t outFeatures = consumer.getOutFeatures();

    // Scores per neuron: L2 over its gate/up rows and down-projection column, or the Wanda
    // score Σ_o |W[o, i]| · sqrt(Σ x_i²) of its down-projection column.
    FailureOr<std::vector<int64_t>> lowest = lowestScoredUnits(
        producers, weights, consumer, down, name, calibration, units, count, fail);
    if (failed(lowest))
      return failure();
    std::vector<int64_t> removed = std::move(*lowest);
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

  /// Removes the lowest-scored floor(G · ratio) groups of `block`: q/k/v rows, output
  /// projection columns, and the heads dimension of every value in between.
  LogicalResult pruneHeads(AttentionBlock &block, StringRef name,
                           const CalibrationStats *calibration) {
    LinearOp consumer = block.consumer;
    int64_t groups = block.groups;
    int64_t count = static_cast<int64_t>(std::floor(static_cast<double>(groups) * ratio));
    if (count == 0)
      return success();
    auto fail = [&](Operation *op, const Twine &message) {
      return op->emitError() << "sqz-prune-structured: attention block of '" << name
                             << "': " << message;
    };
    SmallVector<Matrix> weights(block.producers.size()), biases(block.producers.size());
    for (auto [i, producer] : llvm::enumerate(block.producers)) {
      if (failed(readMatrix(producer, producer.getWeight(), weights[i], fail)))
        return failure();
      if (producer.getBias() && failed(readMatrix(producer, producer.getBias(), biases[i], fail)))
        return failure();
    }
    Matrix out;
    if (failed(readMatrix(consumer, consumer.getWeight(), out, fail)))
      return failure();
    int64_t outFeatures = consumer.getOutFeatures(), inFeatures = consumer.getInFeatures();
    int64_t consumerWidth = inFeatures / groups;

    // Scores per group: L2 over its q/k/v rows and output columns, or the Wanda score of its
    // output-projection columns with the statistics of the output projection's input.
    FailureOr<std::vector<int64_t>> lowest = lowestScoredUnits(
        block.producers, weights, consumer, out, name, calibration, groups, count, fail);
    if (failed(lowest))
      return failure();
    std::vector<int64_t> removed = std::move(*lowest);
    std::vector<int64_t> keptGroups;
    for (int64_t g = 0; g < groups; ++g)
      if (!llvm::is_contained(removed, g))
        keptGroups.push_back(g);
    int64_t kept = keptGroups.size();
    auto keptFeatures = [&](int64_t width) {
      std::vector<int64_t> features;
      for (int64_t g : keptGroups)
        for (int64_t i = 0; i < width; ++i)
          features.push_back(g * width + i);
      return features;
    };
    auto shrink = [&](Type type, HeadAxis axis) {
      auto ranked = cast<RankedTensorType>(type);
      SmallVector<int64_t> shape(ranked.getShape());
      shape[axis.dim] = shape[axis.dim] / groups * kept;
      return RankedTensorType::get(shape, ranked.getElementType(), ranked.getEncoding());
    };

    // New types first (from the old shapes), then the rewrite.
    SmallVector<std::pair<Value, RankedTensorType>> types;
    for (auto [value, axis] : block.values)
      types.push_back({value, shrink(value.getType(), axis)});
    for (auto [i, producer] : llvm::enumerate(block.producers)) {
      int64_t rows = producer.getOutFeatures(), cols = producer.getInFeatures();
      std::vector<int64_t> keep = keptFeatures(rows / groups);
      int64_t newRows = keep.size();
      auto weightType = cast<RankedTensorType>(producer.getWeight().getType());
      replaceConstant(producer.getWeightMutable(), weights[i],
                      RankedTensorType::get({newRows, cols}, weightType.getElementType()),
                      sliceMatrix(weights[i].values, rows, cols, keep, /*unitIsRow=*/true),
                      ".structured");
      if (producer.getBias()) {
        auto biasType = cast<RankedTensorType>(producer.getBias().getType());
        replaceConstant(producer.getBiasMutable()[0], biases[i],
                        RankedTensorType::get({newRows}, biasType.getElementType()),
                        sliceMatrix(biases[i].values, rows, 1, keep, /*unitIsRow=*/true),
                        ".bias.structured");
      }
    }
    for (auto [value, type] : types) {
      value.setType(type);
      if (auto expand = value.getDefiningOp<tensor::ExpandShapeOp>())
        expand.setStaticOutputShapeAttr(
            DenseI64ArrayAttr::get(expand.getContext(), type.getShape()));
      if (auto slice = value.getDefiningOp<tensor::ExtractSliceOp>())
        slice.setStaticSizesAttr(DenseI64ArrayAttr::get(slice.getContext(), type.getShape()));
    }
    for (auto [operand, axis] : block.rebuilt) {
      Value old = operand->get();
      OpBuilder builder(operand->getOwner());
      RankedTensorType type = shrink(old.getType(), axis);
      Value fresh;
      if (auto fill = old.getDefiningOp<linalg::FillOp>()) {
        Value empty = tensor::EmptyOp::create(builder, old.getLoc(), type.getShape(),
                                              type.getElementType());
        fresh = linalg::FillOp::create(builder, fill.getLoc(), fill.getInputs()[0], empty)
                    .getResult(0);
      } else if (old.getDefiningOp<tensor::EmptyOp>()) {
        fresh = tensor::EmptyOp::create(builder, old.getLoc(), type.getShape(),
                                        type.getElementType());
      } else {
        DenseElementsAttr attr;
        matchPattern(old, m_Constant(&attr));
        fresh = arith::ConstantOp::create(builder, old.getLoc(), attr.resizeSplat(type));
      }
      operand->set(fresh);
      Operation *def = old.getDefiningOp();
      if (def && def->use_empty()) {
        Value init = isa<linalg::FillOp>(def) ? def->getOperand(1) : Value();
        def->erase();
        if (init && init.use_empty())
          init.getDefiningOp()->erase();
      }
    }
    auto outType = cast<RankedTensorType>(consumer.getWeight().getType());
    replaceConstant(consumer.getWeightMutable(), out,
                    RankedTensorType::get({outFeatures, kept * consumerWidth},
                                          outType.getElementType()),
                    sliceMatrix(out.values, outFeatures, inFeatures, keptFeatures(consumerWidth),
                                /*unitIsRow=*/false),
                    ".structured");
    if (consumer.getSparsity())
      consumer.removeSparsityAttr();
    return success();
  }
};
} // namespace
