//===- LinearOps.cpp - ONNX MatMul and Gemm -------------------------------===//
//
// A MatMul/Gemm whose B operand is a 2-D float constant becomes `sqz.linear` (the unit of
// compression), with every transpose and scale folded into its constant weight [out, in]:
//   MatMul(x, B[in,out])                 -> sqz.linear(x, Bᵀ)
//   Gemm(A, B, C, alpha, beta, transA/B) -> sqz.linear(A or Aᵀ, alpha·(B or Bᵀ), beta·C)
// (C folds into the bias when it is a constant of shape [], [1], [out] or [1, out]; otherwise
// it is added after the linear with broadcasting). Everything else becomes linalg.matmul,
// linalg.batch_matmul or a broadcasting contraction (see buildOnnxMatmul).
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"
#include "QuantUtils.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::sqz::import;

/// Whether input `index` can be the weight of a sqz.linear: a 2-D float constant.
static bool isLinearWeight(NodeContext &node, unsigned index) {
  const HostTensor *tensor = node.getConstantInput(index);
  return tensor && tensor->shape.size() == 2 && isFloatDType(tensor->dtype) &&
         tensor->dtype == node.getInputDType(0);
}

/// `sqz.linear(input, weight[, bias])` with result shape input.shape[:-1] + [out].
static Value buildLinear(NodeContext &node, Value input, Value weight, Value bias) {
  auto inputType = cast<RankedTensorType>(input.getType());
  auto weightType = cast<RankedTensorType>(weight.getType());
  SmallVector<int64_t> shape(inputType.getShape().drop_back());
  shape.push_back(weightType.getDimSize(0));
  auto resultType = RankedTensorType::get(shape, inputType.getElementType());
  return sqz::LinearOp::create(node.getBuilder(), node.getLoc(), resultType, input, weight, bias,
                               /*sparsity=*/sqz::SparsityAttr())
      .getResult();
}

/// `value * factor` elementwise.
static Value buildScale(NodeContext &node, Value value, double factor) {
  auto type = cast<RankedTensorType>(value.getType());
  return buildElementwise(node.getBuilder(), node.getLoc(), {value}, type.getShape(),
                          type.getElementType(), [&](OpBuilder &b, Location loc, ValueRange args) {
                            Value scale = createScalar(b, loc, type.getElementType(), factor);
                            return arith::MulFOp::create(b, loc, args[0], scale).getResult();
                          });
}

