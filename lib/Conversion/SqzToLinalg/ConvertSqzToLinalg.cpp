//===- ConvertSqzToLinalg.cpp - Dense sqz ops to linalg -------------------===//
//
// `convert-sqz-to-linalg`: lowers a dense sqz.linear to a transposed-B linalg.matmul over the
// flattened leading dimensions, with the bias broadcast into the accumulator.
//
//===----------------------------------------------------------------------===//

#include "sqz/Conversion/Passes.h"
#include "sqz/Dialect/Sqz/IR/SqzDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_CONVERTSQZTOLINALG
#include "sqz/Conversion/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

namespace {

/// Reassociation that folds every dimension but the last into one.
static SmallVector<ReassociationIndices> flattenLeading(int64_t rank) {
  ReassociationIndices lead;
  for (int64_t d = 0; d + 1 < rank; ++d)
    lead.push_back(d);
  return {lead, {rank - 1}};
}

struct LinearToMatmul : public OpConversionPattern<LinearOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto xTy = cast<RankedTensorType>(x.getType());
    auto yTy = op.getResult().getType();
    Type elt = xTy.getElementType();
    int64_t rank = xTy.getRank();
    int64_t in = op.getInFeatures(), out = op.getOutFeatures();

    // Bring x to [M, in].
    Value x2 = x;
    OpFoldResult m;
    if (rank == 1) {
      x2 = tensor::ExpandShapeOp::create(
          rewriter, loc, RankedTensorType::get({1, in}, elt), x,
          SmallVector<ReassociationIndices>{{0, 1}});
      m = rewriter.getIndexAttr(1);
    } else if (rank > 2) {
      x2 = tensor::CollapseShapeOp::create(rewriter, loc, x,
                                           flattenLeading(rank));
    }
    if (rank >= 2) {
      int64_t mStatic = cast<RankedTensorType>(x2.getType()).getDimSize(0);
      m = ShapedType::isDynamic(mStatic)
              ? OpFoldResult(tensor::DimOp::create(rewriter, loc, x2, 0)
                                 .getResult())
              : OpFoldResult(rewriter.getIndexAttr(mStatic));
    }

    // Accumulator: broadcast bias, or zeros.
    Value empty = tensor::EmptyOp::create(
        rewriter, loc, SmallVector<OpFoldResult>{m, rewriter.getIndexAttr(out)},
        elt);
    Value init;
    if (Value bias = adaptor.getBias()) {
      init = linalg::BroadcastOp::create(rewriter, loc, bias, empty,
                                         ArrayRef<int64_t>{0})
                 .getResult()[0];
    } else {
      Value zero = arith::ConstantOp::create(rewriter, loc, elt,
                                             rewriter.getZeroAttr(elt));
      init = linalg::FillOp::create(rewriter, loc, zero, empty).getResult(0);
    }

    // y2[m, n] += x2[m, k] * w[n, k]
    MLIRContext *ctx = rewriter.getContext();
    AffineExpr dm, dn, dk;
    bindDims(ctx, dm, dn, dk);
    auto maps = rewriter.getAffineMapArrayAttr(
        {AffineMap::get(3, 0, {dm, dk}, ctx), AffineMap::get(3, 0, {dn, dk}, ctx),
         AffineMap::get(3, 0, {dm, dn}, ctx)});
    auto matmul = linalg::MatmulOp::create(
        rewriter, loc, TypeRange{init.getType()},
        ValueRange{x2, adaptor.getWeight()}, ValueRange{init},
        ArrayRef<NamedAttribute>{rewriter.getNamedAttr("indexing_maps", maps)});
    Value y2 = matmul.getResult(0);

    // Back to the input's leading shape.
    Value y = y2;
    if (rank == 1) {
      y = tensor::CollapseShapeOp::create(
          rewriter, loc, yTy, y2, SmallVector<ReassociationIndices>{{0, 1}});
    } else if (rank > 2) {
      SmallVector<OpFoldResult> outShape;
      for (int64_t d = 0; d + 1 < rank; ++d)
        outShape.push_back(
            xTy.isDynamicDim(d)
                ? OpFoldResult(
                      tensor::DimOp::create(rewriter, loc, x, d).getResult())
                : OpFoldResult(rewriter.getIndexAttr(xTy.getDimSize(d))));
      outShape.push_back(rewriter.getIndexAttr(out));
      y = tensor::ExpandShapeOp::create(rewriter, loc, yTy, y2,
                                        flattenLeading(rank), outShape);
    }
    rewriter.replaceOp(op, y);
    return success();
  }
};

struct ConvertSqzToLinalgPass
    : public mlir::sqz::impl::ConvertSqzToLinalgBase<ConvertSqzToLinalgPass> {
  void runOnOperation() override {
    ConversionTarget target(getContext());
    target.addIllegalDialect<SqzDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(&getContext());
    populateSqzToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::sqz::populateSqzToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<LinearToMatmul>(patterns.getContext());
}
