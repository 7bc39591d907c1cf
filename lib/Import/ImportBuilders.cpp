//===- ImportBuilders.cpp - IR building blocks of the ONNX importer -------===//
//
// See ImportBuilders.h.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::sqz::import;

std::optional<SmallVector<int64_t>>
mlir::sqz::import::broadcastShapes(ArrayRef<ArrayRef<int64_t>> shapes) {
  size_t rank = 0;
  for (ArrayRef<int64_t> shape : shapes)
    rank = std::max(rank, shape.size());
  SmallVector<int64_t> result(rank, 1);
  for (ArrayRef<int64_t> shape : shapes) {
    size_t offset = rank - shape.size();
    for (auto [i, dim] : llvm::enumerate(shape)) {
      int64_t &out = result[offset + i];
      if (dim == out || dim == 1)
        continue;
      if (out == 1 || (ShapedType::isDynamic(out) && !ShapedType::isDynamic(dim))) {
        out = dim; // a static size wins over a dynamic dim (which must equal it)
        continue;
      }
      if (ShapedType::isDynamic(dim))
        continue; // dynamic dims never broadcast: it equals `out`
      return std::nullopt;
    }
  }
  return result;
}

SmallVector<OpFoldResult> mlir::sqz::import::getMixedSizes(OpBuilder &b, Location loc,
                                                           Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    if (type.isDynamicDim(d))
      sizes.push_back(tensor::DimOp::create(b, loc, tensor, d).getResult());
    else
      sizes.push_back(b.getIndexAttr(type.getDimSize(d)));
  }
  return sizes;
}

std::optional<int64_t> mlir::sqz::import::getConstantSize(OpFoldResult size) {
  if (auto attr = dyn_cast<Attribute>(size))
    return cast<IntegerAttr>(attr).getInt();
  return std::nullopt;
}

Value mlir::sqz::import::getIndexValue(OpBuilder &b, Location loc, OpFoldResult size) {
  if (std::optional<int64_t> c = getConstantSize(size))
    return arith::ConstantIndexOp::create(b, loc, *c);
  return cast<Value>(size);
}

SmallVector<int64_t> mlir::sqz::import::getStaticSizes(ArrayRef<OpFoldResult> sizes) {
  SmallVector<int64_t> shape;
  for (OpFoldResult size : sizes)
    shape.push_back(getConstantSize(size).value_or(ShapedType::kDynamic));
  return shape;
}

SmallVector<OpFoldResult> mlir::sqz::import::getLoopSizes(OpBuilder &b, Location loc,
                                                          ArrayRef<int64_t> shape,
                                                          ValueRange inputs,
                                                          ArrayRef<AffineMap> maps) {
  SmallVector<OpFoldResult> sizes;
  for (auto [d, dim] : llvm::enumerate(shape)) {
    if (!ShapedType::isDynamic(dim)) {
      sizes.push_back(b.getIndexAttr(dim));
      continue;
    }
    Value size;
    for (auto [input, map] : llvm::zip(inputs, maps)) {
      auto type = cast<RankedTensorType>(input.getType());
      for (auto [p, expr] : llvm::enumerate(map.getResults())) {
        auto dimExpr = dyn_cast<AffineDimExpr>(expr);
        if (dimExpr && dimExpr.getPosition() == d && type.isDynamicDim(p)) {
          size = tensor::DimOp::create(b, loc, input, p);
          break;
        }
      }
      if (size)
        break;
    }
    if (!size)
      llvm::report_fatal_error("sqz importer: no operand gives the size of a dynamic loop dim");
    sizes.push_back(size);
  }
  return sizes;
}

