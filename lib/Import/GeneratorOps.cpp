//===- GeneratorOps.cpp - ONNX OneHot and EyeLike -------------------------===//
//
// Ops that generate a tensor from its indices. OneHot compares each output position's index
// along `axis` with the (run-time) index there, in one `linalg.generic`; its `depth` must be
// an import-time constant, since it is an output dim. EyeLike only depends on its input's
// shape: it folds to a constant (a `linalg.generic` on the loop indices when too big to fold).
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"
#include "ShapeUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::sqz::import;

LogicalResult mlir::sqz::import::importOneHot(NodeContext &node) {
  if (failed(node.checkNumInputs(3, 3)))
    return failure();
  FailureOr<int64_t> axisAttr = node.getIntAttr("axis", -1);
  if (failed(axisAttr))
    return failure();
  int32_t indicesDType = node.getInputDType(0);
  if (indicesDType == onnx::TensorProto::BOOL)
    return node.emitError() << "indices must be numeric, got 'bool'";
  const HostTensor *depthTensor = node.getConstantInput(1);
  if (!depthTensor)
    return node.emitError() << "depth must be an import-time constant (it is an output dim)";
  if (depthTensor->getNumElements() != 1)
    return node.emitError() << "depth must hold one value, got " << depthTensor->getNumElements();
  // A non-integer depth is cast to int64 (truncated).
  int64_t depth = isFloatDType(depthTensor->dtype) ? int64_t(depthTensor->getDouble(0))
                                                   : depthTensor->getInt(0);
  if (depth <= 0)
    return node.emitError() << "depth must be positive, got " << depth;
  RankedTensorType valuesType = node.getInputType(2);
  if (valuesType.getRank() != 1 || valuesType.getDimSize(0) != 2)
    return node.emitError() << "values must be [off_value, on_value], got " << valuesType;
  RankedTensorType indicesType = node.getInputType(0);
  int64_t rank = indicesType.getRank() + 1;
  FailureOr<int64_t> axis = normalizeAxis(node, *axisAttr, rank, "axis");
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(indicesType.getShape());
  shape.insert(shape.begin() + *axis, depth);

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  MLIRContext *context = b.getContext();
  Value values = node.getInput(2);
  Value off = tensor::ExtractOp::create(b, loc, values,
                                        ValueRange{arith::ConstantIndexOp::create(b, loc, 0)});
  Value on = tensor::ExtractOp::create(b, loc, values,
                                       ValueRange{arith::ConstantIndexOp::create(b, loc, 1)});
  SmallVector<AffineExpr> indicesDims;
  for (int64_t d = 0; d < rank; ++d)
    if (d != *axis)
      indicesDims.push_back(getAffineDimExpr(d, context));
  AffineMap indicesMap = AffineMap::get(rank, 0, indicesDims, context);
  bool isFloat = isFloatDType(indicesDType);
  bool isUnsigned = isUnsignedDType(indicesDType);
  Value result = buildIndexedGeneric(
      b, loc, {node.getInput(0)}, {indicesMap}, shape, valuesType.getElementType(),
      [&](OpBuilder &nb, Location nl, ValueRange indices, ValueRange args) {
        // The index as i64 (floats truncated); negative ones count from the end. Indices
        // outside [-depth, depth) match no position and give all off_value.
        Type i64 = nb.getI64Type();
        Value index = args[0];
        if (isFloat)
          index = arith::FPToSIOp::create(nb, nl, i64, index);
        else if (index.getType().getIntOrFloatBitWidth() < 64)
          index = isUnsigned ? arith::ExtUIOp::create(nb, nl, i64, index).getResult()
                             : arith::ExtSIOp::create(nb, nl, i64, index).getResult();
        Value zero = arith::ConstantIntOp::create(nb, nl, i64, 0);
        Value depthValue = arith::ConstantIntOp::create(nb, nl, i64, depth);
        Value isNegative = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::slt, index, zero);
        Value wrapped = arith::AddIOp::create(nb, nl, index, depthValue);
        index = arith::SelectOp::create(nb, nl, isNegative, wrapped, index);
        Value position = arith::IndexCastOp::create(nb, nl, i64, indices[*axis]);
        Value match = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, index, position);
        return arith::SelectOp::create(nb, nl, match, on, off).getResult();
      });
  node.setResult(0, result, node.getInputDType(2));
  return success();
}

LogicalResult mlir::sqz::import::importEyeLike(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  FailureOr<int64_t> k = node.getIntAttr("k", 0);
  if (failed(k))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (node.getAttr("dtype")) {
    FailureOr<int64_t> dtypeAttr = node.getIntAttr("dtype", 0);
    if (failed(dtypeAttr))
      return failure();
    dtype = int32_t(*dtypeAttr);
  }
  Type elementType = getElementType(node.getContext(), dtype);
  if (!elementType)
    return node.emitError() << "dtype " << dtype << " is not supported";
  RankedTensorType type = node.getInputType(0);
  if (type.getRank() != 2)
    return node.emitError() << "the input must be 2-D, got " << type;
  ArrayRef<int64_t> shape = type.getShape();

  if (getShapeNumElements(shape) <= kMaxFoldElements) {
    HostTensor result = HostTensor::allocate("", dtype, shape);
    for (int64_t row = 0; row < shape[0]; ++row)
      if (int64_t col = row + *k; col >= 0 && col < shape[1])
        result.setDouble(row * shape[1] + col, 1.0);
    node.setConstantResult(0, std::move(result));
    return success();
  }
  Value result = buildIndexedGeneric(
      node.getBuilder(), node.getLoc(), {}, {}, shape, elementType,
      [&](OpBuilder &b, Location loc, ValueRange indices, ValueRange) {
        Value diff = arith::SubIOp::create(b, loc, indices[1], indices[0]);
        Value onDiagonal = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, diff,
                                                 arith::ConstantIndexOp::create(b, loc, *k));
        return arith::SelectOp::create(b, loc, onDiagonal, createScalar(b, loc, elementType, 1.0),
                                       createScalar(b, loc, elementType, 0.0))
            .getResult();
      });
  node.setResult(0, result, dtype);
  return success();
}
