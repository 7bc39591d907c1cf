//===- ConvertSqzToLinalg.cpp - Dense sqz ops to linalg -------------------===//
//
// `convert-sqz-to-linalg`: lowers a dense sqz.linear to a transposed-B
// linalg.matmul over the flattened leading dimensions, with the bias broadcast
// into the accumulator; an sqz.sparse_linear first decompresses its n:m weight
// with a linalg.generic, then the same.
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
#include "sqz/Compression/Quantization.h"

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

/// y = x·Wᵀ + b over the flattened leading dimensions of x, shared by the dense
/// and the compressed linears. `weight` is W [out, in], or with
/// `weightIsTransposed` Wᵀ [in, out] (then the contraction is a linalg.generic
/// over (m, k, n), k a reduction).
static Value buildLinear(OpBuilder &rewriter, Location loc, Value x,
                         Value weight, bool weightIsTransposed, Value bias,
                         RankedTensorType yTy, int64_t in, int64_t out) {
  auto xTy = cast<RankedTensorType>(x.getType());
  Type elt = xTy.getElementType();
  int64_t rank = xTy.getRank();

  // Bring x to [M, in].
  Value x2 = x;
  OpFoldResult m;
  if (rank == 1) {
    x2 = tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get({1, in}, elt), x,
        SmallVector<ReassociationIndices>{{0, 1}});
    m = rewriter.getIndexAttr(1);
  } else if (rank > 2) {
    x2 =
        tensor::CollapseShapeOp::create(rewriter, loc, x, flattenLeading(rank));
  }
  if (rank >= 2) {
    int64_t mStatic = cast<RankedTensorType>(x2.getType()).getDimSize(0);
    m = ShapedType::isDynamic(mStatic)
            ? OpFoldResult(
                  tensor::DimOp::create(rewriter, loc, x2, 0).getResult())
            : OpFoldResult(rewriter.getIndexAttr(mStatic));
  }

  // Accumulator: broadcast bias, or zeros.
  Value empty = tensor::EmptyOp::create(
      rewriter, loc, SmallVector<OpFoldResult>{m, rewriter.getIndexAttr(out)},
      elt);
  Value init;
  if (bias) {
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
  if (weightIsTransposed) {
    // y2[m, n] += x2[m, k] * wt[k, n], loops (m, k, n).
    AffineExpr dm, dk, dn;
    bindDims(ctx, dm, dk, dn);
    SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {dm, dk}, ctx),
                                   AffineMap::get(3, 0, {dk, dn}, ctx),
                                   AffineMap::get(3, 0, {dm, dn}, ctx)};
    SmallVector<utils::IteratorType> iters = {utils::IteratorType::parallel,
                                              utils::IteratorType::reduction,
                                              utils::IteratorType::parallel};
    y2 = linalg::GenericOp::create(
             rewriter, loc, TypeRange{init.getType()}, ValueRange{x2, weight},
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
    auto maps =
        rewriter.getAffineMapArrayAttr({AffineMap::get(3, 0, {dm, dk}, ctx),
                                        AffineMap::get(3, 0, {dn, dk}, ctx),
                                        AffineMap::get(3, 0, {dm, dn}, ctx)});
    y2 =
        linalg::MatmulOp::create(rewriter, loc, TypeRange{init.getType()},
                                 ValueRange{x2, weight}, ValueRange{init},
                                 ArrayRef<NamedAttribute>{rewriter.getNamedAttr(
                                     "indexing_maps", maps)})
            .getResult(0);
  }

  // Back to the input's leading shape.
  if (rank == 1)
    return tensor::CollapseShapeOp::create(
        rewriter, loc, yTy, y2, SmallVector<ReassociationIndices>{{0, 1}});
  if (rank == 2)
    return y2;
  SmallVector<OpFoldResult> outShape;
  for (int64_t d = 0; d + 1 < rank; ++d)
    outShape.push_back(
        xTy.isDynamicDim(d)
            ? OpFoldResult(
                  tensor::DimOp::create(rewriter, loc, x, d).getResult())
            : OpFoldResult(rewriter.getIndexAttr(xTy.getDimSize(d))));
  outShape.push_back(rewriter.getIndexAttr(out));
  return tensor::ExpandShapeOp::create(rewriter, loc, yTy, y2,
                                       flattenLeading(rank), outShape);
}