OpFoldResult mlir::sqz::import::buildIndexOp(OpBuilder &b, Location loc, StringRef op,
                                         OpFoldResult lhs, OpFoldResult rhs) {
  auto constant = [&](int64_t v) -> OpFoldResult { return b.getIndexAttr(v); };
  std::optional<int64_t> l = getConstantSize(lhs), r = getConstantSize(rhs);
  if (l && r) {
    if (op == "Add")
      return constant(*l + *r);
    if (op == "Sub")
      return constant(*l - *r);
    if (op == "Mul")
      return constant(*l * *r);
    if (op == "Div")
      return constant(*r == 0 ? 0 : *l / *r);
    if (op == "Mod")
      return constant(*r == 0 ? 0 : ((*l % *r) + *r) % *r);
    if (op == "Min")
      return constant(std::min(*l, *r));
    return constant(std::max(*l, *r));
  }
  // x*1, x+0, x-0, x/1 stay x.
  if (r && ((*r == 0 && (op == "Add" || op == "Sub")) ||
            (*r == 1 && (op == "Mul" || op == "Div"))))
    return lhs;
  if (l && ((*l == 0 && op == "Add") || (*l == 1 && op == "Mul")))
    return rhs;
  Value x = getIndexValue(b, loc, lhs), y = getIndexValue(b, loc, rhs);
  if (op == "Add")
    return arith::AddIOp::create(b, loc, x, y).getResult();
  if (op == "Sub")
    return arith::SubIOp::create(b, loc, x, y).getResult();
  if (op == "Mul")
    return arith::MulIOp::create(b, loc, x, y).getResult();
  if (op == "Div")
    return arith::DivSIOp::create(b, loc, x, y).getResult();
  if (op == "Mod") // the divisor's sign, as the constant case: ((x rem y) + y) rem y
    return arith::RemSIOp::create(
               b, loc,
               arith::AddIOp::create(b, loc, arith::RemSIOp::create(b, loc, x, y), y), y)
        .getResult();
  if (op == "Min")
    return arith::MinSIOp::create(b, loc, x, y).getResult();
  return arith::MaxSIOp::create(b, loc, x, y).getResult();
}

Value mlir::sqz::import::createEmpty(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                                     Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

Value mlir::sqz::import::createEmpty(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                                     Type elementType, ValueRange sizeSources) {
  if (!ShapedType::isDynamicShape(shape))
    return tensor::EmptyOp::create(b, loc, shape, elementType);
  SmallVector<AffineMap> maps;
  for (Value source : sizeSources)
    maps.push_back(getBroadcastMap(b.getContext(),
                                   cast<RankedTensorType>(source.getType()).getShape(), shape));
  return createEmpty(b, loc, getLoopSizes(b, loc, shape, sizeSources, maps), elementType);
}

Value mlir::sqz::import::createScalar(OpBuilder &b, Location loc, Type elementType, double value) {
  TypedAttr attr;
  if (auto floatType = dyn_cast<FloatType>(elementType))
    attr = b.getFloatAttr(floatType, value);
  else
    attr = b.getIntegerAttr(elementType, static_cast<int64_t>(value));
  return arith::ConstantOp::create(b, loc, attr);
}

Value mlir::sqz::import::createFilled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                                      Type elementType, TypedAttr value) {
  Value empty = createEmpty(b, loc, sizes, elementType);
  Value scalar = arith::ConstantOp::create(b, loc, value);
  return linalg::FillOp::create(b, loc, ValueRange{scalar}, ValueRange{empty}).getResult(0);
}

Value mlir::sqz::import::createFilled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                                      Type elementType, TypedAttr value, ValueRange sizeSources) {
  Value empty = createEmpty(b, loc, shape, elementType, sizeSources);
  Value scalar = arith::ConstantOp::create(b, loc, value);
  return linalg::FillOp::create(b, loc, ValueRange{scalar}, ValueRange{empty}).getResult(0);
}

