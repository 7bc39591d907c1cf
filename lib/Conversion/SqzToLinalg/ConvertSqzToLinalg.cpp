//===- ConvertSqzToLinalg.cpp - Dense sqz ops to linalg -------------------===//
//
// `convert-sqz-to-linalg`: lowers a dense sqz.linear to a transposed-B
// linalg.matmul over the flattened leading dimensions, with the bias broadcast
// into the accumulator; an sqz.sparse_linear first decompresses its n:m weight
// (dequantizing its kept codes when quantized), an sqz.quant_linear dequantizes
// its codes and an sqz.outlier_linear its int8 part with its float columns in
// place, each with one linalg.generic, then the same.
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

/// The NF4 table as a constant, for the formats that need it (else null).
static Value buildCodeTable(OpBuilder &builder, Location loc, QuantAttr quant) {
  if (quant.getFormat() != QuantFormat::NF4)
    return {};
  const auto &nf4 = ::sqz::compression::nf4Table();
  return arith::ConstantOp::create(
      builder, loc,
      DenseElementsAttr::get(RankedTensorType::get({16}, builder.getF32Type()),
                             ArrayRef<float>(nf4.data(), nf4.size())));
}

/// The f32 weight of one stored i8 `code` (the sqz.quant_linear semantics):
/// scale·(code − z), z the i8 `zero` when given, else 2^(bits−1) (ternary: 1);
/// or, for nf4, scale·table[code].
static Value dequantizeCode(OpBuilder &b, Location l, QuantAttr quant,
                            Value code, Value scale, Value zero, Value table) {
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  Value c = arith::ExtUIOp::create(b, l, i32, code);
  Value w;
  if (table) {
    Value index = arith::IndexCastUIOp::create(b, l, b.getIndexType(), c);
    w = tensor::ExtractOp::create(b, l, table, ValueRange{index});
  } else {
    int64_t implicitZero = quant.getFormat() == QuantFormat::Ternary
                               ? 1
                               : int64_t(1) << (quant.getBits() - 1);
    Value z = zero ? arith::ExtUIOp::create(b, l, i32, zero).getResult()
                   : arith::ConstantOp::create(
                         b, l, b.getI32IntegerAttr(implicitZero))
                         .getResult();
    w = arith::SIToFPOp::create(b, l, f32, arith::SubIOp::create(b, l, c, z));
  }
  return arith::MulFOp::create(b, l, w, scale);
}

/// Decompresses an sqz.sparse_linear's weight at run time into the dense W
/// [out, in] (or, with `transposed`, Wᵀ [in, out]) with one linalg.generic over
/// the dense elements: element (o, j) of group g = j / m at position p = j mod
/// m reads the n indices of the group from the packed metadata and takes the
/// kept value whose index is p, else 0; tail columns (j >= G·m) read their
/// dense value. With quantized values (`quant`), the selected i8 code is
/// dequantized with the scale (and zero point) of dense column j's group, and
/// positions that hold no kept value are 0.
static Value decompressNM(OpBuilder &builder, Location loc, SparseLinearOp op,
                          Value values, Value indices, Value scales,
                          Value zeros, bool transposed) {
  SparseLinearOp::Layout layout = op.getLayout();
  int64_t out = op.getOutFeatures(), in = layout.in, n = layout.n, m = layout.m;
  int64_t groups = layout.groups(), bits = layout.indexBits();
  int64_t rowBytes = layout.indexBytesPerRow();
  std::optional<QuantAttr> quant = op.getQuant();
  Type elt = op.getResult().getType().getElementType();
  // The selected value: a float (elt), or an i8 code when quantized.
  Type valueElt = op.getValues().getType().getElementType();
  Value table = quant ? buildCodeTable(builder, loc, *quant) : Value();
  int64_t groupSize = op.getGroupSize();
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
               Value result = arith::ConstantOp::create(
                   b, l, valueElt, b.getZeroAttr(valueElt));
               // Quantized: whether position j holds a kept (or tail) value.
               Value found =
                   quant ? arith::ConstantIntOp::create(b, l, 0, 1).getResult()
                         : Value();
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
                   if (found)
                     found = arith::OrIOp::create(b, l, found, match);
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
                 if (found)
                   found = arith::OrIOp::create(b, l, found, isTail);
               }
               if (quant) {
                 Value g = arith::DivUIOp::create(b, l, j, cIndex(groupSize));
                 Value scale =
                     tensor::ExtractOp::create(b, l, scales, ValueRange{o, g});
                 Value zero =
                     zeros ? tensor::ExtractOp::create(b, l, zeros,
                                                       ValueRange{o, g})
                                 .getResult()
                           : Value();
                 Value w =
                     dequantizeCode(b, l, *quant, result, scale, zero, table);
                 if (w.getType() != elt)
                   w = arith::TruncFOp::create(b, l, elt, w);
                 result = arith::SelectOp::create(
                     b, l, found, w,
                     arith::ConstantOp::create(b, l, elt, b.getZeroAttr(elt)));
               }
               linalg::YieldOp::create(b, l, result);
             })
      .getResult(0);
}

/// The float columns of an sqz.outlier_linear, for the dequantizing generic:
/// `positions` [in] i32 (k for outlier column cols[k], −1 elsewhere) and the
/// weights [out, n].
struct OutlierColumns {
  Value positions, weights;
};

