//===- RecurrentOps.cpp - ONNX RNN, GRU and LSTM --------------------------===//
//
// The recurrent ops, with the time loop unrolled at import time (shapes are static, so the
// sequence length is known). Per direction:
//
//   XW = X[T·B, I] · Wᵀ           one matmul for all time steps (sqz.linear when W is constant)
//   for t (T-1 down to 0 for the reverse direction):
//     HR  = H · Rᵀ                 [B, G·H] (sqz.linear when R is constant)
//     one linalg.generic over [B, H] computes every gate of step t: it reads XW (viewed as
//     [T, B, G, H]) at (t, b, k, j), HR ([B, G, H]), the biases and peepholes straight from
//     B ([D, 2·G, H]) and P ([D, 3, H]) through maps with constant indices, applies clip and
//     the activations, and yields the new state(s) and the Y slice
//
// GRU with linear_before_reset = 0 needs (r ⊙ H)·Rₕᵀ, so its step is two generics around a
// second matmul. sequence_lens masks rows: where t >= seq_len[b] the state is kept and Y is 0,
// which for the reverse direction (processed from T-1 down) also gives onnxruntime's per-row
// reversal within the row's length. The state enters the next step through a linalg.copy, a
// barrier that keeps elementwise fusion from inlining the whole recurrence into every step.
// Y is assembled in the [T, D, B, H] layout from contiguous `tensor.insert_slice`s (then
// transposed for layout = 1), Y_h/Y_c by a select over the directions.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"
#include "ShapeUtils.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cstring>
#include <optional>

using namespace mlir;
using namespace mlir::sqz::import;

namespace {

enum class RecurrentKind { RNN, GRU, LSTM };

/// One activation function of the ONNX recurrent ops, with its alpha/beta.
struct Activation {
  enum Kind {
    Relu,
    Tanh,
    Sigmoid,
    Affine,
    LeakyRelu,
    ThresholdedRelu,
    ScaledTanh,
    HardSigmoid,
    Elu,
    Softsign,
    Softplus
  };
  Kind kind;
  double alpha = 0.0;
  double beta = 0.0;
};

/// The spelling of an activation, whether it takes alpha / beta, and their defaults (those of
/// the ONNX op of the same name; onnxruntime's for ScaledTanh and Affine).
struct ActivationInfo {
  StringLiteral name;
  Activation::Kind kind;
  bool hasAlpha;
  bool hasBeta;
  double alpha;
  double beta;
};

constexpr ActivationInfo kActivations[] = {
    {"Relu", Activation::Relu, false, false, 0.0, 0.0},
    {"Tanh", Activation::Tanh, false, false, 0.0, 0.0},
    {"Sigmoid", Activation::Sigmoid, false, false, 0.0, 0.0},
    {"Affine", Activation::Affine, true, true, 1.0, 0.0},
    {"LeakyRelu", Activation::LeakyRelu, true, false, 0.01, 0.0},
    {"ThresholdedRelu", Activation::ThresholdedRelu, true, false, 1.0, 0.0},
    {"ScaledTanh", Activation::ScaledTanh, true, true, 1.0, 1.0},
    {"HardSigmoid", Activation::HardSigmoid, true, true, 0.2, 0.5},
    {"Elu", Activation::Elu, true, false, 1.0, 0.0},
    {"Softsign", Activation::Softsign, false, false, 0.0, 0.0},
    {"Softplus", Activation::Softplus, false, false, 0.0, 0.0},
};

/// What one op kind looks like.
struct RecurrentSpec {
  RecurrentKind kind;
  /// Gates stacked in W/R (RNN 1, GRU 3 [z r h], LSTM 4 [i o f c]).
  int64_t numGates;
  /// Activations per direction and their defaults.
  SmallVector<StringLiteral, 3> defaultActivations;
};

/// Everything the step builders need, checked and normalized.
struct Recurrent {
  RecurrentSpec spec;
  int64_t seqLength = 0, batch = 0, inputSize = 0, hidden = 0, numDirections = 1;
  bool reverse = false;
  int64_t layout = 0;
  std::optional<double> clip;
  bool linearBeforeReset = false;
  bool inputForget = false;
  /// spec.defaultActivations.size() per direction, forward first.
  SmallVector<Activation> activations;
  Type elementType;
  /// Inputs as values (null when absent or not needed): B as [D, 2·G, H], sequence_lens [B]
  /// (null when it cannot mask anything), P as [D, 3, H].
  Value bias, seqLens, peepholes;
};

/// A projection `lhs · Wᵀ` onto rows [rowBegin, rowBegin + rows) of direction d of a weight
/// input [D, G·H, K]: `sqz.linear` with a host-sliced weight when the input is a constant,
/// else `linalg.matmul` with the slice transposed once.
struct Projection {
  Value weight;
  bool linear = false;
};

} // namespace

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