struct LinearToMatmul : public OpConversionPattern<LinearOp> {
  LinearToMatmul(MLIRContext *ctx, bool transposeWeights)
      : OpConversionPattern(ctx), transposeWeights(transposeWeights) {}
  bool transposeWeights;

  LogicalResult
  matchAndRewrite(LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value weight = adaptor.getWeight();
    bool transposed = false;
    Attribute weightValue;
    if (transposeWeights && matchPattern(weight, m_Constant(&weightValue))) {
      FailureOr<Attribute> t =
          transposeConstant(weightValue, op.getWeight().getType());
      if (failed(t))
        return rewriter.notifyMatchFailure(op, "cannot transpose the weight");
      weight = arith::ConstantOp::create(rewriter, loc, cast<TypedAttr>(*t));
      transposed = true;
    }
    rewriter.replaceOp(
        op, buildLinear(rewriter, loc, adaptor.getInput(), weight, transposed,
                        adaptor.getBias(), op.getResult().getType(),
                        op.getInFeatures(), op.getOutFeatures()));
    return success();
  }
};

/// Decompresses an sqz.sparse_linear's weight at run time into the dense W
/// [out, in] (or, with `transposed`, Wᵀ [in, out]) with one linalg.generic over
/// the dense elements: element (o, j) of group g = j / m at position p = j mod
/// m reads the n indices of the group from the packed metadata and takes the
/// kept value whose index is p, else 0; tail columns (j >= G·m) read their
/// dense value.
static Value decompressNM(OpBuilder &builder, Location loc, SparseLinearOp op,
                          Value values, Value indices, bool transposed) {
  SparseLinearOp::Layout layout = op.getLayout();
  int64_t out = op.getOutFeatures(), in = layout.in, n = layout.n, m = layout.m;
  int64_t groups = layout.groups(), bits = layout.indexBits();
  int64_t rowBytes = layout.indexBytesPerRow();
  Type elt = op.getValues().getType().getElementType();
  SmallVector<int64_t> shape = transposed ? SmallVector<int64_t>{in, out}
                                          : SmallVector<int64_t>{out, in};
  Value empty = tensor::EmptyOp::create(builder, loc, shape, elt);
  MLIRContext *ctx = builder.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(2, ctx);
  SmallVector<utils::IteratorType> iters(2, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             builder, loc, TypeRange{empty.getType()}, ValueRange{},
             ValueRange{empty}, ArrayRef<AffineMap>{identity}, iters,
             [&](OpBuilder &b, Location l, ValueRange) {
               auto cIndex = [&](int64_t v) -> Value {
                 return arith::ConstantIndexOp::create(b, l, v);
               };
               auto cI32 = [&](int64_t v) -> Value {
                 return arith::ConstantIntOp::create(b, l, v, 32);
               };
               Value o = linalg::IndexOp::create(b, l, transposed ? 1 : 0);
               Value j = linalg::IndexOp::create(b, l, transposed ? 0 : 1);
               Value result =
                   arith::ConstantOp::create(b, l, elt, b.getZeroAttr(elt));
               Value isTail;
               Value jGroup =
                   j; // j, or 0 for tail columns (keeps the reads in bounds)
               if (layout.tail() > 0) {
                 isTail = arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge,
                                                j, cIndex(groups * m));
                 jGroup = arith::SelectOp::create(b, l, isTail, cIndex(0), j);
               }
               if (groups > 0) {
                 Value g = arith::DivUIOp::create(b, l, jGroup, cIndex(m));
                 Value p = arith::IndexCastOp::create(
                     b, l, b.getI32Type(),
                     arith::RemUIOp::create(b, l, jGroup, cIndex(m)));
                 Value gn = arith::MulIOp::create(b, l, g, cIndex(n));
                 for (int64_t r = 0; r < n; ++r) {
                   // Kept value k = g·n + r; its index sits at bits [k·b, k·b +
                   // b).
                   Value k = arith::AddIOp::create(b, l, gn, cIndex(r));
                   Value bit = arith::MulIOp::create(b, l, k, cIndex(bits));
                   Value byte = arith::DivUIOp::create(b, l, bit, cIndex(8));
                   Value shift = arith::IndexCastOp::create(
                       b, l, b.getI32Type(),
                       arith::RemUIOp::create(b, l, bit, cIndex(8)));
                   Value word = arith::ExtUIOp::create(
                       b, l, b.getI32Type(),
                       tensor::ExtractOp::create(b, l, indices,
                                                 ValueRange{o, byte}));
                   if (8 % bits != 0) {
                     // The index may straddle into the next byte (clamped to
                     // the row).
                     Value next = arith::MinUIOp::create(
                         b, l, arith::AddIOp::create(b, l, byte, cIndex(1)),
                         cIndex(rowBytes - 1));
                     Value hi = arith::ExtUIOp::create(
                         b, l, b.getI32Type(),
                         tensor::ExtractOp::create(b, l, indices,
                                                   ValueRange{o, next}));
                     word = arith::OrIOp::create(
                         b, l, word, arith::ShLIOp::create(b, l, hi, cI32(8)));
                   }
                   Value index = arith::AndIOp::create(
                       b, l, arith::ShRUIOp::create(b, l, word, shift),
                       cI32((1 << bits) - 1));
                   Value match = arith::CmpIOp::create(
                       b, l, arith::CmpIPredicate::eq, index, p);
                   Value kept = tensor::ExtractOp::create(b, l, values,
                                                          ValueRange{o, k});
                   result = arith::SelectOp::create(b, l, match, kept, result);
                 }
               }
               if (isTail) {
                 // values[o, G·n + (j - G·m)], read at 0 for non-tail columns.
                 Value t = arith::SubIOp::create(
                     b, l, j, cIndex(groups * m - groups * n));
                 t = arith::SelectOp::create(b, l, isTail, t, cIndex(0));
                 Value dense =
                     tensor::ExtractOp::create(b, l, values, ValueRange{o, t});
                 result = arith::SelectOp::create(b, l, isTail, dense, result);
               }
               linalg::YieldOp::create(b, l, result);
             })
      .getResult(0);
}

