//===- ScatterOps.cpp - ONNX scatters -------------------------------------===//
//
// ScatterElements (and the deprecated Scatter), ScatterND and TensorScatter, with run-time
// indices. ScatterElements and ScatterND apply their updates one element at a time, in the
// row-major order of the updates, through a nest of `scf.for` loops carrying the result tensor
// (a `linalg.copy` of the data; `tensor.extract` of the index and update, `tensor.insert` into
// the result): duplicate indices with reduction "none" give the last update, as ONNX's
// reference does, and reductions (add, mul, max, min) combine with the element already
// written. Indices are normalized like Gather's (negative + dim, clamped: never written out of
// bounds). TensorScatter writes a contiguous window per batch along one axis, so each result
// element has at most one source: it is one parallel `linalg.generic` over the cache that picks
// the update or the past element.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "IndexUtils.h"
#include "Ops.h"
#include "ShapeUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::sqz::import;

namespace {
enum class ScatterReduction { None, Add, Mul, Max, Min };
} // namespace

/// The `reduction` attribute (opset >= 16; max and min from opset 18).
static FailureOr<ScatterReduction> getScatterReduction(NodeContext &node) {
  if (node.getOpset() < 16)
    return ScatterReduction::None;
  FailureOr<std::string> name = node.getStringAttr("reduction", "none");
  if (failed(name))
    return failure();
  ScatterReduction reduction;
  if (*name == "none")
    return ScatterReduction::None;
  if (*name == "add")
    reduction = ScatterReduction::Add;
  else if (*name == "mul")
    reduction = ScatterReduction::Mul;
  else if (*name == "max" && node.getOpset() >= 18)
    reduction = ScatterReduction::Max;
  else if (*name == "min" && node.getOpset() >= 18)
    reduction = ScatterReduction::Min;
  else
    return node.emitError() << "unsupported reduction '" << *name
                            << "' (supported: none, add, mul"
                            << (node.getOpset() >= 18 ? ", max, min)"
                                                      : "; max, min from opset 18)");
  if (node.getInputDType(0) == onnx::TensorProto::BOOL)
    return node.emitError() << "reduction '" << *name << "' is not supported on bool data";
  return reduction;
}

/// `old` combined with `update` by `reduction` (not None) for elements of ONNX dtype `dtype`.
static Value buildScatterCombine(OpBuilder &b, Location loc, ScatterReduction reduction,
                                 int32_t dtype, Value old, Value update) {
  bool isFloat = isFloatDType(dtype), isUnsigned = isUnsignedDType(dtype);
  switch (reduction) {
  case ScatterReduction::Add:
    return isFloat ? arith::AddFOp::create(b, loc, old, update).getResult()
                   : arith::AddIOp::create(b, loc, old, update).getResult();
  case ScatterReduction::Mul:
    return isFloat ? arith::MulFOp::create(b, loc, old, update).getResult()
                   : arith::MulIOp::create(b, loc, old, update).getResult();
  case ScatterReduction::Max:
    if (isFloat)
      return arith::MaximumFOp::create(b, loc, old, update);
    return isUnsigned ? arith::MaxUIOp::create(b, loc, old, update).getResult()
                      : arith::MaxSIOp::create(b, loc, old, update).getResult();
  case ScatterReduction::Min:
    if (isFloat)
      return arith::MinimumFOp::create(b, loc, old, update);
    return isUnsigned ? arith::MinUIOp::create(b, loc, old, update).getResult()
                      : arith::MinSIOp::create(b, loc, old, update).getResult();
  case ScatterReduction::None:
    break;
  }
  return update;
}

/// Computes, for the update at loop point `ivs`, the data coordinates it goes to (`coords`) and
/// returns the update element.
using ScatterLocateFn = function_ref<Value(OpBuilder &, Location, ValueRange ivs,
                                          SmallVectorImpl<Value> &coords)>;