/// The scalar activation `act` of float `x`.
static Value buildActivation(OpBuilder &b, Location loc, const Activation &act, Value x) {
  Type type = x.getType();
  auto c = [&](double v) { return createScalar(b, loc, type, v); };
  auto isNegative = [&]() {
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, c(0.0)).getResult();
  };
  switch (act.kind) {
  case Activation::Relu:
    return arith::MaximumFOp::create(b, loc, x, c(0.0));
  case Activation::Tanh:
    return math::TanhOp::create(b, loc, x);
  case Activation::Sigmoid: {
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
    return arith::DivFOp::create(b, loc, c(1.0), arith::AddFOp::create(b, loc, c(1.0), e));
  }
  case Activation::Affine:
    return arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, c(act.alpha), x),
                                 c(act.beta));
  case Activation::LeakyRelu:
    return arith::SelectOp::create(b, loc, isNegative(),
                                   arith::MulFOp::create(b, loc, c(act.alpha), x), x);
  case Activation::ThresholdedRelu: {
    Value above = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, c(act.alpha));
    return arith::SelectOp::create(b, loc, above, x, c(0.0));
  }
  case Activation::ScaledTanh: {
    Value t = math::TanhOp::create(b, loc, arith::MulFOp::create(b, loc, c(act.beta), x));
    return arith::MulFOp::create(b, loc, c(act.alpha), t);
  }
  case Activation::HardSigmoid: {
    Value lin = arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, c(act.alpha), x),
                                      c(act.beta));
    return arith::MaximumFOp::create(b, loc, c(0.0),
                                     arith::MinimumFOp::create(b, loc, c(1.0), lin));
  }
  case Activation::Elu: {
    Value negative =
        arith::MulFOp::create(b, loc, c(act.alpha), math::ExpM1Op::create(b, loc, x));
    return arith::SelectOp::create(b, loc, isNegative(), negative, x);
  }
  case Activation::Softsign:
    return arith::DivFOp::create(
        b, loc, x, arith::AddFOp::create(b, loc, c(1.0), math::AbsFOp::create(b, loc, x)));
  case Activation::Softplus: {
    // log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), which does not overflow.
    Value negAbs = arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, x));
    Value tail = math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, negAbs));
    return arith::AddFOp::create(b, loc, arith::MaximumFOp::create(b, loc, x, c(0.0)), tail);
  }
  }
  llvm_unreachable("unknown activation");
}