LogicalResult mlir::sqz::import::importMatMul(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (node.getInputDType(1) != dtype)
    return node.emitError() << "operands have different dtypes";
  if (dtype == onnx::TensorProto::BOOL)
    return node.emitError() << "bool tensors are not accepted";
  RankedTensorType lhsType = node.getInputType(0);
  RankedTensorType rhsType = node.getInputType(1);

  if (lhsType.getRank() >= 1 && isLinearWeight(node, 1)) {
    const HostTensor &b = *node.getConstantInput(1);
    if (lhsType.getShape().back() != b.shape[0])
      return node.emitError() << "cannot multiply " << lhsType << " by " << rhsType;
    // A folded DequantizeLinear of constant codes stays quantized (QuantizeOps.cpp).
    if (Value y = buildDequantizedMatMul(node, b)) {
      node.setResult(0, y, dtype);
      return success();
    }
    Value weight = node.createConstant(transposeHostTensor(b, {1, 0}));
    node.setResult(0, buildLinear(node, node.getInput(0), weight, Value()), dtype);
    return success();
  }

  Value result =
      buildOnnxMatmul(node.getBuilder(), node.getLoc(), node.getInput(0), node.getInput(1));
  if (!result)
    return node.emitError() << "cannot multiply " << lhsType << " by " << rhsType;
  node.setResult(0, result, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importGemm(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 3)))
    return failure();
  FailureOr<float> alpha = node.getFloatAttr("alpha", 1.0f);
  FailureOr<float> beta = node.getFloatAttr("beta", 1.0f);
  FailureOr<int64_t> transA = node.getIntAttr("transA", 0);
  FailureOr<int64_t> transB = node.getIntAttr("transB", 0);
  if (failed(alpha) || failed(beta) || failed(transA) || failed(transB))
    return failure();
  int32_t dtype = node.getInputDType(0);
  bool hasC = node.hasInput(2) && *beta != 0.0f;
  for (unsigned i = 1; i < (hasC ? 3u : 2u); ++i)
    if (node.getInputDType(i) != dtype)
      return node.emitError() << "operands have different dtypes";
  bool isFloat = isFloatDType(dtype);
  if (!isFloat && (*alpha != 1.0f || (hasC && *beta != 1.0f)))
    return node.emitError() << "alpha and beta must be 1 for integer Gemm";
  if (dtype == onnx::TensorProto::BOOL)
    return node.emitError() << "bool tensors are not accepted";
  RankedTensorType aType = node.getInputType(0);
  RankedTensorType bType = node.getInputType(1);
  if (aType.getRank() != 2 || bType.getRank() != 2)
    return node.emitError() << "A and B must be matrices, got " << aType << " and " << bType;
  int64_t m = aType.getDimSize(*transA ? 1 : 0);
  int64_t k = aType.getDimSize(*transA ? 0 : 1);
  int64_t n = bType.getDimSize(*transB ? 0 : 1);
  if (bType.getDimSize(*transB ? 1 : 0) != k)
    return node.emitError() << "inner dimensions of A " << aType << " and B " << bType
                            << " differ (transA=" << *transA << ", transB=" << *transB << ")";

  OpBuilder &builder = node.getBuilder();
  Location loc = node.getLoc();
  Value a = node.getInput(0);
  if (*transA)
    a = buildTranspose(builder, loc, a, {1, 0});

  Value result;
  bool addC = hasC;
  if (isLinearWeight(node, 1)) {
    const HostTensor &bTensor = *node.getConstantInput(1);
    Value weight;
    if (*transB && *alpha == 1.0f) {
      weight = node.getInput(1); // already [out, in]: share the initializer's constant
    } else {
      HostTensor w = *transB ? bTensor : transposeHostTensor(bTensor, {1, 0});
      if (*alpha != 1.0f) {
        HostTensor scaled = HostTensor::allocate(w.name, w.dtype, w.shape);
        for (int64_t i = 0, e = w.getNumElements(); i < e; ++i)
          scaled.setDouble(i, *alpha * w.getDouble(i));
        w = std::move(scaled);
      }
      weight = node.createConstant(std::move(w));
    }
    // beta·C folds into the bias when C is a constant that broadcasts to [n].
    Value bias;
    const HostTensor *c = hasC ? node.getConstantInput(2) : nullptr;
    if (c && (c->getNumElements() == 1 || c->getNumElements() == n) &&
        (c->shape.size() <= 1 || (c->shape.size() == 2 && c->shape[0] == 1))) {
      if (c->shape.size() == 1 && c->getNumElements() == n && *beta == 1.0f) {
        bias = node.getInput(2);
      } else {
        HostTensor biasTensor = HostTensor::allocate(c->name, c->dtype, {n});
        for (int64_t i = 0; i < n; ++i)
          biasTensor.setDouble(i, *beta * c->getDouble(c->getNumElements() == 1 ? 0 : i));
        bias = node.createConstant(std::move(biasTensor));
      }
      addC = false;
    }
    result = buildLinear(node, a, weight, bias);
  } else {
    Value b = node.getInput(1);
    if (*transB)
      b = buildTranspose(builder, loc, b, {1, 0});
    result = buildMatmul(builder, loc, a, b);
    if (*alpha != 1.0f)
      result = buildScale(node, result, *alpha);
  }

  if (addC) {
    RankedTensorType cType = node.getInputType(2);
    SmallVector<int64_t> mn = {m, n};
    std::optional<SmallVector<int64_t>> shape = broadcastShapes({mn, cType.getShape()});
    if (!shape || ArrayRef<int64_t>(*shape) != ArrayRef<int64_t>(mn))
      return node.emitError() << "C " << cType << " does not broadcast to [" << m << ", " << n
                              << "]";
    Value c = node.getInput(2);
    if (*beta != 1.0f)
      c = buildScale(node, c, *beta);
    Type elementType = aType.getElementType();
    result = buildElementwise(
        builder, loc, {result, c}, mn, elementType, [&](OpBuilder &b, Location l, ValueRange args) {
          return isFloat ? arith::AddFOp::create(b, l, args[0], args[1]).getResult()
                         : arith::AddIOp::create(b, l, args[0], args[1]).getResult();
        });
  }
  node.setResult(0, result, dtype);
  return success();
}