/// `data` with one update applied per point of `loopShape`, in row-major order: a nest of
/// `scf.for` loops carrying the result tensor.
static Value buildSequentialScatter(OpBuilder &b, Location loc, Value data,
                                    ArrayRef<int64_t> loopShape, ScatterReduction reduction,
                                    int32_t dtype, ScatterLocateFn locate) {
  // The importer's context loads the dialects of most ops up front; scf is only needed here.
  b.getContext()->getOrLoadDialect<scf::SCFDialect>();
  SmallVector<Value> lbs, ubs, steps;
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  for (int64_t size : loopShape) {
    lbs.push_back(zero);
    ubs.push_back(arith::ConstantIndexOp::create(b, loc, size));
    steps.push_back(one);
  }
  // The loops write into a copy of the data: in place into `data` itself, bufferization would
  // overwrite the caller's input buffer when `data` is a function argument.
  auto dataType = cast<RankedTensorType>(data.getType());
  Value init = createEmpty(b, loc, dataType.getShape(), dataType.getElementType());
  init = linalg::CopyOp::create(b, loc, ValueRange{data}, ValueRange{init}).getResult(0);
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lbs, ubs, steps, ValueRange{init},
      [&](OpBuilder &nb, Location nl, ValueRange ivs, ValueRange iterArgs) -> scf::ValueVector {
        SmallVector<Value> coords;
        Value update = locate(nb, nl, ivs, coords);
        if (reduction != ScatterReduction::None) {
          Value old = tensor::ExtractOp::create(nb, nl, iterArgs[0], coords);
          update = buildScatterCombine(nb, nl, reduction, dtype, old, update);
        }
        return {tensor::InsertOp::create(nb, nl, update, iterArgs[0], coords).getResult()};
      });
  return nest.results.front();
}

