//===- LowerMoE.cpp - sqz.moe to linalg ------------------------------------===//
//
// `sqz-lower-moe`: the dense, exact lowering of a mixture-of-experts FFN (routing softmax,
// top-k mask, optional renormalization and capacity limit, batched expert FFNs, gated sum).
//
//===----------------------------------------------------------------------===//

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"
#include "sqz/Dialect/Sqz/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZLOWERMOE
#include "sqz/Dialect/Sqz/Transforms/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

namespace {

using utils::IteratorType;
constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;

/// Builds the linalg.generic ops of one MoE lowering.
class MoEBuilder {
public:
  MoEBuilder(OpBuilder &b, Location loc, Type elt) : b(b), loc(loc), elt(elt) {}

  Value cst(double v) {
    return arith::ConstantOp::create(b, loc, elt, b.getFloatAttr(elt, v));
  }
  Value filled(ArrayRef<int64_t> shape, double v) {
    Value e = tensor::EmptyOp::create(b, loc, shape, elt);
    return linalg::FillOp::create(b, loc, cst(v), e).getResult(0);
  }
  Value empty(ArrayRef<int64_t> shape) {
    return tensor::EmptyOp::create(b, loc, shape, elt);
  }
  /// maps: one per input, then the output's; `n` loops.
  Value generic(unsigned n, ArrayRef<Value> ins, Value init,
                ArrayRef<ArrayRef<AffineExpr>> exprs,
                ArrayRef<IteratorType> iters,
                function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    SmallVector<AffineMap> maps;
    for (ArrayRef<AffineExpr> e : exprs)
      maps.push_back(AffineMap::get(n, 0, e, b.getContext()));
    return linalg::GenericOp::create(
               b, loc, TypeRange{init.getType()}, ins, ValueRange{init}, maps,
               iters,
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 linalg::YieldOp::create(nb, l, body(nb, l, args));
               })
        .getResult(0);
  }

  OpBuilder &b;
  Location loc;
  Type elt;
};

/// The activation of an expert's first projection.
static Value activate(OpBuilder &b, Location l, MoEActivation act, Value x) {
  Type t = x.getType();
  auto c = [&](double v) {
    return arith::ConstantOp::create(b, l, t, b.getFloatAttr(t, v));
  };
  switch (act) {
  case MoEActivation::Identity:
    return x;
  case MoEActivation::Relu:
    return arith::MaximumFOp::create(b, l, x, c(0.0));
  case MoEActivation::Gelu: {
    Value erf = math::ErfOp::create(
        b, l, arith::MulFOp::create(b, l, x, c(M_SQRT1_2)));
    Value half = arith::MulFOp::create(b, l, x, c(0.5));
    return arith::MulFOp::create(b, l, half,
                                 arith::AddFOp::create(b, l, erf, c(1.0)));
  }
  case MoEActivation::GeluTanh: {
    Value x3 = arith::MulFOp::create(b, l, arith::MulFOp::create(b, l, x, x), x);
    Value inner = arith::AddFOp::create(
        b, l, x, arith::MulFOp::create(b, l, x3, c(0.044715)));
    Value th = math::TanhOp::create(
        b, l, arith::MulFOp::create(b, l, inner, c(0.7978845608028654)));
    Value half = arith::MulFOp::create(b, l, x, c(0.5));
    return arith::MulFOp::create(b, l, half,
                                 arith::AddFOp::create(b, l, th, c(1.0)));
  }
  case MoEActivation::Silu: {
    Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, x));
    return arith::DivFOp::create(b, l, x,
                                 arith::AddFOp::create(b, l, e, c(1.0)));
  }
  }
  llvm_unreachable("unknown activation");
}