Value mlir::sqz::import::buildElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                                          ArrayRef<int64_t> resultShape, Type resultElementType,
                                          ElementwiseBodyFn body,
                                          ArrayRef<OpFoldResult> resultSizes) {
  MLIRContext *context = b.getContext();
  int64_t rank = resultShape.size();
  SmallVector<AffineMap> maps;
  for (Value input : inputs) {
    ArrayRef<int64_t> shape = cast<RankedTensorType>(input.getType()).getShape();
    int64_t offset = rank - static_cast<int64_t>(shape.size());
    SmallVector<AffineExpr> exprs;
    for (auto [i, dim] : llvm::enumerate(shape)) {
      int64_t resultDim = offset + static_cast<int64_t>(i);
      if (dim == 1 && resultShape[resultDim] != 1)
        exprs.push_back(getAffineConstantExpr(0, context));
      else
        exprs.push_back(getAffineDimExpr(resultDim, context));
    }
    maps.push_back(AffineMap::get(rank, 0, exprs, context));
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, context));
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  Value init = createEmpty(
      b, loc,
      !resultSizes.empty()
          ? SmallVector<OpFoldResult>(resultSizes)
          : getLoopSizes(b, loc, resultShape, inputs, ArrayRef(maps).drop_back()),
      resultElementType);
  auto resultType = RankedTensorType::get(resultShape, resultElementType);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{resultType}, inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        Value result = body(nested, nestedLoc, args.drop_back());
        linalg::YieldOp::create(nested, nestedLoc, result);
      });
  return generic.getResult(0);
}

Value mlir::sqz::import::buildReduce(
    OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> dims, TypedAttr init,
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  auto inputType = cast<RankedTensorType>(input.getType());
  SmallVector<OpFoldResult> keptSizes;
  for (auto [i, size] : llvm::enumerate(getMixedSizes(b, loc, input)))
    if (!llvm::is_contained(dims, static_cast<int64_t>(i)))
      keptSizes.push_back(size);
  Value filled = createFilled(b, loc, keptSizes, inputType.getElementType(), init);
  auto reduce =
      linalg::ReduceOp::create(b, loc, ValueRange{input}, ValueRange{filled}, dims,
                               [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
                                 Value result = combine(nested, nestedLoc, args[0], args[1]);
                                 linalg::YieldOp::create(nested, nestedLoc, result);
                               });
  return reduce.getResult(0);
}

AffineMap mlir::sqz::import::getKeptDimsMap(MLIRContext *context, int64_t rank,
                                            ArrayRef<int64_t> reducedDims) {
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < rank; ++i)
    if (!llvm::is_contained(reducedDims, i))
      exprs.push_back(getAffineDimExpr(i, context));
  return AffineMap::get(rank, 0, exprs, context);
}

AffineMap mlir::sqz::import::getBroadcastMap(MLIRContext *context, ArrayRef<int64_t> operandShape,
                                            ArrayRef<int64_t> resultShape) {
  int64_t rank = resultShape.size();
  int64_t offset = rank - static_cast<int64_t>(operandShape.size());
  SmallVector<AffineExpr> exprs;
  for (auto [i, dim] : llvm::enumerate(operandShape)) {
    int64_t d = offset + static_cast<int64_t>(i);
    exprs.push_back(dim == 1 && resultShape[d] != 1 ? getAffineConstantExpr(0, context)
                                                    : getAffineDimExpr(d, context));
  }
  return AffineMap::get(rank, 0, exprs, context);
}

Value mlir::sqz::import::buildReductionGeneric(
    OpBuilder &b, Location loc, ValueRange inputs, ArrayRef<AffineMap> inputMaps,
    ArrayRef<int64_t> shape, ArrayRef<int64_t> dims, TypedAttr init,
    function_ref<Value(OpBuilder &, Location, ValueRange, Value)> combine) {
  MLIRContext *context = b.getContext();
  int64_t rank = shape.size();
  SmallVector<OpFoldResult> loopSizes = getLoopSizes(b, loc, shape, inputs, inputMaps);
  SmallVector<OpFoldResult> keptSizes;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t d = 0; d < rank; ++d) {
    bool reduced = llvm::is_contained(dims, d);
    iterators.push_back(reduced ? utils::IteratorType::reduction : utils::IteratorType::parallel);
    if (!reduced)
      keptSizes.push_back(loopSizes[d]);
  }
  Value filled = createFilled(b, loc, keptSizes, init.getType(), init);
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(getKeptDimsMap(context, rank, dims));
  return linalg::GenericOp::create(
             b, loc, TypeRange{filled.getType()}, inputs, ValueRange{filled}, maps, iterators,
             [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
               linalg::YieldOp::create(nested, nestedLoc,
                                       combine(nested, nestedLoc, args.drop_back(), args.back()));
             })
      .getResult(0);
}

