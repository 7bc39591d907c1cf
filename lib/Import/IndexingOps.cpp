//===- IndexingOps.cpp - ONNX gathers, selects, casts, masks and scans ----===//
//
// Gather, GatherElements, GatherND, Compress, Where, Trilu and CumSum (Cast: CastOps.cpp). Each
// folds on the host when all its inputs are import-time constants. Otherwise each becomes one
// `linalg.generic`: gathers read the data with `tensor.extract` at indices computed from
// `linalg.index` and the index tensor (negative indices count from the end; out-of-range indices
// are clamped, never read out of bounds; Compress gathers through a constant table of the kept
// positions), Trilu selects on the loop indices, CumSum is a masked reduction over the scanned
// axis.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "IndexUtils.h"
#include "Ops.h"
#include "ShapeUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::sqz::import;

bool mlir::sqz::import::isIndexDType(int32_t dtype) {
  return dtype == onnx::TensorProto::INT64 || dtype == onnx::TensorProto::INT32;
}

Value mlir::sqz::import::buildNormalizedIndex(OpBuilder &b, Location loc, Value index,
                                             OpFoldResult dim) {
  if (std::optional<int64_t> size = getConstantSize(dim))
    return buildNormalizedIndex(b, loc, index, *size);
  Value idx = castToIndex(b, loc, index);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value size = getIndexValue(b, loc, dim);
  Value isNegative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, idx, zero);
  Value wrapped = arith::AddIOp::create(b, loc, idx, size);
  idx = arith::SelectOp::create(b, loc, isNegative, wrapped, idx);
  idx = arith::MaxSIOp::create(b, loc, idx, zero);
  Value last = arith::MaxSIOp::create(b, loc, arith::SubIOp::create(b, loc, size, one), zero);
  return arith::MinSIOp::create(b, loc, idx, last);
}