struct LowerMoEPattern : public OpRewritePattern<MoEOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MoEOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType xTy = op.getInput().getType();
    auto logitsTy = op.getRouterLogits().getType();
    if (!xTy.hasStaticShape() || !logitsTy.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Type elt = xTy.getElementType();
    int64_t E = op.getNumExperts(), H = op.getHiddenSize(),
            I = op.getInterSize(), T = logitsTy.getDimSize(0);
    int64_t K = op.getTopK();
    MoEBuilder mb(rewriter, loc, elt);
    MLIRContext *ctx = rewriter.getContext();
    AffineExpr d0, d1, d2, d3;
    bindDims(ctx, d0, d1, d2, d3);

    // x as [T, H].
    Value x = op.getInput();
    auto x2Ty = RankedTensorType::get({T, H}, elt);
    if (xTy.getRank() == 1)
      x = tensor::ExpandShapeOp::create(
          rewriter, loc, x2Ty, x, SmallVector<ReassociationIndices>{{0, 1}});
    else if (xTy.getRank() > 2) {
      ReassociationIndices lead;
      for (int64_t d = 0; d + 1 < xTy.getRank(); ++d)
        lead.push_back(d);
      x = tensor::CollapseShapeOp::create(
          rewriter, loc, x, SmallVector<ReassociationIndices>{lead, {xTy.getRank() - 1}});
    }
    Value logits = op.getRouterLogits();

    // Routing probabilities: p = softmax(logits) over experts.
    Value maxv = mb.generic(
        2, {logits}, mb.filled({T}, -INFINITY), {{d0, d1}, {d0}}, {kPar, kRed},
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::MaximumFOp::create(b, l, a[0], a[1]);
        });
    Value ex = mb.generic(
        2, {logits, maxv}, mb.empty({T, E}), {{d0, d1}, {d0}, {d0, d1}},
        {kPar, kPar}, [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return math::ExpOp::create(b, l,
                                     arith::SubFOp::create(b, l, a[0], a[1]));
        });
    Value sum = mb.generic(
        2, {ex}, mb.filled({T}, 0.0), {{d0, d1}, {d0}}, {kPar, kRed},
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::AddFOp::create(b, l, a[0], a[1]);
        });
    Value p = mb.generic(
        2, {ex, sum}, mb.empty({T, E}), {{d0, d1}, {d0}, {d0, d1}},
        {kPar, kPar}, [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::DivFOp::create(b, l, a[0], a[1]);
        });

    // rank[t, e] = #experts e' ahead of e: p[e'] > p[e], or equal with e' > e.
    Value rank = mb.generic(
        3, {p, p}, mb.filled({T, E}, 0.0), {{d0, d2}, {d0, d1}, {d0, d1}},
        {kPar, kPar, kRed}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value e = linalg::IndexOp::create(b, l, 1);
          Value e2 = linalg::IndexOp::create(b, l, 2);
          Value gt = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT,
                                           a[0], a[1]);
          Value eq = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ,
                                           a[0], a[1]);
          Value later = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ugt,
                                              e2, e);
          Value ahead = arith::OrIOp::create(
              b, l, gt, arith::AndIOp::create(b, l, eq, later));
          Value one = arith::UIToFPOp::create(b, l, a[2].getType(), ahead);
          return arith::AddFOp::create(b, l, a[2], one);
        });
    double kk = static_cast<double>(K);
    Value gate = mb.generic(
        2, {p, rank}, mb.empty({T, E}), {{d0, d1}, {d0, d1}, {d0, d1}},
        {kPar, kPar}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value k = arith::ConstantOp::create(b, l, elt, b.getFloatAttr(elt, kk));
          Value sel = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT,
                                            a[1], k);
          Value zero = arith::ConstantOp::create(b, l, elt, b.getFloatAttr(elt, 0.0));
          return arith::SelectOp::create(b, l, sel, a[0], zero);
        });
    if (op.getNormalizeRouting()) {
      Value gsum = mb.generic(
          2, {gate}, mb.filled({T}, 0.0), {{d0, d1}, {d0}}, {kPar, kRed},
          [](OpBuilder &b, Location l, ValueRange a) -> Value {
            return arith::AddFOp::create(b, l, a[0], a[1]);
          });
      gate = mb.generic(
          2, {gate, gsum}, mb.empty({T, E}), {{d0, d1}, {d0}, {d0, d1}},
          {kPar, kPar}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
            Value zero = arith::ConstantOp::create(b, l, elt, b.getFloatAttr(elt, 0.0));
            Value pos = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT,
                                              a[1], zero);
            Value q = arith::DivFOp::create(b, l, a[0], a[1]);
            return arith::SelectOp::create(b, l, pos, q, zero);
          });
    }
    double cf = op.getCapacityFactor().convertToDouble();
    if (cf > 0.0) {
      double capacity = std::ceil(cf * static_cast<double>(T * K) /
                                  static_cast<double>(E));
      // earlier[t, e] = #tokens t' < t that selected e.
      Value earlier = mb.generic(
          3, {rank}, mb.filled({T, E}, 0.0), {{d2, d1}, {d0, d1}},
          {kPar, kPar, kRed}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
            Value t = linalg::IndexOp::create(b, l, 0);
            Value t2 = linalg::IndexOp::create(b, l, 2);
            Value before = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult,
                                                 t2, t);
            Value k = arith::ConstantOp::create(b, l, elt, b.getFloatAttr(elt, kk));
            Value sel = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT,
                                              a[0], k);
            Value both = arith::AndIOp::create(b, l, before, sel);
            return arith::AddFOp::create(
                b, l, a[1], arith::UIToFPOp::create(b, l, elt, both));
          });
      gate = mb.generic(
          2, {gate, earlier}, mb.empty({T, E}), {{d0, d1}, {d0, d1}, {d0, d1}},
          {kPar, kPar}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
            Value cap = arith::ConstantOp::create(b, l, elt,
                                                  b.getFloatAttr(elt, capacity));
            Value fits = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT,
                                               a[1], cap);
            Value zero = arith::ConstantOp::create(b, l, elt, b.getFloatAttr(elt, 0.0));
            return arith::SelectOp::create(b, l, fits, a[0], zero);
          });
    }

    // Expert projections over the stacked [E, out, in] weights: h[e, t, o].
    auto project = [&](Value w, Value bias, Value in, int64_t out,
                       int64_t inner, bool perExpertInput) -> Value {
      Value init;
      if (bias)
        init = mb.generic(3, {bias}, mb.empty({E, T, out}), {{d0, d2}, {d0, d1, d2}},
                          {kPar, kPar, kPar},
                          [](OpBuilder &, Location, ValueRange a) -> Value {
                            return a[0];
                          });
      else
        init = mb.filled({E, T, out}, 0.0);
      (void)inner;
      SmallVector<AffineExpr> inMap =
          perExpertInput ? SmallVector<AffineExpr>{d0, d1, d3}
                         : SmallVector<AffineExpr>{d1, d3};
      return mb.generic(
          4, {in, w}, init, {inMap, {d0, d2, d3}, {d0, d1, d2}},
          {kPar, kPar, kPar, kRed},
          [](OpBuilder &b, Location l, ValueRange a) -> Value {
            return arith::AddFOp::create(
                b, l, a[2], arith::MulFOp::create(b, l, a[0], a[1]));
          });
    };
    Value h1 = project(op.getFc1(), op.getFc1Bias(), x, I, H, false);
    MoEActivation act = op.getActivation();
    Value hidden;
    if (Value fc3 = op.getFc3()) {
      Value h3 = project(fc3, op.getFc3Bias(), x, I, H, false);
      hidden = mb.generic(
          3, {h1, h3}, mb.empty({E, T, I}), {{d0, d1, d2}, {d0, d1, d2}, {d0, d1, d2}},
          {kPar, kPar, kPar}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
            return arith::MulFOp::create(b, l, activate(b, l, act, a[0]), a[1]);
          });
    } else {
      hidden = mb.generic(
          3, {h1}, mb.empty({E, T, I}), {{d0, d1, d2}, {d0, d1, d2}},
          {kPar, kPar, kPar}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
            return activate(b, l, act, a[0]);
          });
    }
    Value y = project(op.getFc2(), op.getFc2Bias(), hidden, H, I, true);

    // out[t, o] = sum_e gate[t, e] * y[e, t, o]
    Value out = mb.generic(
        3, {gate, y}, mb.filled({T, H}, 0.0), {{d0, d2}, {d2, d0, d1}, {d0, d1}},
        {kPar, kPar, kRed}, [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::AddFOp::create(b, l, a[2],
                                       arith::MulFOp::create(b, l, a[0], a[1]));
        });

    if (xTy.getRank() == 1)
      out = tensor::CollapseShapeOp::create(
          rewriter, loc, xTy, out, SmallVector<ReassociationIndices>{{0, 1}});
    else if (xTy.getRank() > 2) {
      ReassociationIndices lead;
      for (int64_t d = 0; d + 1 < xTy.getRank(); ++d)
        lead.push_back(d);
      out = tensor::ExpandShapeOp::create(
          rewriter, loc, xTy, out,
          SmallVector<ReassociationIndices>{lead, {xTy.getRank() - 1}});
    }
    rewriter.replaceOp(op, out);
    return success();
  }
};

struct SqzLowerMoEPass
    : public mlir::sqz::impl::SqzLowerMoEBase<SqzLowerMoEPass> {
  void runOnOperation() override {
    // Each op is rewritten once; a walk keeps failures (dynamic shapes) visible.
    SmallVector<MoEOp> ops;
    getOperation()->walk([&](MoEOp op) { ops.push_back(op); });
    PatternRewriter rewriter(&getContext());
    for (MoEOp op : ops) {
      rewriter.setInsertionPoint(op);
      if (failed(LowerMoEPattern(&getContext()).matchAndRewrite(op, rewriter))) {
        op.emitError() << "sqz-lower-moe: only statically shaped sqz.moe can "
                          "be lowered";
        return signalPassFailure();
      }
    }
  }
};
} // namespace