/// Dequantizes an sqz.quant_linear's weight at run time into Ŵᵀ [in, out] (or,
/// without `transposed`, Ŵ [out, in]) with one linalg.generic: element (o, i)
/// is scales[o, g]·(codes[o, i] − z) (z the group's zero point, 2^(bits−1) for
/// symmetric ints, 1 for ternary) or, for nf4, scales[o, g]·NF4[codes[o, i]],
/// g = i floordiv group (the op's semantics, SqzOps.td).
static Value dequantize(OpBuilder &builder, Location loc, QuantLinearOp op,
                        Value codes, Value scales, Value zeros, bool transposed,
                        Type elt) {
  MLIRContext *ctx = builder.getContext();
  int64_t out = op.getOutFeatures(), in = op.getInFeatures();
  int64_t groupSize = op.getGroupSize();
  QuantAttr quant = op.getQuant();
  AffineExpr o, i;
  if (transposed)
    bindDims(ctx, i, o);
  else
    bindDims(ctx, o, i);
  AffineExpr g = i.floorDiv(groupSize);
  SmallVector<AffineMap> maps = {AffineMap::get(2, 0, {o, i}, ctx),
                                 AffineMap::get(2, 0, {o, g}, ctx)};
  SmallVector<Value> inputs = {codes, scales};
  if (zeros) {
    inputs.push_back(zeros);
    maps.push_back(AffineMap::get(2, 0, {o, g}, ctx));
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
  SmallVector<int64_t> shape =
      transposed ? SmallVector<int64_t>{in, out} : SmallVector<int64_t>{out, in};
  Value init = tensor::EmptyOp::create(builder, loc, shape, elt);
  Value table;
  if (quant.getFormat() == QuantFormat::NF4) {
    const auto &nf4 = ::sqz::compression::nf4Table();
    table = arith::ConstantOp::create(
        builder, loc,
        DenseElementsAttr::get(RankedTensorType::get({16}, builder.getF32Type()),
                               ArrayRef<float>(nf4.data(), nf4.size())));
  }
  int64_t implicitZero = quant.getFormat() == QuantFormat::Ternary
                             ? 1
                             : int64_t(1) << (quant.getBits() - 1);
  SmallVector<utils::IteratorType> parallel(2, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             builder, loc, TypeRange{init.getType()}, inputs, ValueRange{init},
             maps, parallel,
             [&](OpBuilder &b, Location l, ValueRange args) {
               Type i32 = b.getI32Type(), f32 = b.getF32Type();
               Value code = arith::ExtUIOp::create(b, l, i32, args[0]);
               Value scale = args[1];
               Value w;
               if (table) {
                 Value index =
                     arith::IndexCastUIOp::create(b, l, b.getIndexType(), code);
                 w = tensor::ExtractOp::create(b, l, table, ValueRange{index});
               } else {
                 Value zero =
                     zeros ? arith::ExtUIOp::create(b, l, i32, args[2]).getResult()
                           : arith::ConstantOp::create(
                                 b, l, b.getI32IntegerAttr(implicitZero))
                                 .getResult();
                 w = arith::SIToFPOp::create(
                     b, l, f32, arith::SubIOp::create(b, l, code, zero));
               }
               w = arith::MulFOp::create(b, l, w, scale);
               if (elt != f32)
                 w = arith::TruncFOp::create(b, l, elt, w);
               linalg::YieldOp::create(b, l, w);
             })
      .getResult(0);
}

/// The compressed linears (sqz.sparse_linear, sqz.quant_linear): the weight is
/// expanded at run time into the dense W (or Wᵀ) by the op's own generic (the
/// constants stay compressed in the artifact), then contracted exactly as a
/// dense linear. Fused kernels replace this on targets that have them.
Value expandWeight(OpBuilder &b, Location loc, SparseLinearOp op,
                   SparseLinearOp::Adaptor adaptor, bool transposed) {
  return decompressNM(b, loc, op, adaptor.getValues(), adaptor.getIndices(),
                      transposed);
}
Value expandWeight(OpBuilder &b, Location loc, QuantLinearOp op,
                   QuantLinearOp::Adaptor adaptor, bool transposed) {
  return dequantize(b, loc, op, adaptor.getCodes(), adaptor.getScales(),
                    adaptor.getZeros(), transposed,
                    op.getResult().getType().getElementType());
}

template <typename OpTy>
struct CompressedLinearToMatmul : public OpConversionPattern<OpTy> {
  CompressedLinearToMatmul(MLIRContext *ctx, bool transposeWeights)
      : OpConversionPattern<OpTy>(ctx), transposeWeights(transposeWeights) {}
  bool transposeWeights;

  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value weight = expandWeight(rewriter, loc, op, adaptor, transposeWeights);
    rewriter.replaceOp(op,
                       buildLinear(rewriter, loc, adaptor.getInput(), weight,
                                   transposeWeights, adaptor.getBias(),
                                   op.getResult().getType(), op.getInFeatures(),
                                   op.getOutFeatures()));
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
  patterns.add<LinearToMatmul, CompressedLinearToMatmul<SparseLinearOp>,
               CompressedLinearToMatmul<QuantLinearOp>>(patterns.getContext(),
                                                        transposeWeights);
}