/// ScatterElements, and Scatter (opsets 9-10: no reduction).
static LogicalResult importScatterElementsImpl(NodeContext &node, bool allowReduction) {
  if (failed(node.checkNumInputs(3, 3)))
    return failure();
  FailureOr<int64_t> axisValue = node.getIntAttr("axis", 0);
  if (failed(axisValue))
    return failure();
  FailureOr<ScatterReduction> reduction = allowReduction
                                              ? getScatterReduction(node)
                                              : FailureOr<ScatterReduction>(ScatterReduction::None);
  if (failed(reduction))
    return failure();
  RankedTensorType dataType = node.getInputType(0);
  RankedTensorType indicesType = node.getInputType(1);
  RankedTensorType updatesType = node.getInputType(2);
  ArrayRef<int64_t> dataShape = dataType.getShape();
  ArrayRef<int64_t> shape = indicesType.getShape();
  int64_t rank = dataShape.size();
  if (rank == 0 || indicesType.getRank() != rank)
    return node.emitError() << "data " << dataType << " and indices " << indicesType
                            << " must have the same rank >= 1";
  if (updatesType.getShape() != shape)
    return node.emitError() << "updates " << updatesType << " must have the shape of indices "
                            << indicesType;
  int32_t dtype = node.getInputDType(0);
  if (node.getInputDType(2) != dtype)
    return node.emitError() << "data and updates have different dtypes ('" << getDTypeName(dtype)
                            << "' and '" << getDTypeName(node.getInputDType(2)) << "')";
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

  Value indices = node.getInput(1), updates = node.getInput(2);
  Value result = buildSequentialScatter(
      node.getBuilder(), node.getLoc(), node.getInput(0), shape, *reduction, dtype,
      [&](OpBuilder &b, Location loc, ValueRange ivs, SmallVectorImpl<Value> &coords) {
        coords.assign(ivs.begin(), ivs.end());
        Value index = tensor::ExtractOp::create(b, loc, indices, ivs);
        coords[*axis] = buildNormalizedIndex(b, loc, index, dim);
        return tensor::ExtractOp::create(b, loc, updates, ivs).getResult();
      });
  node.setResult(0, result, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importScatterElements(NodeContext &node) {
  return importScatterElementsImpl(node, /*allowReduction=*/true);
}

LogicalResult mlir::sqz::import::importScatter(NodeContext &node) {
  return importScatterElementsImpl(node, /*allowReduction=*/false);
}

LogicalResult mlir::sqz::import::importScatterND(NodeContext &node) {
  if (failed(node.checkNumInputs(3, 3)))
    return failure();
  FailureOr<ScatterReduction> reduction = getScatterReduction(node);
  if (failed(reduction))
    return failure();
  RankedTensorType dataType = node.getInputType(0);
  RankedTensorType indicesType = node.getInputType(1);
  RankedTensorType updatesType = node.getInputType(2);
  ArrayRef<int64_t> dataShape = dataType.getShape();
  ArrayRef<int64_t> indicesShape = indicesType.getShape();
  int64_t rank = dataShape.size(), indicesRank = indicesShape.size();
  if (rank == 0 || indicesRank == 0)
    return node.emitError() << "data " << dataType << " and indices " << indicesType
                            << " must have rank >= 1";
  int64_t k = indicesShape.back();
  if (k < 1 || k > rank)
    return node.emitError() << "the last dim of indices " << indicesType
                            << " must be in [1, rank of data " << dataType << "]";
  if (!isIndexDType(node.getInputDType(1)))
    return node.emitError() << "indices must be int32 or int64, got '"
                            << getDTypeName(node.getInputDType(1)) << "'";
  SmallVector<int64_t> shape(indicesShape.drop_back());
  llvm::append_range(shape, dataShape.drop_front(k));
  if (updatesType.getShape() != ArrayRef<int64_t>(shape))
    return node.emitError() << "updates " << updatesType
                            << " must have the shape indices.shape[:-1] + data.shape[" << k
                            << ":] = "
                            << RankedTensorType::get(shape, dataType.getElementType());
  int32_t dtype = node.getInputDType(0);
  if (node.getInputDType(2) != dtype)
    return node.emitError() << "data and updates have different dtypes ('" << getDTypeName(dtype)
                            << "' and '" << getDTypeName(node.getInputDType(2)) << "')";
  if (const HostTensor *constIndices = node.getConstantInput(1))
    for (int64_t i = 0, e = constIndices->getNumElements(); i < e; ++i) {
      int64_t value = constIndices->getInt(i), dim = dataShape[i % k];
      if (value < -dim || value >= dim)
        return node.emitError() << "index " << value << " is out of range for a dim of size "
                                << dim;
    }

  Value indices = node.getInput(1), updates = node.getInput(2);
  int64_t batchRank = indicesRank - 1;
  Value result = buildSequentialScatter(
      node.getBuilder(), node.getLoc(), node.getInput(0), shape, *reduction, dtype,
      [&](OpBuilder &b, Location loc, ValueRange ivs, SmallVectorImpl<Value> &coords) {
        SmallVector<Value> indexCoords(ivs.take_front(batchRank));
        indexCoords.push_back(Value());
        for (int64_t d = 0; d < k; ++d) {
          indexCoords.back() = arith::ConstantIndexOp::create(b, loc, d);
          Value index = tensor::ExtractOp::create(b, loc, indices, indexCoords);
          coords.push_back(buildNormalizedIndex(b, loc, index, dataShape[d]));
        }
        llvm::append_range(coords, ivs.drop_front(batchRank));
        return tensor::ExtractOp::create(b, loc, updates, ivs).getResult();
      });
  node.setResult(0, result, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importTensorScatter(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 3)))
    return failure();
  FailureOr<int64_t> axisValue = node.getIntAttr("axis", -2);
  FailureOr<std::string> mode = node.getStringAttr("mode", "linear");
  if (failed(axisValue) || failed(mode))
    return failure();
  if (*mode != "linear" && *mode != "circular")
    return node.emitError() << "unsupported mode '" << *mode << "' (supported: linear, circular)";
  bool circular = *mode == "circular";
  RankedTensorType cacheType = node.getInputType(0);
  RankedTensorType updateType = node.getInputType(1);
  ArrayRef<int64_t> cacheShape = cacheType.getShape();
  ArrayRef<int64_t> updateShape = updateType.getShape();
  int64_t rank = cacheShape.size();
  if (rank < 2 || updateType.getRank() != rank)
    return node.emitError() << "past_cache " << cacheType << " and update " << updateType
                            << " must have the same rank >= 2";
  FailureOr<int64_t> axis = normalizeAxis(node, *axisValue, rank, "axis");
  if (failed(axis))
    return failure();
  if (*axis == 0)
    return node.emitError() << "axis must not be the batch dim 0";
  int64_t maxLength = cacheShape[*axis], length = updateShape[*axis];
  for (int64_t d = 0; d < rank; ++d)
    if (d != *axis && cacheShape[d] != updateShape[d])
      return node.emitError() << "update " << updateType << " must match past_cache "
                              << cacheType << " in every dim but the axis " << *axis;
  if (length > maxLength)
    return node.emitError() << "update " << updateType << " is longer than past_cache "
                            << cacheType << " along the axis " << *axis;
  int32_t dtype = node.getInputDType(0);
  if (node.getInputDType(1) != dtype)
    return node.emitError() << "past_cache and update have different dtypes ('"
                            << getDTypeName(dtype) << "' and '"
                            << getDTypeName(node.getInputDType(1)) << "')";
  bool hasWriteIndices = node.hasInput(2);
  if (hasWriteIndices) {
    RankedTensorType writeType = node.getInputType(2);
    if (!isIndexDType(node.getInputDType(2)) || writeType.getRank() != 1 ||
        writeType.getDimSize(0) != cacheShape[0])
      return node.emitError() << "write_indices must be a 1-D int64 tensor of the batch size "
                              << cacheShape[0] << ", got " << writeType;
  }

  // present[.., s, ..] = update[.., j, ..] with j = s - write_indices[batch] (mod the cache
  // length when circular) when 0 <= j < length, else past[.., s, ..].
  Value update = node.getInput(1);
  Value writeIndices = hasWriteIndices ? node.getInput(2) : Value();
  Value result = buildIndexedGeneric(
      node.getBuilder(), node.getLoc(), {node.getInput(0)},
      {AffineMap::getMultiDimIdentityMap(rank, node.getContext())}, cacheShape,
      cacheType.getElementType(),
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange args) {
        if (length == 0)
          return args[0];
        Value zero = arith::ConstantIndexOp::create(b, loc, 0);
        Value j = ivs[*axis];
        if (writeIndices) {
          Value start = tensor::ExtractOp::create(b, loc, writeIndices, ValueRange{ivs[0]});
          j = arith::SubIOp::create(b, loc, j, castToIndex(b, loc, start));
        }
        if (circular) {
          Value size = arith::ConstantIndexOp::create(b, loc, maxLength);
          Value rem = arith::RemSIOp::create(b, loc, j, size);
          Value isNegative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, rem, zero);
          Value wrapped = arith::AddIOp::create(b, loc, rem, size);
          j = arith::SelectOp::create(b, loc, isNegative, wrapped, rem);
        }
        Value end = arith::ConstantIndexOp::create(b, loc, length);
        Value inWindow = arith::AndIOp::create(
            b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, j, zero),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, j, end));
        Value last = arith::ConstantIndexOp::create(b, loc, length - 1);
        SmallVector<Value> coords(ivs);
        coords[*axis] = arith::MinSIOp::create(b, loc, arith::MaxSIOp::create(b, loc, j, zero),
                                               last);
        Value fresh = tensor::ExtractOp::create(b, loc, update, coords);
        return arith::SelectOp::create(b, loc, inWindow, fresh, args[0]).getResult();
      });
  node.setResult(0, result, dtype);
  return success();
}