Value mlir::sqz::import::buildTranspose(OpBuilder &b, Location loc, Value input,
                                        ArrayRef<int64_t> perm) {
  bool identity = true;
  for (auto [i, p] : llvm::enumerate(perm))
    identity &= p == static_cast<int64_t>(i);
  if (identity)
    return input;
  auto inputType = cast<RankedTensorType>(input.getType());
  SmallVector<OpFoldResult> inputSizes = getMixedSizes(b, loc, input), sizes;
  for (int64_t p : perm)
    sizes.push_back(inputSizes[p]);
  Value init = createEmpty(b, loc, sizes, inputType.getElementType());
  return linalg::TransposeOp::create(b, loc, input, init, b.getDenseI64ArrayAttr(perm))
      .getResult()[0];
}

/// Reshape through `tensor.reshape` with a shape operand: any element-count-preserving reshape
/// of dynamic shapes (`sizes` gives the result dims).
static Value buildShapeOperandReshape(OpBuilder &b, Location loc, Value input,
                                      ArrayRef<OpFoldResult> sizes) {
  auto inputType = cast<RankedTensorType>(input.getType());
  SmallVector<Value> dims;
  for (OpFoldResult size : sizes)
    dims.push_back(arith::IndexCastOp::create(b, loc, b.getI64Type(), getIndexValue(b, loc, size)));
  Value shape = tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({static_cast<int64_t>(sizes.size())}, b.getI64Type()), dims);
  auto resultType = RankedTensorType::get(getStaticSizes(sizes), inputType.getElementType());
  return tensor::ReshapeOp::create(b, loc, resultType, input, shape);
}