/// Dequantizes a quantized weight (codes [out, in], `quant`, groups of
/// `groupSize` input columns) at run time into Ŵᵀ [in, out] (or, without
/// `transposed`, Ŵ [out, in]) with one linalg.generic: element (o, i) is
/// scales[o, g]·(codes[o, i] − z) (z the group's zero point, 2^(bits−1) for
/// symmetric ints, 1 for ternary) or, for nf4, scales[o, g]·NF4[codes[o, i]],
/// g = i floordiv group (the op's semantics, SqzOps.td). With `outliers`, the
/// outlier columns take their float weights instead (their codes dequantize to
/// 0, so this equals adding the float part).
static Value dequantize(OpBuilder &builder, Location loc, QuantAttr quant,
                        int64_t out, int64_t in, int64_t groupSize, Value codes,
                        Value scales, Value zeros, bool transposed, Type elt,
                        OutlierColumns outliers = {}) {
  MLIRContext *ctx = builder.getContext();
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
  if (outliers.positions) {
    inputs.push_back(outliers.positions);
    maps.push_back(AffineMap::get(2, 0, {i}, ctx));
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
  SmallVector<int64_t> shape =
      transposed ? SmallVector<int64_t>{in, out} : SmallVector<int64_t>{out, in};
  Value init = tensor::EmptyOp::create(builder, loc, shape, elt);
  Value table = buildCodeTable(builder, loc, quant);
  SmallVector<utils::IteratorType> parallel(2, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             builder, loc, TypeRange{init.getType()}, inputs, ValueRange{init},
             maps, parallel,
             [&](OpBuilder &b, Location l, ValueRange args) {
               Value w = dequantizeCode(b, l, quant, args[0], args[1],
                                        zeros ? args[2] : Value(), table);
               if (w.getType() != elt)
                 w = arith::TruncFOp::create(b, l, elt, w);
               if (outliers.positions) {
                 // position k >= 0: the float weight F[o, k].
                 Value k = args[zeros ? 3 : 2];
                 Value zeroI32 = arith::ConstantIntOp::create(b, l, 0, 32);
                 Value isOutlier = arith::CmpIOp::create(
                     b, l, arith::CmpIPredicate::sge, k, zeroI32);
                 Value safe = arith::IndexCastOp::create(
                     b, l, b.getIndexType(),
                     arith::SelectOp::create(b, l, isOutlier, k, zeroI32));
                 Value row = linalg::IndexOp::create(b, l, transposed ? 1 : 0);
                 Value fp = tensor::ExtractOp::create(b, l, outliers.weights,
                                                      ValueRange{row, safe});
                 w = arith::SelectOp::create(b, l, isOutlier, fp, w);
               }
               linalg::YieldOp::create(b, l, w);
             })
      .getResult(0);
}

/// The compressed linears (sqz.sparse_linear, sqz.quant_linear): the weight is
/// expanded at run time into the dense W (or Wᵀ) by the op's own generic (the
/// constants stay compressed in the artifact), then contracted exactly as a
/// dense linear. Fused kernels replace this on targets that have them.
FailureOr<Value> expandWeight(OpBuilder &b, Location loc, SparseLinearOp op,
                              SparseLinearOp::Adaptor adaptor,
                              bool transposed) {
  return decompressNM(b, loc, op, adaptor.getValues(), adaptor.getIndices(),
                      adaptor.getScales(), adaptor.getZeros(), transposed);
}
FailureOr<Value> expandWeight(OpBuilder &b, Location loc, QuantLinearOp op,
                              QuantLinearOp::Adaptor adaptor,
                              bool transposed) {
  return dequantize(b, loc, op.getQuant(), op.getOutFeatures(),
                    op.getInFeatures(), op.getGroupSize(), adaptor.getCodes(),
                    adaptor.getScales(), adaptor.getZeros(), transposed,
                    op.getResult().getType().getElementType());
}
FailureOr<Value> expandWeight(OpBuilder &b, Location loc, OutlierLinearOp op,
                              OutlierLinearOp::Adaptor adaptor,
                              bool transposed) {
  // The column -> outlier position map, built from the constant indices.
  Attribute value;
  if (!matchPattern(op.getOutlierColumns(), m_Constant(&value)))
    return failure();
  SmallVector<int64_t> columns;
  if (auto dense = dyn_cast<DenseIntElementsAttr>(value)) {
    for (const APInt &v : dense.getValues<APInt>())
      columns.push_back(v.getSExtValue());
  } else if (auto blob = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *data = blob.getRawHandle().getBlob();
    if (!data)
      return failure();
    columns.resize(data->getData().size() / sizeof(int64_t));
    std::memcpy(columns.data(), data->getData().data(),
                columns.size() * sizeof(int64_t));
  } else {
    return failure();
  }
  int64_t in = op.getInFeatures();
  std::vector<int32_t> positions(in, -1);
  for (size_t k = 0; k < columns.size(); ++k) {
    if (columns[k] < 0 || columns[k] >= in)
      return failure();
    positions[columns[k]] = static_cast<int32_t>(k);
  }
  Value map = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(RankedTensorType::get({in}, b.getI32Type()),
                             ArrayRef<int32_t>(positions)));
  return dequantize(b, loc, op.getQuant(), op.getOutFeatures(), in,
                    op.getGroupSize(), adaptor.getCodes(), adaptor.getScales(),
                    Value(), transposed,
                    op.getResult().getType().getElementType(),
                    OutlierColumns{map, adaptor.getOutlierWeights()});
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
    FailureOr<Value> weight =
        expandWeight(rewriter, loc, op, adaptor, transposeWeights);
    if (failed(weight))
      return rewriter.notifyMatchFailure(op, "unreadable constant");
    rewriter.replaceOp(op,
                       buildLinear(rewriter, loc, adaptor.getInput(), *weight,
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
               CompressedLinearToMatmul<QuantLinearOp>,
               CompressedLinearToMatmul<OutlierLinearOp>>(
      patterns.getContext(), transposeWeights);
}
