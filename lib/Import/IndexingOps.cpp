//===- IndexingOps.cpp - ONNX gathers, selects, casts, masks and scans ----===//
//
// Gather, GatherElements, Where, Cast, CastLike, Trilu and CumSum. Each folds on the host when
// all its inputs are import-time constants. Otherwise each becomes one `linalg.generic`: gathers
// read the data with `tensor.extract` at indices computed from `linalg.index` and the index
// tensor (negative indices count from the end; out-of-range indices are clamped, never read out
// of bounds), Trilu selects on the loop indices, CumSum is a masked reduction over the scanned
// axis.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"
#include "ShapeUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::sqz::import;

static bool isIndexDType(int32_t dtype) {
  return dtype == onnx::TensorProto::INT64 || dtype == onnx::TensorProto::INT32;
}

/// `index` (an integer element) as an in-bounds `index` for a dim of size `dim`: negative values
/// count from the end, the rest is clamped to [0, dim - 1].
static Value buildNormalizedIndex(OpBuilder &b, Location loc, Value index, int64_t dim) {
  Value idx = castToIndex(b, loc, index);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value size = arith::ConstantIndexOp::create(b, loc, dim);
  Value isNegative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, idx, zero);
  Value wrapped = arith::AddIOp::create(b, loc, idx, size);
  idx = arith::SelectOp::create(b, loc, isNegative, wrapped, idx);
  idx = arith::MaxSIOp::create(b, loc, idx, zero);
  Value last = arith::ConstantIndexOp::create(b, loc, std::max<int64_t>(dim - 1, 0));
  return arith::MinSIOp::create(b, loc, idx, last);
}

/// Checks the index tensor `index` of a gather and, when constant, that its values are in
/// [-dim, dim).
static LogicalResult checkIndices(NodeContext &node, unsigned index, int64_t dim) {
  if (!isIndexDType(node.getInputDType(index)))
    return node.emitError() << "indices must be int32 or int64, got '"
                            << getDTypeName(node.getInputDType(index)) << "'";
  if (const HostTensor *indices = node.getConstantInput(index))
    for (int64_t i = 0, e = indices->getNumElements(); i < e; ++i) {
      int64_t value = indices->getInt(i);
      if (value < -dim || value >= dim)
        return node.emitError() << "index " << value << " is out of range for a dim of size "
                                << dim;
    }
  return success();
}