Value mlir::sqz::import::buildReshape(OpBuilder &b, Location loc, Value input,
                                      ArrayRef<int64_t> shape, ArrayRef<OpFoldResult> sizes) {
  auto inputType = cast<RankedTensorType>(input.getType());
  if (inputType.getShape() == shape && !ShapedType::isDynamicShape(shape))
    return input;
  auto resultType = RankedTensorType::get(shape, inputType.getElementType());
  int64_t inputRank = inputType.getRank();
  int64_t resultRank = resultType.getRank();
  bool dynamic = !inputType.hasStaticShape() || !resultType.hasStaticShape();
  SmallVector<OpFoldResult> inferredSizes;
  if (dynamic && sizes.empty()) {
    // Reshapes that only add or drop unit dims (keepdims, (un)squeeze): the other dims keep
    // their sizes, in order.
    SmallVector<OpFoldResult> inputSizes = getMixedSizes(b, loc, input);
    SmallVector<OpFoldResult> kept;
    SmallVector<int64_t> keptShape;
    for (auto [d, dim] : llvm::enumerate(inputType.getShape()))
      if (dim != 1) {
        kept.push_back(inputSizes[d]);
        keptShape.push_back(dim);
      }
    SmallVector<int64_t> resultKept;
    for (int64_t dim : shape)
      if (dim != 1)
        resultKept.push_back(dim);
    if (resultKept == keptShape) {
      size_t next = 0;
      for (int64_t dim : shape)
        inferredSizes.push_back(dim == 1 ? OpFoldResult(b.getIndexAttr(1)) : kept[next++]);
      sizes = inferredSizes;
      // The same shape with the dynamic dims taken in order: the input itself.
      if (inputType.getShape() == shape)
        return input;
    }
  }
  if (dynamic && !sizes.empty() && inputRank == resultRank) {
    // Sizes that are the input's own dims (constants or tensor.dim of it): no reshape.
    bool same = true;
    for (int64_t d = 0; same && d < inputRank; ++d) {
      std::optional<int64_t> c = getConstantSize(sizes[d]);
      if (c) {
        same = !inputType.isDynamicDim(d) && inputType.getDimSize(d) == *c;
        continue;
      }
      auto dim = cast<Value>(sizes[d]).getDefiningOp<tensor::DimOp>();
      std::optional<int64_t> index = dim ? dim.getConstantIndex() : std::nullopt;
      same = dim && dim.getSource() == input && index && *index == d;
    }
    if (same)
      return input;
  }
  if (dynamic) {
    // Regroupings whose groups hold at most one dynamic dim keep expand/collapse (fusable);
    // anything else goes through tensor.reshape with the sizes.
    if (inputRank > resultRank && resultRank > 0) {
      if (auto reassociation = getReassociationIndicesForReshape(inputType, resultType))
        return tensor::CollapseShapeOp::create(b, loc, resultType, input, *reassociation);
    } else if (inputRank < resultRank && inputRank > 0) {
      if (auto reassociation = getReassociationIndicesForReshape(inputType, resultType)) {
        bool inferable = true;
        for (const ReassociationIndices &group : *reassociation)
          inferable &= llvm::count_if(group, [&](int64_t d) {
                         return resultType.isDynamicDim(d);
                       }) <= 1;
        if (inferable)
          return tensor::ExpandShapeOp::create(b, loc, resultType, input, *reassociation);
        if (!sizes.empty())
          return tensor::ExpandShapeOp::create(b, loc, resultType, input, *reassociation, sizes);
      }
    }
    if (sizes.empty() && resultType.hasStaticShape()) {
      SmallVector<OpFoldResult> staticSizes;
      for (int64_t d : shape)
        staticSizes.push_back(b.getIndexAttr(d));
      return buildShapeOperandReshape(b, loc, input, staticSizes);
    }
    if (sizes.empty())
      llvm::report_fatal_error("sqz importer: a dynamic reshape needs its result sizes");
    return buildShapeOperandReshape(b, loc, input, sizes);
  }
  if (inputRank > 0 && resultRank > 0) {
    if (inputRank > resultRank) {
      if (auto reassociation = getReassociationIndicesForReshape(inputType, resultType))
        return tensor::CollapseShapeOp::create(b, loc, resultType, input, *reassociation);
    } else if (inputRank < resultRank) {
      if (auto reassociation = getReassociationIndicesForReshape(inputType, resultType))
        return tensor::ExpandShapeOp::create(b, loc, resultType, input, *reassociation);
    }
    // Not a regrouping: go through 1-D.
    int64_t numElements = inputType.getNumElements();
    auto flatType = RankedTensorType::get({numElements}, inputType.getElementType());
    Value flat = input;
    if (inputRank != 1) {
      ReassociationIndices all(llvm::seq<int64_t>(0, inputRank).begin(),
                               llvm::seq<int64_t>(0, inputRank).end());
      flat = tensor::CollapseShapeOp::create(b, loc, flatType, input,
                                             ArrayRef<ReassociationIndices>{all});
    }
    if (resultRank == 1)
      return flat;
    ReassociationIndices all(llvm::seq<int64_t>(0, resultRank).begin(),
                             llvm::seq<int64_t>(0, resultRank).end());
    return tensor::ExpandShapeOp::create(b, loc, resultType, flat,
                                         ArrayRef<ReassociationIndices>{all});
  }
  // A rank-0 side (so one element and unit dims only): regroup with no reassociation groups.
  if (resultRank == 0)
    return tensor::CollapseShapeOp::create(b, loc, resultType, input,
                                           ArrayRef<ReassociationIndices>{});
  return tensor::ExpandShapeOp::create(b, loc, resultType, input, ArrayRef<ReassociationIndices>{});
}

Value mlir::sqz::import::buildMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  Type elementType = lhsType.getElementType();
  SmallVector<OpFoldResult> sizes = {getMixedSizes(b, loc, lhs)[0], getMixedSizes(b, loc, rhs)[1]};
  Value init = createFilled(b, loc, sizes, elementType, b.getZeroAttr(elementType));
  return linalg::MatmulOp::create(b, loc, TypeRange{init.getType()}, ValueRange{lhs, rhs},
                                  ValueRange{init})
      .getResult(0);
}