/// Reads `activations`, `activation_alpha` and `activation_beta`. The alpha/beta lists are
/// consumed in order by the activations that take them (onnxruntime's reading); missing
/// values take the op's default. A list of one direction's activations is reused for both
/// directions of a bidirectional op.
static LogicalResult readActivations(NodeContext &node, Recurrent &r) {
  size_t perDirection = r.spec.defaultActivations.size();
  SmallVector<std::string> names;
  if (const onnx::AttributeProto *attr = node.getAttr("activations")) {
    if (attr->type() != onnx::AttributeProto::STRINGS)
      return node.emitError() << "attribute 'activations' must be a list of strings";
    names.assign(attr->strings().begin(), attr->strings().end());
    if (names.size() == perDirection && r.numDirections == 2)
      names.append(SmallVector<std::string>(names));
    if (names.size() != perDirection * r.numDirections)
      return node.emitError() << "expected " << perDirection * r.numDirections
                              << " activations, got " << attr->strings_size();
  } else {
    for (int64_t d = 0; d < r.numDirections; ++d)
      for (StringLiteral name : r.spec.defaultActivations)
        names.push_back(name.str());
  }
  SmallVector<float> alphas, betas;
  for (auto [attrName, list] : {std::make_pair("activation_alpha", &alphas),
                                std::make_pair("activation_beta", &betas)}) {
    const onnx::AttributeProto *attr = node.getAttr(attrName);
    if (!attr)
      continue;
    if (attr->type() != onnx::AttributeProto::FLOATS)
      return node.emitError() << "attribute '" << attrName << "' must be a list of floats";
    list->assign(attr->floats().begin(), attr->floats().end());
  }
  size_t nextAlpha = 0, nextBeta = 0;
  for (const std::string &name : names) {
    const ActivationInfo *info = llvm::find_if(
        kActivations, [&](const ActivationInfo &a) { return a.name.equals_insensitive(name); });
    if (info == std::end(kActivations))
      return node.emitError()
             << "unsupported activation '" << name
             << "' (supported: Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, "
                "ScaledTanh, HardSigmoid, Elu, Softsign, Softplus)";
    Activation act{info->kind, info->alpha, info->beta};
    if (info->hasAlpha && nextAlpha < alphas.size())
      act.alpha = alphas[nextAlpha++];
    if (info->hasBeta && nextBeta < betas.size())
      act.beta = betas[nextBeta++];
    r.activations.push_back(act);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Operands
//===----------------------------------------------------------------------===//

/// Rows [rowBegin, rowBegin + rows) of direction `d` of the constant [D, N, K] tensor.
static HostTensor sliceHostWeight(const HostTensor &tensor, int64_t d, int64_t rowBegin,
                                  int64_t rows) {
  int64_t cols = tensor.shape[2];
  int64_t elementSize = getDTypeSize(tensor.dtype);
  HostTensor slice = HostTensor::allocate(tensor.name, tensor.dtype, {rows, cols});
  int64_t offset = (d * tensor.shape[1] + rowBegin) * cols * elementSize;
  std::memcpy(slice.getMutableData().data(), tensor.data.data() + offset,
              rows * cols * elementSize);
  return slice;
}

/// `value[d]` of a [D, ...] tensor, as a tensor without the leading dim (a view).
static Value extractDirection(OpBuilder &b, Location loc, Value value, int64_t d) {
  auto type = cast<RankedTensorType>(value.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes, strides(rank,
                                                                            b.getIndexAttr(1));
  offsets[0] = b.getIndexAttr(d);
  sizes.push_back(b.getIndexAttr(1));
  for (int64_t size : type.getShape().drop_front())
    sizes.push_back(b.getIndexAttr(size));
  auto resultType = RankedTensorType::get(type.getShape().drop_front(), type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, resultType, value, offsets, sizes, strides);
}

static Projection makeProjection(NodeContext &node, unsigned index, int64_t d, int64_t rowBegin,
                                 int64_t rows) {
  Projection p;
  if (const HostTensor *tensor = node.getConstantInput(index)) {
    p.weight = node.createConstant(sliceHostWeight(*tensor, d, rowBegin, rows));
    p.linear = true;
    return p;
  }
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Value weight = extractDirection(b, loc, node.getInput(index), d);
  auto type = cast<RankedTensorType>(weight.getType());
  if (rows != type.getDimSize(0)) {
    int64_t cols = type.getDimSize(1);
    auto sliceType = RankedTensorType::get({rows, cols}, type.getElementType());
    weight = tensor::ExtractSliceOp::create(
        b, loc, sliceType, weight,
        ArrayRef<OpFoldResult>{b.getIndexAttr(rowBegin), b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(rows), b.getIndexAttr(cols)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  }
  p.weight = buildTranspose(b, loc, weight, {1, 0});
  return p;
}

/// `lhs [M, K] · weightᵀ` -> [M, rows].
static Value applyProjection(NodeContext &node, const Projection &p, Value lhs) {
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  if (!p.linear)
    return buildMatmul(b, loc, lhs, p.weight);
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  auto weightType = cast<RankedTensorType>(p.weight.getType());
  auto resultType = RankedTensorType::get({lhsType.getDimSize(0), weightType.getDimSize(0)},
                                          lhsType.getElementType());
  return sqz::LinearOp::create(b, loc, resultType, lhs, p.weight, Value(),
                               /*sparsity=*/sqz::SparsityAttr())
      .getResult();
}

//===----------------------------------------------------------------------===//
// Steps
//===----------------------------------------------------------------------===//

namespace {
/// Collects the operands and indexing maps of a step generic over [B, H] (d0 = batch row,
/// d1 = hidden unit).
class StepOperands {
public:
  StepOperands(MLIRContext *context) : context(context) {}

  /// Adds `value` read at (exprs...) and returns its block argument index.
  unsigned add(Value value, ArrayRef<AffineExpr> exprs) {
    values.push_back(value);
    maps.push_back(AffineMap::get(2, 0, exprs, context));
    return values.size() - 1;
  }
  AffineExpr row() const { return getAffineDimExpr(0, context); }
  AffineExpr unit() const { return getAffineDimExpr(1, context); }
  AffineExpr constant(int64_t v) const { return getAffineConstantExpr(v, context); }

  /// Builds the generic with `numResults` [B, H] results.
  SmallVector<Value> build(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elementType,
                           unsigned numResults,
                           function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>
                               body) {
    SmallVector<Value> inits;
    SmallVector<AffineMap> allMaps(maps);
    for (unsigned i = 0; i < numResults; ++i) {
      inits.push_back(createEmpty(b, loc, shape, elementType));
      allMaps.push_back(AffineMap::getMultiDimIdentityMap(2, context));
    }
    SmallVector<utils::IteratorType> parallel(2, utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        b, loc, ValueRange(inits).getTypes(), values, inits, allMaps, parallel,
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          linalg::YieldOp::create(nb, nl, body(nb, nl, args.take_front(values.size())));
        });
    return SmallVector<Value>(generic.getResults());
  }

private:
  MLIRContext *context;
  SmallVector<Value> values;
  SmallVector<AffineMap> maps;
};

/// The state of one direction between steps.
struct State {
  Value h;
  Value c;
  /// h is the zero initial state: the step skips H·Rᵀ.
  bool zero = false;
};
} // namespace

/// `value` [..., G·H] viewed as [..., G, H] (so that the step generics read gate k at the
/// constant index k: their maps keep pure dims only where the sizes are exactly [B, H]).
static Value splitGates(OpBuilder &b, Location loc, Value value, int64_t hidden) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape(type.getShape().drop_back());
  shape.push_back(type.getShape().back() / hidden);
  shape.push_back(hidden);
  return buildReshape(b, loc, value, shape);
}

/// Builds one time step `t` of direction `d`: the new state and the Y slice (null when not
/// needed).
static std::pair<State, Value> buildStep(NodeContext &node, const Recurrent &r, int64_t d,
                                         int64_t t, Value xw, ArrayRef<Projection> rec,
                                         const State &prev, bool needY) {
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  MLIRContext *context = b.getContext();
  Type type = r.elementType;
  int64_t hidden = r.hidden, numGates = r.spec.numGates;
  SmallVector<int64_t> stateShape = {r.batch, hidden};
  ArrayRef<Activation> acts =
      ArrayRef<Activation>(r.activations)
          .slice(d * r.spec.defaultActivations.size(), r.spec.defaultActivations.size());
  bool gruTwoPass = r.spec.kind == RecurrentKind::GRU && !r.linearBeforeReset;

  // Registers the pre-activation terms of gate k; returns a function summing them.
  struct GateArgs {
    int xw = -1, hr = -1, wb = -1, rb = -1;
  };
  auto addGate = [&](StepOperands &ops, int64_t k, Value hr, int64_t hrGate) {
    GateArgs g;
    AffineExpr unit = ops.unit();
    g.xw = ops.add(xw, {ops.constant(t), ops.row(), ops.constant(k), unit});
    if (hr)
      g.hr = ops.add(hr, {ops.row(), ops.constant(hrGate), unit});
    if (r.bias) {
      g.wb = ops.add(r.bias, {ops.constant(d), ops.constant(k), unit});
      g.rb = ops.add(r.bias, {ops.constant(d), ops.constant(numGates + k), unit});
    }
    return g;
  };
  auto sum = [&](OpBuilder &nb, Location nl, ValueRange args, std::initializer_list<int> idx) {
    Value acc;
    for (int i : idx) {
      if (i < 0)
        continue;
      acc = acc ? arith::AddFOp::create(nb, nl, acc, args[i]).getResult() : args[i];
    }
    return acc;
  };
  auto clip = [&](OpBuilder &nb, Location nl, Value x) -> Value {
    if (!r.clip)
      return x;
    Value lo = createScalar(nb, nl, type, -*r.clip), hi = createScalar(nb, nl, type, *r.clip);
    return arith::MinimumFOp::create(nb, nl, arith::MaximumFOp::create(nb, nl, x, lo), hi);
  };
  auto activate = [&](OpBuilder &nb, Location nl, unsigned which, Value x) {
    return buildActivation(nb, nl, acts[which], clip(nb, nl, x));
  };

  // GRU with linear_before_reset = 0: rH = r ⊙ H first, then HRₕ = rH · Rₕᵀ.
  Value hrh;
  Value hr;
  if (!prev.zero)
    hr = splitGates(b, loc, applyProjection(node, rec[0], prev.h), hidden);
  if (gruTwoPass && !prev.zero) {
    StepOperands ops(context);
    GateArgs rg = addGate(ops, 1, hr, 1);
    unsigned hArg = ops.add(prev.h, {ops.row(), ops.unit()});
    Value rh = ops.build(b, loc, stateShape, type, 1,
                         [&](OpBuilder &nb, Location nl, ValueRange args) {
                           Value rGate =
                               activate(nb, nl, 0, sum(nb, nl, args, {rg.xw, rg.hr, rg.wb, rg.rb}));
                           return SmallVector<Value>{
                               arith::MulFOp::create(nb, nl, rGate, args[hArg])};
                         })[0];
    hrh = splitGates(b, loc, applyProjection(node, rec[1], rh), hidden);
  }

  StepOperands ops(context);
  SmallVector<GateArgs> gates;
  for (int64_t k = 0; k < numGates; ++k) {
    if (gruTwoPass && k == 1)
      gates.push_back(GateArgs()); // r was consumed by the first pass
    else if (gruTwoPass && k == 2)
      gates.push_back(addGate(ops, k, hrh, 0));
    else
      gates.push_back(addGate(ops, k, hr, k));
  }
  unsigned hArg = ops.add(prev.h, {ops.row(), ops.unit()});
  int cArg = -1, seqArg = -1;
  SmallVector<int> peep;
  if (r.spec.kind == RecurrentKind::LSTM) {
    cArg = ops.add(prev.c, {ops.row(), ops.unit()});
    if (r.peepholes)
      for (int64_t k = 0; k < 3; ++k)
        peep.push_back(ops.add(r.peepholes, {ops.constant(d), ops.constant(k), ops.unit()}));
  }
  if (r.seqLens)
    seqArg = ops.add(r.seqLens, {ops.row()});
  bool lstm = r.spec.kind == RecurrentKind::LSTM;
  bool masked = seqArg >= 0;
  unsigned numResults = 1 + (lstm ? 1 : 0) + (needY && masked ? 1 : 0);

  SmallVector<Value> results = ops.build(
      b, loc, stateShape, type, numResults,
      [&](OpBuilder &nb, Location nl, ValueRange args) -> SmallVector<Value> {
        Value hPrev = args[hArg];
        auto one = [&]() { return createScalar(nb, nl, type, 1.0); };
        auto gate = [&](int64_t k) {
          const GateArgs &g = gates[k];
          return sum(nb, nl, args, {g.xw, g.hr, g.wb, g.rb});
        };
        Value h, c;
        switch (r.spec.kind) {
        case RecurrentKind::RNN:
          h = activate(nb, nl, 0, gate(0));
          break;
        case RecurrentKind::GRU: {
          Value z = activate(nb, nl, 0, gate(0));
          Value pre;
          if (gruTwoPass) {
            pre = gate(2);
          } else {
            // h = g(Xₜ·Wₕᵀ + Wbₕ + r ⊙ (H·Rₕᵀ + Rbₕ)).
            Value rGate = activate(nb, nl, 0, gate(1));
            const GateArgs &g = gates[2];
            pre = sum(nb, nl, args, {g.xw, g.wb});
            if (Value rec = sum(nb, nl, args, {g.hr, g.rb}))
              pre = arith::AddFOp::create(nb, nl, pre, arith::MulFOp::create(nb, nl, rGate, rec));
          }
          Value candidate = activate(nb, nl, 1, pre);
          // H = (1 - z) ⊙ h + z ⊙ Hₜ₋₁.
          h = arith::AddFOp::create(
              nb, nl,
              arith::MulFOp::create(nb, nl, arith::SubFOp::create(nb, nl, one(), z), candidate),
              arith::MulFOp::create(nb, nl, z, hPrev));
          break;
        }
        case RecurrentKind::LSTM: {
          Value cPrev = args[cArg];
          auto withPeephole = [&](Value pre, int64_t k, Value cell) -> Value {
            if (peep.empty())
              return pre;
            return arith::AddFOp::create(nb, nl, pre,
                                         arith::MulFOp::create(nb, nl, args[peep[k]], cell));
          };
          // Gates i o f c; P is [Pi Po Pf].
          Value i = activate(nb, nl, 0, withPeephole(gate(0), 0, cPrev));
          Value f = r.inputForget ? arith::SubFOp::create(nb, nl, one(), i).getResult()
                                  : activate(nb, nl, 0, withPeephole(gate(2), 2, cPrev));
          Value candidate = activate(nb, nl, 1, gate(3));
          c = arith::AddFOp::create(nb, nl, arith::MulFOp::create(nb, nl, f, cPrev),
                                    arith::MulFOp::create(nb, nl, i, candidate));
          Value o = activate(nb, nl, 0, withPeephole(gate(1), 1, c));
          h = arith::MulFOp::create(nb, nl, o, buildActivation(nb, nl, acts[2], c));
          break;
        }
        }
        SmallVector<Value> out;
        if (!masked) {
          out.push_back(h);
          if (lstm)
            out.push_back(c);
          return out;
        }
        // Rows whose sequence ended keep their state and produce 0.
        Value seq = args[seqArg];
        Value step = arith::ConstantOp::create(nb, nl, nb.getIntegerAttr(seq.getType(), t));
        Value valid = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sgt, seq, step);
        out.push_back(arith::SelectOp::create(nb, nl, valid, h, hPrev));
        if (lstm)
          out.push_back(arith::SelectOp::create(nb, nl, valid, c, args[cArg]));
        if (needY)
          out.push_back(
              arith::SelectOp::create(nb, nl, valid, h, createScalar(nb, nl, type, 0.0)));
        return out;
      });
  State next;
  next.h = results[0];
  if (lstm)
    next.c = results[1];
  Value y = needY ? (masked ? results.back() : next.h) : Value();
  return {next, y};
}

/// A `linalg.copy` of `value` (a fusion barrier between steps).
static Value copyState(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  Value init = createEmpty(b, loc, type.getShape(), type.getElementType());
  return linalg::CopyOp::create(b, loc, value, init).getResult(0);
}

/// Stacks the per-direction [B, H] tensors into [D, B, H] (one select over the directions).
static Value stackDirections(OpBuilder &b, Location loc, ArrayRef<Value> parts) {
  auto type = cast<RankedTensorType>(parts[0].getType());
  SmallVector<int64_t> shape = {static_cast<int64_t>(parts.size())};
  llvm::append_range(shape, type.getShape());
  if (parts.size() == 1)
    return buildReshape(b, loc, parts[0], shape);
  MLIRContext *context = b.getContext();
  AffineMap map = AffineMap::get(3, 0, {getAffineDimExpr(1, context), getAffineDimExpr(2, context)},
                                 context);
  return buildIndexedGeneric(
      b, loc, parts, {map, map}, shape, type.getElementType(),
      [](OpBuilder &nb, Location nl, ValueRange indices, ValueRange args) -> Value {
        Value first = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, indices[0],
                                            arith::ConstantIndexOp::create(nb, nl, 0));
        return arith::SelectOp::create(nb, nl, first, args[0], args[1]);
      });
}

//===----------------------------------------------------------------------===//
// The import
//===----------------------------------------------------------------------===//

static bool hasOutput(NodeContext &node, int index) {
  return node.getNode().output_size() > index && !node.getNode().output(index).empty();
}

/// Checks that optional input `index` has x's dtype and `shape`.
static LogicalResult checkOperand(NodeContext &node, unsigned index, StringRef what,
                                  ArrayRef<int64_t> shape) {
  RankedTensorType type = node.getInputType(index);
  if (node.getInputDType(index) != node.getInputDType(0) || type.getShape() != shape)
    return node.emitError() << "expected " << what << " of type "
                            << RankedTensorType::get(shape, node.getInputType(0).getElementType())
                            << ", got " << type;
  return success();
}

/// Reads and checks the attributes and operands of `node`.
static FailureOr<Recurrent> readRecurrent(NodeContext &node, RecurrentSpec spec) {
  bool lstm = spec.kind == RecurrentKind::LSTM;
  if (failed(node.checkNumInputs(3, lstm ? 8 : 6)))
    return failure();
  if (node.getNode().output_size() > (lstm ? 3 : 2))
    return node.emitError() << "expected at most " << (lstm ? 3 : 2) << " outputs, got "
                            << node.getNode().output_size();
  Recurrent r;
  r.spec = spec;
  int32_t dtype = node.getInputDType(0);
  if (dtype != onnx::TensorProto::FLOAT && dtype != onnx::TensorProto::DOUBLE)
    return node.emitError() << "expected a float or double tensor, got '" << getDTypeName(dtype)
                            << "'";
  r.elementType = node.getInputType(0).getElementType();

  FailureOr<std::string> direction = node.getStringAttr("direction", "forward");
  FailureOr<int64_t> layout = node.getIntAttr("layout", 0);
  FailureOr<int64_t> hiddenAttr = node.getIntAttr("hidden_size", 0);
  FailureOr<int64_t> lbr = node.getIntAttr("linear_before_reset", 0);
  FailureOr<int64_t> inputForget = node.getIntAttr("input_forget", 0);
  FailureOr<float> clip = node.getFloatAttr("clip", 0.0f);
  if (failed(direction) || failed(layout) || failed(hiddenAttr) || failed(lbr) ||
      failed(inputForget) || failed(clip))
    return failure();
  if (*direction == "forward" || *direction == "reverse") {
    r.reverse = *direction == "reverse";
  } else if (*direction == "bidirectional") {
    r.numDirections = 2;
  } else {
    return node.emitError() << "unsupported direction '" << *direction
                            << "' (expected forward, reverse or bidirectional)";
  }
  if (*layout != 0 && *layout != 1)
    return node.emitError() << "layout must be 0 or 1, got " << *layout;
  r.layout = *layout;
  r.linearBeforeReset = *lbr != 0;
  r.inputForget = *inputForget != 0;
  if (node.getAttr("clip")) {
    if (*clip < 0)
      return node.emitError() << "clip must be non-negative, got " << *clip;
    r.clip = *clip;
  }

  RankedTensorType xType = node.getInputType(0);
  RankedTensorType wType = node.getInputType(1);
  RankedTensorType rType = node.getInputType(2);
  if (xType.getRank() != 3 || wType.getRank() != 3 || rType.getRank() != 3)
    return node.emitError() << "expected X, W and R of rank 3, got " << xType << ", " << wType
                            << " and " << rType;
  r.seqLength = xType.getDimSize(r.layout == 0 ? 0 : 1);
  r.batch = xType.getDimSize(r.layout == 0 ? 1 : 0);
  r.inputSize = xType.getDimSize(2);
  r.hidden = rType.getDimSize(2);
  if (node.getAttr("hidden_size") && *hiddenAttr != r.hidden)
    return node.emitError() << "hidden_size " << *hiddenAttr << " does not match R " << rType;
  int64_t gh = spec.numGates * r.hidden, d = r.numDirections;
  if (failed(checkOperand(node, 1, "W", {d, gh, r.inputSize})) ||
      failed(checkOperand(node, 2, "R", {d, gh, r.hidden})))
    return failure();
  if (r.seqLength == 0 || r.batch == 0 || r.hidden == 0)
    return node.emitError() << "empty sequences, batches or hidden states are not supported";
  if (node.hasInput(3)) {
    if (failed(checkOperand(node, 3, "B", {d, 2 * gh})))
      return failure();
    r.bias = splitGates(node.getBuilder(), node.getLoc(), node.getInput(3), r.hidden);
  }
  if (node.hasInput(4)) {
    int32_t seqType = node.getInputDType(4);
    if ((seqType != onnx::TensorProto::INT32 && seqType != onnx::TensorProto::INT64) ||
        node.getInputType(4).getShape() != ArrayRef<int64_t>{r.batch})
      return node.emitError() << "expected sequence_lens of type tensor<" << r.batch
                              << "xi32>, got " << node.getInputType(4);
    // A constant that covers every row masks nothing.
    bool full = false;
    if (const HostTensor *lens = node.getConstantInput(4)) {
      full = true;
      for (int64_t i = 0; i < r.batch; ++i) {
        int64_t len = lens->getInt(i);
        if (len < 0 || len > r.seqLength)
          return node.emitError() << "sequence_lens[" << i << "] = " << len
                                  << " is outside [0, " << r.seqLength << "]";
        full &= len == r.seqLength;
      }
    }
    if (!full)
      r.seqLens = node.getInput(4);
  }
  SmallVector<int64_t> stateShape = r.layout == 0 ? SmallVector<int64_t>{d, r.batch, r.hidden}
                                                  : SmallVector<int64_t>{r.batch, d, r.hidden};
  if (node.hasInput(5) && failed(checkOperand(node, 5, "initial_h", stateShape)))
    return failure();
  if (lstm && node.hasInput(6) && failed(checkOperand(node, 6, "initial_c", stateShape)))
    return failure();
  if (lstm && node.hasInput(7)) {
    if (failed(checkOperand(node, 7, "P", {d, 3 * r.hidden})))
      return failure();
    r.peepholes = splitGates(node.getBuilder(), node.getLoc(), node.getInput(7), r.hidden);
  }
  if (failed(readActivations(node, r)))
    return failure();
  return r;
}

/// The initial state input `index` ([D, B, H] or, layout 1, [B, D, H]) for direction d, or
/// zeros when absent.
static Value getInitialState(NodeContext &node, const Recurrent &r, unsigned index, int64_t d) {
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  if (!node.hasInput(index))
    return createFilled(b, loc, {r.batch, r.hidden}, r.elementType,
                        b.getZeroAttr(r.elementType));
  Value state = node.getInput(index);
  if (r.layout == 1)
    state = buildTranspose(b, loc, state, {1, 0, 2});
  return extractDirection(b, loc, state, d);
}

static LogicalResult importRecurrent(NodeContext &node, RecurrentSpec spec) {
  FailureOr<Recurrent> parsed = readRecurrent(node, std::move(spec));
  if (failed(parsed))
    return failure();
  const Recurrent &r = *parsed;
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  bool lstm = r.spec.kind == RecurrentKind::LSTM;
  bool needY = hasOutput(node, 0);
  int64_t hidden = r.hidden, gh = r.spec.numGates * hidden;

  // X as [T·B, I], time-major.
  Value x = node.getInput(0);
  if (r.layout == 1)
    x = buildTranspose(b, loc, x, {1, 0, 2});
  x = buildReshape(b, loc, x, {r.seqLength * r.batch, r.inputSize});

  SmallVector<int64_t> yShape = {r.seqLength, r.numDirections, r.batch, hidden};
  Value y = needY ? createEmpty(b, loc, yShape, r.elementType) : Value();
  SmallVector<Value> finalH, finalC;
  for (int64_t d = 0; d < r.numDirections; ++d) {
    bool reverse = r.reverse || d == 1;
    // XW viewed as [T, B, G, H].
    Value xw = applyProjection(node, makeProjection(node, 1, d, 0, gh), x);
    xw = buildReshape(b, loc, xw, {r.seqLength, r.batch, r.spec.numGates, hidden});
    SmallVector<Projection> rec;
    if (r.spec.kind == RecurrentKind::GRU && !r.linearBeforeReset) {
      rec.push_back(makeProjection(node, 2, d, 0, 2 * hidden));
      rec.push_back(makeProjection(node, 2, d, 2 * hidden, hidden));
    } else {
      rec.push_back(makeProjection(node, 2, d, 0, gh));
    }
    State state;
    state.h = getInitialState(node, r, 5, d);
    state.zero = !node.hasInput(5);
    if (lstm)
      state.c = getInitialState(node, r, 6, d);
    for (int64_t s = 0; s < r.seqLength; ++s) {
      int64_t t = reverse ? r.seqLength - 1 - s : s;
      auto [next, yt] = buildStep(node, r, d, t, xw, rec, state, needY);
      state = next;
      // The state enters the next step through a linalg.copy: elementwise fusion fuses a
      // generic producer into its generic consumers even when it has other uses, which would
      // inline the whole recurrence into every step (compile time exploding with T).
      if (s + 1 < r.seqLength) {
        state.h = copyState(b, loc, state.h);
        if (lstm)
          state.c = copyState(b, loc, state.c);
      }
      if (!needY)
        continue;
      // Y[t, d] is a contiguous [B, H] block of the [T, D, B, H] result.
      SmallVector<OpFoldResult> offsets = {b.getIndexAttr(t), b.getIndexAttr(d),
                                           b.getIndexAttr(0), b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(1),
                                         b.getIndexAttr(r.batch), b.getIndexAttr(hidden)};
      SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
      y = tensor::InsertSliceOp::create(b, loc, yt, y, offsets, sizes, strides);
    }
    finalH.push_back(state.h);
    if (lstm)
      finalC.push_back(state.c);
  }

  int32_t dtype = node.getInputDType(0);
  if (needY) {
    if (r.layout == 1)
      y = buildTranspose(b, loc, y, {2, 0, 1, 3});
    node.setResult(0, y, dtype);
  }
  auto setState = [&](unsigned index, ArrayRef<Value> parts) {
    Value stacked = stackDirections(b, loc, parts);
    if (r.layout == 1)
      stacked = buildTranspose(b, loc, stacked, {1, 0, 2});
    node.setResult(index, stacked, dtype);
  };
  if (hasOutput(node, 1))
    setState(1, finalH);
  if (lstm && hasOutput(node, 2))
    setState(2, finalC);
  return success();
}

LogicalResult mlir::sqz::import::importRNN(NodeContext &node) {
  return importRecurrent(node, {RecurrentKind::RNN, 1, {"Tanh"}});
}

LogicalResult mlir::sqz::import::importGRU(NodeContext &node) {
  return importRecurrent(node, {RecurrentKind::GRU, 3, {"Sigmoid", "Tanh"}});
}

LogicalResult mlir::sqz::import::importLSTM(NodeContext &node) {
  return importRecurrent(node, {RecurrentKind::LSTM, 4, {"Sigmoid", "Tanh", "Tanh"}});
}