LogicalResult mlir::sqz::import::importGather(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  FailureOr<int64_t> axisValue = node.getIntAttr("axis", 0);
  if (failed(axisValue))
    return failure();
  RankedTensorType dataType = node.getInputType(0);
  RankedTensorType indicesType = node.getInputType(1);
  ArrayRef<int64_t> dataShape = dataType.getShape();
  int64_t rank = dataShape.size();
  if (rank == 0)
    return node.emitError() << "the data must have rank >= 1";
  FailureOr<int64_t> axis = normalizeAxis(node, *axisValue, rank, "axis");
  if (failed(axis))
    return failure();
  int64_t dim = dataShape[*axis];
  if (failed(checkIndices(node, 1, dim)))
    return failure();
  int64_t indicesRank = indicesType.getRank();
  SmallVector<int64_t> shape(dataShape.take_front(*axis));
  llvm::append_range(shape, indicesType.getShape());
  llvm::append_range(shape, dataShape.drop_front(*axis + 1));
  int32_t dtype = node.getInputDType(0);

  if (allInputsConstant(node)) {
    const HostTensor &data = *node.getConstantInput(0);
    const HostTensor &indices = *node.getConstantInput(1);
    SmallVector<int64_t> dataStrides = getRowMajorStrides(dataShape);
    SmallVector<int64_t> indexStrides = getRowMajorStrides(indicesType.getShape());
    node.setConstantResult(0, gatherHostElements(data, shape, [&](ArrayRef<int64_t> idx) {
                             int64_t flatIndex = 0;
                             for (int64_t q = 0; q < indicesRank; ++q)
                               flatIndex += idx[*axis + q] * indexStrides[q];
                             int64_t at = indices.getInt(flatIndex);
                             if (at < 0)
                               at += dim;
                             int64_t flat = at * dataStrides[*axis];
                             for (int64_t d = 0; d < *axis; ++d)
                               flat += idx[d] * dataStrides[d];
                             for (int64_t d = *axis + 1; d < rank; ++d)
                               flat += idx[d - 1 + indicesRank] * dataStrides[d];
                             return flat;
                           }));
    return success();
  }

  OpBuilder &b = node.getBuilder();
  MLIRContext *context = node.getContext();
  Value data = node.getInput(0);
  int64_t resultRank = shape.size();
  SmallVector<AffineExpr> indexExprs;
  for (int64_t q = 0; q < indicesRank; ++q)
    indexExprs.push_back(getAffineDimExpr(*axis + q, context));
  AffineMap indicesMap = AffineMap::get(resultRank, 0, indexExprs, context);
  Value result = buildIndexedGeneric(
      b, node.getLoc(), {node.getInput(1)}, {indicesMap}, shape, dataType.getElementType(),
      [&](OpBuilder &nb, Location nl, ValueRange indices, ValueRange args) {
        SmallVector<Value> coords(indices.take_front(*axis));
        coords.push_back(buildNormalizedIndex(nb, nl, args[0], dim));
        llvm::append_range(coords, indices.drop_front(*axis + indicesRank));
        return tensor::ExtractOp::create(nb, nl, data, coords).getResult();
      });
  node.setResult(0, result, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importGatherElements(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  FailureOr<int64_t> axisValue = node.getIntAttr("axis", 0);
  if (failed(axisValue))
    return failure();
  RankedTensorType dataType = node.getInputType(0);
  RankedTensorType indicesType = node.getInputType(1);
  ArrayRef<int64_t> dataShape = dataType.getShape();
  ArrayRef<int64_t> shape = indicesType.getShape();
  int64_t rank = dataShape.size();
  if (rank == 0 || indicesType.getRank() != rank)
    return node.emitError() << "data " << dataType << " and indices " << indicesType
                            << " must have the same rank >= 1";
  FailureOr<int64_t> axis = normalizeAxis(node, *axisValue, rank, "axis");
  if (failed(axis))
    return failure();
  for (int64_t d = 0; d < rank; ++d)
    if (d != *axis && shape[d] > dataShape[d])
      return node.emitError() << "indices " << indicesType << " exceed data " << dataType
                              << " in dim " << d;
  int64_t dim = dataShape[*axis];
  if (failed(checkIndices(node, 1, dim)))
    return failure();
  int32_t dtype = node.getInputDType(0);

  if (allInputsConstant(node)) {
    const HostTensor &data = *node.getConstantInput(0);
    const HostTensor &indices = *node.getConstantInput(1);
    SmallVector<int64_t> dataStrides = getRowMajorStrides(dataShape);
    SmallVector<int64_t> indexStrides = getRowMajorStrides(shape);
    node.setConstantResult(0, gatherHostElements(data, shape, [&](ArrayRef<int64_t> idx) {
                             int64_t flatIndex = 0, flat = 0;
                             for (int64_t d = 0; d < rank; ++d)
                               flatIndex += idx[d] * indexStrides[d];
                             int64_t at = indices.getInt(flatIndex);
                             if (at < 0)
                               at += dim;
                             for (int64_t d = 0; d < rank; ++d)
                               flat += (d == *axis ? at : idx[d]) * dataStrides[d];
                             return flat;
                           }));
    return success();
  }

  Value data = node.getInput(0);
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, node.getContext());
  Value result =
      buildIndexedGeneric(node.getBuilder(), node.getLoc(), {node.getInput(1)}, {identity}, shape,
                          dataType.getElementType(),
                          [&](OpBuilder &nb, Location nl, ValueRange indices, ValueRange args) {
                            SmallVector<Value> coords(indices);
                            coords[*axis] = buildNormalizedIndex(nb, nl, args[0], dim);
                            return tensor::ExtractOp::create(nb, nl, data, coords).getResult();
                          });
  node.setResult(0, result, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importWhere(NodeContext &node) {
  if (failed(node.checkNumInputs(3, 3)))
    return failure();
  if (node.getInputDType(0) != onnx::TensorProto::BOOL)
    return node.emitError() << "the condition must be bool, got '"
                            << getDTypeName(node.getInputDType(0)) << "'";
  int32_t dtype = node.getInputDType(1);
  if (node.getInputDType(2) != dtype)
    return node.emitError() << "X and Y have different dtypes ('" << getDTypeName(dtype)
                            << "' and '" << getDTypeName(node.getInputDType(2)) << "')";
  RankedTensorType condType = node.getInputType(0), xType = node.getInputType(1),
                   yType = node.getInputType(2);
  std::optional<SmallVector<int64_t>> shape =
      broadcastShapes({condType.getShape(), xType.getShape(), yType.getShape()});
  if (!shape)
    return node.emitError() << "operand shapes " << condType << ", " << xType << " and " << yType
                            << " do not broadcast";
  if (allInputsConstant(node) && getShapeNumElements(*shape) <= kMaxFoldElements) {
    const HostTensor &cond = *node.getConstantInput(0);
    const HostTensor &x = *node.getConstantInput(1);
    const HostTensor &y = *node.getConstantInput(2);
    HostTensor result = HostTensor::allocate("", dtype, *shape);
    int64_t size = getDTypeSize(dtype);
    MutableArrayRef<char> out = result.getMutableData();
    forEachIndex(*shape, [&](int64_t i, ArrayRef<int64_t> idx) {
      bool pick = cond.getInt(getBroadcastSourceIndex(cond.shape, idx)) != 0;
      const HostTensor &from = pick ? x : y;
      std::memcpy(out.data() + i * size,
                  from.data.data() + getBroadcastSourceIndex(from.shape, idx) * size, size);
    });
    node.setConstantResult(0, std::move(result));
    return success();
  }
  Value result = buildElementwise(
      node.getBuilder(), node.getLoc(), {node.getInput(0), node.getInput(1), node.getInput(2)},
      *shape, xType.getElementType(), [](OpBuilder &b, Location loc, ValueRange args) {
        return arith::SelectOp::create(b, loc, args[0], args[1], args[2]).getResult();
      });
  node.setResult(0, result, dtype);
  return success();
}

/// The scalar conversion of ONNX Cast from `from` to `to` (dtypes): floats truncate toward zero
/// when converted to integers, anything non-zero is true, bool and uint8 widen unsigned.
static Value buildCastScalar(OpBuilder &b, Location loc, Value x, int32_t from, int32_t to,
                             Type toType) {
  Type fromType = x.getType();
  bool toBool = to == onnx::TensorProto::BOOL;
  if (auto fromFloat = dyn_cast<FloatType>(fromType)) {
    if (toBool) {
      Value zero = createScalar(b, loc, fromType, 0.0);
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, x, zero);
    }
    if (auto toFloat = dyn_cast<FloatType>(toType)) {
      if (toFloat.getWidth() > fromFloat.getWidth())
        return arith::ExtFOp::create(b, loc, toType, x);
      if (toFloat.getWidth() < fromFloat.getWidth())
        return arith::TruncFOp::create(b, loc, toType, x);
      return x;
    }
    if (isUnsignedDType(to))
      return arith::FPToUIOp::create(b, loc, toType, x);
    return arith::FPToSIOp::create(b, loc, toType, x);
  }
  bool fromUnsigned = isUnsignedDType(from) || from == onnx::TensorProto::BOOL;
  if (toBool) {
    Value zero = createScalar(b, loc, fromType, 0.0);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x, zero);
  }
  if (isa<FloatType>(toType))
    return fromUnsigned ? arith::UIToFPOp::create(b, loc, toType, x).getResult()
                        : arith::SIToFPOp::create(b, loc, toType, x).getResult();
  unsigned fromWidth = fromType.getIntOrFloatBitWidth(), toWidth = toType.getIntOrFloatBitWidth();
  if (toWidth > fromWidth)
    return fromUnsigned ? arith::ExtUIOp::create(b, loc, toType, x).getResult()
                        : arith::ExtSIOp::create(b, loc, toType, x).getResult();
  if (toWidth < fromWidth)
    return arith::TruncIOp::create(b, loc, toType, x);
  return x;
}

/// Result 0 is input 0 converted to dtype `to` (Cast, CastLike).
static LogicalResult castInput(NodeContext &node, int32_t to) {
  Type toType = getElementType(node.getContext(), to);
  if (!toType)
    return node.emitError() << "unsupported target dtype '" << getDTypeName(to) << "'";
  int32_t from = node.getInputDType(0);
  RankedTensorType inputType = node.getInputType(0);

  if (const HostTensor *data = node.getConstantInput(0)) {
    HostTensor result = HostTensor::allocate("", to, data->shape);
    for (int64_t i = 0, e = data->getNumElements(); i < e; ++i) {
      if (isFloatDType(from)) {
        double value = data->getDouble(i);
        if (to == onnx::TensorProto::BOOL)
          result.setInt(i, value != 0.0 ? 1 : 0); // NaN is true
        else if (isFloatDType(to))
          result.setDouble(i, value);
        else if (std::isfinite(value))
          result.setInt(i, static_cast<int64_t>(std::trunc(value)));
        else
          result.setInt(i, 0);
      } else if (isFloatDType(to)) {
        result.setDouble(i, static_cast<double>(data->getInt(i)));
      } else {
        result.setInt(i, data->getInt(i)); // setInt wraps to the target width
      }
    }
    node.setConstantResult(0, std::move(result));
    return success();
  }
  if (from == to) {
    node.forwardInput(0, 0);
    return success();
  }
  Value input = node.getInput(0);
  if (inputType.getElementType() == toType && from != onnx::TensorProto::BOOL &&
      to != onnx::TensorProto::BOOL) {
    node.setResult(0, input, to); // int8 <-> uint8: same bits
    return success();
  }
  Value result = buildElementwise(node.getBuilder(), node.getLoc(), {input}, inputType.getShape(),
                                  toType, [&](OpBuilder &b, Location loc, ValueRange args) {
                                    return buildCastScalar(b, loc, args[0], from, to, toType);
                                  });
  node.setResult(0, result, to);
  return success();
}

LogicalResult mlir::sqz::import::importCast(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  if (!node.getAttr("to"))
    return node.emitError() << "attribute 'to' is required";
  FailureOr<int64_t> to = node.getIntAttr("to", 0);
  if (failed(to))
    return failure();
  return castInput(node, static_cast<int32_t>(*to));
}

LogicalResult mlir::sqz::import::importCastLike(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  return castInput(node, node.getInputDType(1));
}

LogicalResult mlir::sqz::import::importTrilu(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 2)))
    return failure();
  FailureOr<int64_t> upper = node.getIntAttr("upper", 1);
  if (failed(upper))
    return failure();
  int64_t k = 0;
  if (node.hasInput(1)) {
    FailureOr<SmallVector<int64_t>> kValue = getConstantInts(node, 1, "k");
    if (failed(kValue))
      return failure();
    if (kValue->size() != 1)
      return node.emitError() << "k must hold one value";
    k = (*kValue)[0];
  }
  RankedTensorType type = node.getInputType(0);
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rank = shape.size();
  if (rank < 2)
    return node.emitError() << "the input must have rank >= 2, got " << type;
  int32_t dtype = node.getInputDType(0);
  auto keep = [&](int64_t row, int64_t col) { return *upper ? col - row >= k : col - row <= k; };

  if (const HostTensor *data = node.getConstantInput(0)) {
    node.setConstantResult(0, gatherHostElements(*data, shape, [&](ArrayRef<int64_t> idx) {
                             if (!keep(idx[rank - 2], idx[rank - 1]))
                               return int64_t(-1);
                             int64_t flat = 0;
                             for (int64_t d = 0; d < rank; ++d)
                               flat = flat * shape[d] + idx[d];
                             return flat;
                           }));
    return success();
  }
  Value result = buildIndexedGeneric(
      node.getBuilder(), node.getLoc(), {node.getInput(0)},
      {AffineMap::getMultiDimIdentityMap(rank, node.getContext())}, shape, type.getElementType(),
      [&](OpBuilder &b, Location loc, ValueRange indices, ValueRange args) {
        Value diff = arith::SubIOp::create(b, loc, indices[rank - 1], indices[rank - 2]);
        Value kIndex = arith::ConstantIndexOp::create(b, loc, k);
        Value cond = arith::CmpIOp::create(
            b, loc, *upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle, diff, kIndex);
        Value zero = createScalar(b, loc, args[0].getType(), 0.0);
        return arith::SelectOp::create(b, loc, cond, args[0], zero).getResult();
      });
  node.setResult(0, result, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importCumSum(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  FailureOr<int64_t> exclusive = node.getIntAttr("exclusive", 0);
  FailureOr<int64_t> reverse = node.getIntAttr("reverse", 0);
  if (failed(exclusive) || failed(reverse))
    return failure();
  FailureOr<SmallVector<int64_t>> axisValue = getConstantInts(node, 1, "axis");
  if (failed(axisValue))
    return failure();
  if (axisValue->size() != 1)
    return node.emitError() << "the axis input must hold one value";
  RankedTensorType type = node.getInputType(0);
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rank = shape.size();
  if (rank == 0)
    return node.emitError() << "the input must have rank >= 1";
  FailureOr<int64_t> axis = normalizeAxis(node, (*axisValue)[0], rank, "axis");
  if (failed(axis))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (dtype == onnx::TensorProto::BOOL)
    return node.emitError() << "bool tensors are not accepted";
  bool isFloat = isFloatDType(dtype);
  // Is element `k` of the scanned axis part of the sum at position `i`?
  auto included = [&](int64_t k, int64_t i) {
    if (*reverse)
      return *exclusive ? k > i : k >= i;
    return *exclusive ? k < i : k <= i;
  };

  if (const HostTensor *data = node.getConstantInput(0)) {
    HostTensor result = HostTensor::allocate("", dtype, shape);
    int64_t dim = shape[*axis];
    int64_t inner = getShapeNumElements(shape.drop_front(*axis + 1));
    int64_t outer = getShapeNumElements(shape.take_front(*axis));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in)
        for (int64_t i = 0; i < dim; ++i) {
          double fsum = 0;
          int64_t isum = 0;
          for (int64_t k = 0; k < dim; ++k) {
            if (!included(k, i))
              continue;
            int64_t at = (o * dim + k) * inner + in;
            if (isFloat)
              fsum += data->getDouble(at);
            else
              isum = static_cast<int64_t>(static_cast<uint64_t>(isum) +
                                          static_cast<uint64_t>(data->getInt(at)));
          }
          int64_t out = (o * dim + i) * inner + in;
          if (isFloat)
            result.setDouble(out, fsum);
          else
            result.setInt(out, isum);
        }
    node.setConstantResult(0, std::move(result));
    return success();
  }

  // A reduction over a trailing loop k that adds x[..., k, ...] where `included(k, i)`.
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  MLIRContext *context = node.getContext();
  Type elementType = type.getElementType();
  SmallVector<AffineExpr> inputExprs;
  for (int64_t d = 0; d < rank; ++d)
    inputExprs.push_back(getAffineDimExpr(d == *axis ? rank : d, context));
  SmallVector<AffineExpr> outputExprs;
  for (int64_t d = 0; d < rank; ++d)
    outputExprs.push_back(getAffineDimExpr(d, context));
  SmallVector<AffineMap> maps = {AffineMap::get(rank + 1, 0, inputExprs, context),
                                 AffineMap::get(rank + 1, 0, outputExprs, context)};
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  Value init = createFilled(b, loc, shape, elementType, b.getZeroAttr(elementType));
  arith::CmpIPredicate predicate =
      *reverse ? (*exclusive ? arith::CmpIPredicate::sgt : arith::CmpIPredicate::sge)
               : (*exclusive ? arith::CmpIPredicate::slt : arith::CmpIPredicate::sle);
  Value result = linalg::GenericOp::create(
                     b, loc, TypeRange{init.getType()}, ValueRange{node.getInput(0)},
                     ValueRange{init}, maps, iterators,
                     [&](OpBuilder &nb, Location nl, ValueRange args) {
                       Value i = linalg::IndexOp::create(nb, nl, *axis);
                       Value k = linalg::IndexOp::create(nb, nl, rank);
                       Value cond = arith::CmpIOp::create(nb, nl, predicate, k, i);
                       Value sum =
                           isFloat ? arith::AddFOp::create(nb, nl, args[1], args[0]).getResult()
                                   : arith::AddIOp::create(nb, nl, args[1], args[0]).getResult();
                       Value next = arith::SelectOp::create(nb, nl, cond, sum, args[1]);
                       linalg::YieldOp::create(nb, nl, next);
                     })
                     .getResult(0);
  node.setResult(0, result, dtype);
  return success();
}