Value mlir::sqz::import::buildNormalizedIndex(OpBuilder &b, Location loc, Value index,
                                             int64_t dim) {
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

LogicalResult mlir::sqz::import::checkIndices(NodeContext &node, unsigned index, int64_t dim) {
  if (!isIndexDType(node.getInputDType(index)))
    return node.emitError() << "indices must be int32 or int64, got '"
                            << getDTypeName(node.getInputDType(index)) << "'";
  if (const HostTensor *indices = node.getConstantInput(index); indices && dim >= 0)
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
  SmallVector<OpFoldResult> dataSizes = getMixedSizes(b, node.getLoc(), data);
  SmallVector<OpFoldResult> sizes(ArrayRef(dataSizes).take_front(*axis));
  llvm::append_range(sizes, getMixedSizes(b, node.getLoc(), node.getInput(1)));
  llvm::append_range(sizes, ArrayRef(dataSizes).drop_front(*axis + 1));
  SmallVector<AffineExpr> indexExprs;
  for (int64_t q = 0; q < indicesRank; ++q)
    indexExprs.push_back(getAffineDimExpr(*axis + q, context));
  AffineMap indicesMap = AffineMap::get(resultRank, 0, indexExprs, context);
  Value result = buildIndexedGeneric(
      b, node.getLoc(), {node.getInput(1)}, {indicesMap}, shape, dataType.getElementType(),
      [&](OpBuilder &nb, Location nl, ValueRange indices, ValueRange args) {
        SmallVector<Value> coords(indices.take_front(*axis));
        coords.push_back(buildNormalizedIndex(nb, nl, args[0], dataSizes[*axis]));
        llvm::append_range(coords, indices.drop_front(*axis + indicesRank));
        return tensor::ExtractOp::create(nb, nl, data, coords).getResult();
      },
      sizes);
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

LogicalResult mlir::sqz::import::importGatherND(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  FailureOr<int64_t> batchDims =
      node.getOpset() >= 12 ? node.getIntAttr("batch_dims", 0) : FailureOr<int64_t>(0);
  if (failed(batchDims))
    return failure();
  RankedTensorType dataType = node.getInputType(0);
  RankedTensorType indicesType = node.getInputType(1);
  ArrayRef<int64_t> dataShape = dataType.getShape();
  ArrayRef<int64_t> indicesShape = indicesType.getShape();
  int64_t rank = dataShape.size(), indicesRank = indicesShape.size();
  if (rank == 0 || indicesRank == 0)
    return node.emitError() << "data " << dataType << " and indices " << indicesType
                            << " must have rank >= 1";
  int64_t b = *batchDims;
  if (b < 0 || b >= std::min(rank, indicesRank))
    return node.emitError() << "batch_dims " << b << " must be in [0, "
                            << std::min(rank, indicesRank) << ")";
  if (dataShape.take_front(b) != indicesShape.take_front(b))
    return node.emitError() << "the first " << b << " dims of data " << dataType
                            << " and indices " << indicesType << " must be equal";
  int64_t k = indicesShape.back();
  if (k < 1 || k > rank - b)
    return node.emitError() << "the last dim of indices " << indicesType << " must be in [1, "
                            << rank - b << "]";
  if (!isIndexDType(node.getInputDType(1)))
    return node.emitError() << "indices must be int32 or int64, got '"
                            << getDTypeName(node.getInputDType(1)) << "'";
  if (const HostTensor *indices = node.getConstantInput(1))
    for (int64_t i = 0, e = indices->getNumElements(); i < e; ++i) {
      int64_t value = indices->getInt(i), dim = dataShape[b + i % k];
      if (value < -dim || value >= dim)
        return node.emitError() << "index " << value << " is out of range for a dim of size "
                                << dim;
    }
  // result[i0.., iq-2, j..] = data[i0..ib-1, indices[i0.., iq-2, 0..k-1], j..]
  SmallVector<int64_t> shape(indicesShape.drop_back());
  llvm::append_range(shape, dataShape.drop_front(b + k));
  int64_t positions = indicesRank - 1;
  int32_t dtype = node.getInputDType(0);

  if (allInputsConstant(node)) {
    const HostTensor &data = *node.getConstantInput(0);
    const HostTensor &indices = *node.getConstantInput(1);
    SmallVector<int64_t> dataStrides = getRowMajorStrides(dataShape);
    SmallVector<int64_t> indexStrides = getRowMajorStrides(indicesShape);
    node.setConstantResult(0, gatherHostElements(data, shape, [&](ArrayRef<int64_t> idx) {
                             int64_t base = 0, flat = 0;
                             for (int64_t d = 0; d < positions; ++d)
                               base += idx[d] * indexStrides[d];
                             for (int64_t d = 0; d < b; ++d)
                               flat += idx[d] * dataStrides[d];
                             for (int64_t m = 0; m < k; ++m) {
                               int64_t at = indices.getInt(base + m);
                               if (at < 0)
                                 at += dataShape[b + m];
                               flat += at * dataStrides[b + m];
                             }
                             for (int64_t d = b + k; d < rank; ++d)
                               flat += idx[positions + d - b - k] * dataStrides[d];
                             return flat;
                           }));
    return success();
  }

  Value data = node.getInput(0), indices = node.getInput(1);
  Value result = buildIndexedGeneric(
      node.getBuilder(), node.getLoc(), {}, {}, shape, dataType.getElementType(),
      [&](OpBuilder &nb, Location nl, ValueRange ivs, ValueRange) {
        SmallVector<Value> coords(ivs.take_front(b));
        SmallVector<Value> indexCoords(ivs.take_front(positions));
        indexCoords.push_back(Value());
        for (int64_t m = 0; m < k; ++m) {
          indexCoords.back() = arith::ConstantIndexOp::create(nb, nl, m);
          Value index = tensor::ExtractOp::create(nb, nl, indices, indexCoords);
          coords.push_back(buildNormalizedIndex(nb, nl, index, dataShape[b + m]));
        }
        llvm::append_range(coords, ivs.drop_front(positions));
        return tensor::ExtractOp::create(nb, nl, data, coords).getResult();
      });
  node.setResult(0, result, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importCompress(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  const HostTensor *condition = node.getConstantInput(1);
  if (!condition)
    return node.emitError() << "the condition must be an import-time constant (the result "
                               "shape depends on it)";
  if (condition->shape.size() != 1)
    return node.emitError() << "the condition must be 1-D, got rank " << condition->shape.size();
  RankedTensorType type = node.getInputType(0);
  SmallVector<int64_t> shape(type.getShape());
  bool flatten = !node.getAttr("axis");
  int64_t axis = 0;
  if (flatten) {
    shape = {type.getNumElements()};
  } else {
    FailureOr<int64_t> axisValue = node.getIntAttr("axis", 0);
    if (failed(axisValue))
      return failure();
    FailureOr<int64_t> normalized =
        normalizeAxis(node, *axisValue, static_cast<int64_t>(shape.size()), "axis");
    if (failed(normalized))
      return failure();
    axis = *normalized;
  }
  int64_t dim = shape[axis];
  if (condition->shape[0] > dim)
    return node.emitError() << "the condition has " << condition->shape[0]
                            << " entries, more than the " << dim << " of the compressed axis";
  SmallVector<int64_t> selected;
  for (int64_t i = 0, e = condition->shape[0]; i < e; ++i)
    if (condition->getInt(i) != 0)
      selected.push_back(i);
  SmallVector<int64_t> resultShape(shape);
  resultShape[axis] = selected.size();
  int32_t dtype = node.getInputDType(0);

  if (const HostTensor *data = node.getConstantInput(0)) {
    SmallVector<int64_t> strides = getRowMajorStrides(shape);
    node.setConstantResult(
        0, gatherHostElements(*data, resultShape, [&](ArrayRef<int64_t> idx) {
          int64_t flat = 0;
          for (int64_t d = 0, e = shape.size(); d < e; ++d)
            flat += (d == axis ? selected[idx[d]] : idx[d]) * strides[d];
          return flat;
        }));
    return success();
  }

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Type elementType = type.getElementType();
  Value input = node.getInput(0);
  if (flatten)
    input = buildReshape(b, loc, input, shape);
  if (selected.empty()) {
    node.setResult(0, createEmpty(b, loc, resultShape, elementType), dtype);
    return success();
  }
  // A gather along the axis through a constant table of the kept positions.
  HostTensor table = HostTensor::allocate("", onnx::TensorProto::INT64,
                                          {static_cast<int64_t>(selected.size())});
  for (auto [i, position] : llvm::enumerate(selected))
    table.setInt(i, position);
  Value tableValue = node.createConstant(std::move(table));
  MLIRContext *context = node.getContext();
  AffineMap tableMap =
      AffineMap::get(resultShape.size(), 0, {getAffineDimExpr(axis, context)}, context);
  Value result = buildIndexedGeneric(
      b, loc, {tableValue}, {tableMap}, resultShape, elementType,
      [&](OpBuilder &nb, Location nl, ValueRange ivs, ValueRange args) {
        SmallVector<Value> coords(ivs);
        coords[axis] = castToIndex(nb, nl, args[0]);
        return tensor::ExtractOp::create(nb, nl, input, coords).getResult();
      });
  node.setResult(0, result, dtype);
  return success();
}
