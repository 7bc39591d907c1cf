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
#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"

#include <cstring>
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

/// The constant `weight` [out, in] transposed to [in, out] at compile time.
/// Large values stay in (new) dense_resource blobs; splats stay splats.
static FailureOr<Attribute> transposeConstant(Attribute value,
                                              RankedTensorType type) {
  int64_t out = type.getDimSize(0), in = type.getDimSize(1);
  auto tType = RankedTensorType::get({in, out}, type.getElementType());
  unsigned bits = type.getElementTypeBitWidth();
  if (bits % 8 != 0)
    return failure();
  size_t eltBytes = bits / 8;
  ArrayRef<char> raw;
  std::string blobName = "sqz_weight_t";
  if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    if (dense.isSplat())
      return Attribute(
          DenseElementsAttr::get(tType, dense.getSplatValue<Attribute>()));
    raw = dense.getRawData();
  } else if (auto blob = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *data = blob.getRawHandle().getBlob();
    if (!data)
      return failure(); // Elided blob: nothing to transpose.
    raw = data->getData();
    blobName = (blob.getRawHandle().getKey() + ".t").str();
  } else {
    return failure();
  }
  if (raw.size() != static_cast<size_t>(out * in) * eltBytes)
    return failure();
  std::vector<char> t(raw.size());
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i)
      std::memcpy(&t[(i * out + o) * eltBytes], &raw[(o * in + i) * eltBytes],
                  eltBytes);
  return Attribute(DenseResourceElementsAttr::get(
      tType, blobName,
      HeapAsmResourceBlob::allocateAndCopyWithAlign(t, alignof(double))));
}

struct LinearToMatmul : public OpConversionPattern<LinearOp> {
  LinearToMatmul(MLIRContext *ctx, bool transposeWeights)
      : OpConversionPattern(ctx), transposeWeights(transposeWeights) {}
  bool transposeWeights;

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

    MLIRContext *ctx = rewriter.getContext();
    Value y2;
    Attribute weightValue;
    if (transposeWeights &&
        matchPattern(adaptor.getWeight(), m_Constant(&weightValue))) {
      FailureOr<Attribute> t =
          transposeConstant(weightValue, op.getWeight().getType());
      if (failed(t))
        return rewriter.notifyMatchFailure(op, "cannot transpose the weight");
      Value wt = arith::ConstantOp::create(rewriter, loc, cast<TypedAttr>(*t));
      // y2[m, n] += x2[m, k] * wt[k, n], loops (m, k, n).
      AffineExpr dm, dk, dn;
      bindDims(ctx, dm, dk, dn);
      SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {dm, dk}, ctx),
                                     AffineMap::get(3, 0, {dk, dn}, ctx),
                                     AffineMap::get(3, 0, {dm, dn}, ctx)};
      SmallVector<utils::IteratorType> iters = {
          utils::IteratorType::parallel, utils::IteratorType::reduction,
          utils::IteratorType::parallel};
      y2 = linalg::GenericOp::create(
               rewriter, loc, TypeRange{init.getType()}, ValueRange{x2, wt},
               ValueRange{init}, maps, iters,
               [](OpBuilder &b, Location l, ValueRange args) {
                 Value p = arith::MulFOp::create(b, l, args[0], args[1]);
                 Value s = arith::AddFOp::create(b, l, args[2], p);
                 linalg::YieldOp::create(b, l, s);
               })
               .getResult(0);
    } else {
      // y2[m, n] += x2[m, k] * w[n, k]
      AffineExpr dm, dn, dk;
      bindDims(ctx, dm, dn, dk);
      auto maps = rewriter.getAffineMapArrayAttr(
          {AffineMap::get(3, 0, {dm, dk}, ctx),
           AffineMap::get(3, 0, {dn, dk}, ctx),
           AffineMap::get(3, 0, {dm, dn}, ctx)});
      y2 = linalg::MatmulOp::create(
               rewriter, loc, TypeRange{init.getType()},
               ValueRange{x2, adaptor.getWeight()}, ValueRange{init},
               ArrayRef<NamedAttribute>{
                   rewriter.getNamedAttr("indexing_maps", maps)})
               .getResult(0);
    }

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
  using Base::Base;
  void runOnOperation() override {
    ConversionTarget target(getContext());
    target.addIllegalDialect<SqzDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(&getContext());
    populateSqzToLinalgPatterns(patterns, transposeWeights);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::sqz::populateSqzToLinalgPatterns(RewritePatternSet &patterns,
                                            bool transposeWeights) {
  patterns.add<LinearToMatmul>(patterns.getContext(), transposeWeights);
}