/// Drops unit dim `dim` of `value` by merging it into a neighbour.
static Value dropUnitDim(OpBuilder &b, Location loc, Value value, int64_t dim) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape.erase(shape.begin() + dim);
  SmallVector<OpFoldResult> sizes = getMixedSizes(b, loc, value);
  sizes.erase(sizes.begin() + dim);
  return buildReshape(b, loc, value, shape, sizes);
}

Value mlir::sqz::import::buildOnnxMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  MLIRContext *context = b.getContext();
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  auto rhsType = cast<RankedTensorType>(rhs.getType());
  if (lhsType.getRank() == 0 || rhsType.getRank() == 0)
    return nullptr;
  Type elementType = lhsType.getElementType();

  // Promote 1-D operands: [K] -> [1, K] on the left, [K] -> [K, 1] on the right.
  bool lhsPromoted = lhsType.getRank() == 1;
  bool rhsPromoted = rhsType.getRank() == 1;
  if (lhsPromoted)
    lhs = buildReshape(b, loc, lhs, {1, lhsType.getDimSize(0)},
                       {b.getIndexAttr(1), getMixedSizes(b, loc, lhs)[0]});
  if (rhsPromoted)
    rhs = buildReshape(b, loc, rhs, {rhsType.getDimSize(0), 1},
                       {getMixedSizes(b, loc, rhs)[0], b.getIndexAttr(1)});
  lhsType = cast<RankedTensorType>(lhs.getType());
  rhsType = cast<RankedTensorType>(rhs.getType());

  ArrayRef<int64_t> lhsShape = lhsType.getShape();
  ArrayRef<int64_t> rhsShape = rhsType.getShape();
  int64_t m = lhsShape[lhsShape.size() - 2];
  int64_t k = lhsShape.back();
  int64_t n = rhsShape.back();
  int64_t rhsK = rhsShape[rhsShape.size() - 2];
  if (rhsK != k && !ShapedType::isDynamic(k) && !ShapedType::isDynamic(rhsK))
    return nullptr; // a dynamic contraction dim must equal the other side's
  if (ShapedType::isDynamic(k))
    k = rhsK;
  ArrayRef<int64_t> lhsBatch = lhsShape.drop_back(2);
  ArrayRef<int64_t> rhsBatch = rhsShape.drop_back(2);
  std::optional<SmallVector<int64_t>> batch = broadcastShapes({lhsBatch, rhsBatch});
  if (!batch)
    return nullptr;
  int64_t batchRank = batch->size();
  SmallVector<int64_t> resultShape(*batch);
  resultShape.append({m, n});
  // Result sizes: batch dims from whichever operand has them (dynamic dims never broadcast).
  SmallVector<OpFoldResult> lhsSizes = getMixedSizes(b, loc, lhs);
  SmallVector<OpFoldResult> rhsSizes = getMixedSizes(b, loc, rhs);
  SmallVector<OpFoldResult> resultSizes;
  for (int64_t i = 0; i < batchRank; ++i) {
    int64_t li = i - (batchRank - static_cast<int64_t>(lhsBatch.size()));
    int64_t ri = i - (batchRank - static_cast<int64_t>(rhsBatch.size()));
    if (!ShapedType::isDynamic((*batch)[i]))
      resultSizes.push_back(b.getIndexAttr((*batch)[i]));
    else if (li >= 0 && ShapedType::isDynamic(lhsBatch[li]))
      resultSizes.push_back(lhsSizes[li]);
    else
      resultSizes.push_back(rhsSizes[ri]);
  }
  resultSizes.append({lhsSizes[lhsSizes.size() - 2], rhsSizes.back()});
  bool dynamic = ShapedType::isDynamicShape(resultShape) || !lhsType.hasStaticShape() ||
                 !rhsType.hasStaticShape();

  Value result;
  if (batchRank == 0) {
    result = buildMatmul(b, loc, lhs, rhs);
  } else if (rhsBatch.empty()) {
    // [..., M, K] x [K, N]: one matmul over the flattened rows.
    int64_t rows = lhsType.hasStaticShape() ? lhsType.getNumElements() / k : ShapedType::kDynamic;
    Value flat = buildReshape(b, loc, lhs, {rows, k});
    result = buildReshape(b, loc, buildMatmul(b, loc, flat, rhs), resultShape, resultSizes);
  } else if (lhsBatch == rhsBatch && !dynamic) {
    // Same batch dims: linalg.batch_matmul over the flattened batch.
    int64_t batchSize = 1;
    for (int64_t dim : lhsBatch)
      batchSize *= dim;
    Value lhs3 = buildReshape(b, loc, lhs, {batchSize, m, k});
    Value rhs3 = buildReshape(b, loc, rhs, {batchSize, k, n});
    SmallVector<int64_t> shape3 = {batchSize, m, n};
    Value init = createFilled(b, loc, shape3, elementType, b.getZeroAttr(elementType));
    Value product = linalg::BatchMatmulOp::create(b, loc, TypeRange{init.getType()},
                                                  ValueRange{lhs3, rhs3}, ValueRange{init})
                        .getResult(0);
    result = buildReshape(b, loc, product, resultShape);
  } else {
    // Broadcast batch dims: a contraction linalg.generic over (batch..., m, n, k).
    int64_t numLoops = batchRank + 3;
    AffineExpr dm = getAffineDimExpr(batchRank, context);
    AffineExpr dn = getAffineDimExpr(batchRank + 1, context);
    AffineExpr dk = getAffineDimExpr(batchRank + 2, context);
    auto operandMap = [&](ArrayRef<int64_t> operandBatch, AffineExpr row, AffineExpr col) {
      SmallVector<AffineExpr> exprs;
      int64_t offset = batchRank - static_cast<int64_t>(operandBatch.size());
      for (auto [i, dim] : llvm::enumerate(operandBatch)) {
        int64_t loop = offset + static_cast<int64_t>(i);
        exprs.push_back(dim == 1 && (*batch)[loop] != 1 ? getAffineConstantExpr(0, context)
                                                        : getAffineDimExpr(loop, context));
      }
      exprs.append({row, col});
      return AffineMap::get(numLoops, 0, exprs, context);
    };
    SmallVector<AffineExpr> outExprs;
    for (int64_t i = 0; i < batchRank; ++i)
      outExprs.push_back(getAffineDimExpr(i, context));
    outExprs.append({dm, dn});
    SmallVector<AffineMap> maps = {operandMap(lhsBatch, dm, dk), operandMap(rhsBatch, dk, dn),
                                   AffineMap::get(numLoops, 0, outExprs, context)};
    SmallVector<utils::IteratorType> iterators(numLoops - 1, utils::IteratorType::parallel);
    iterators.push_back(utils::IteratorType::reduction);
    Value init = createFilled(b, loc, resultSizes, elementType, b.getZeroAttr(elementType));
    bool isFloat = isa<FloatType>(elementType);
    result = linalg::GenericOp::create(
                 b, loc, TypeRange{init.getType()}, ValueRange{lhs, rhs}, ValueRange{init}, maps,
                 iterators,
                 [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
                   Value product, sum;
                   if (isFloat) {
                     product = arith::MulFOp::create(nested, nestedLoc, args[0], args[1]);
                     sum = arith::AddFOp::create(nested, nestedLoc, args[2], product);
                   } else {
                     product = arith::MulIOp::create(nested, nestedLoc, args[0], args[1]);
                     sum = arith::AddIOp::create(nested, nestedLoc, args[2], product);
                   }
                   linalg::YieldOp::create(nested, nestedLoc, sum);
                 })
                 .getResult(0);
  }

  // Drop the promoted dims again (N first: it is the last one).
  if (rhsPromoted)
    result = dropUnitDim(b, loc, result, batchRank + 1);
  if (lhsPromoted)
    result = dropUnitDim(b, loc, result, batchRank);
  return result;
}
