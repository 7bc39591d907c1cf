//===- ElementwiseOps.cpp - Elementwise ONNX ops --------------------------===//
//
// Add, Sub, Mul, Div (numpy broadcasting), Relu, Erf and Gelu, each one `linalg.generic` whose
// region holds the arith/math scalar code. Integer Div truncates (signed, or unsigned for uint8).
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;
using namespace mlir::sqz::import;

namespace {
enum class BinaryKind { Add, Sub, Mul, Div };
} // namespace

static Value buildBinaryScalar(OpBuilder &b, Location loc, BinaryKind kind, Value lhs, Value rhs,
                               bool isFloat, bool isUnsigned) {
  switch (kind) {
  case BinaryKind::Add:
    return isFloat ? arith::AddFOp::create(b, loc, lhs, rhs).getResult()
                   : arith::AddIOp::create(b, loc, lhs, rhs).getResult();
  case BinaryKind::Sub:
    return isFloat ? arith::SubFOp::create(b, loc, lhs, rhs).getResult()
                   : arith::SubIOp::create(b, loc, lhs, rhs).getResult();
  case BinaryKind::Mul:
    return isFloat ? arith::MulFOp::create(b, loc, lhs, rhs).getResult()
                   : arith::MulIOp::create(b, loc, lhs, rhs).getResult();
  case BinaryKind::Div:
    if (isFloat)
      return arith::DivFOp::create(b, loc, lhs, rhs);
    return isUnsigned ? arith::DivUIOp::create(b, loc, lhs, rhs).getResult()
                      : arith::DivSIOp::create(b, loc, lhs, rhs).getResult();
  }
  llvm_unreachable("unknown binary kind");
}

static LogicalResult importBinary(NodeContext &node, BinaryKind kind) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (node.getInputDType(1) != dtype)
    return node.emitError() << "operands have different dtypes ('" << getDTypeName(dtype)
                            << "' and '" << getDTypeName(node.getInputDType(1)) << "')";
  if (dtype == onnx::TensorProto::BOOL)
    return node.emitError() << "arithmetic on bool tensors is not defined";
  RankedTensorType lhsType = node.getInputType(0);
  RankedTensorType rhsType = node.getInputType(1);
  std::optional<SmallVector<int64_t>> shape =
      broadcastShapes({lhsType.getShape(), rhsType.getShape()});
  if (!shape)
    return node.emitError() << "operand shapes " << lhsType << " and " << rhsType
                            << " do not broadcast";
  bool isFloat = isFloatDType(dtype);
  bool isUnsigned = isUnsignedDType(dtype);
  Value lhs = node.getInput(0);
  Value rhs = node.getInput(1);
  Value result = buildElementwise(
      node.getBuilder(), node.getLoc(), {lhs, rhs}, *shape, lhsType.getElementType(),
      [&](OpBuilder &b, Location loc, ValueRange args) {
        return buildBinaryScalar(b, loc, kind, args[0], args[1], isFloat, isUnsigned);
      });
  node.setResult(0, result, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importAdd(NodeContext &node) {
  return importBinary(node, BinaryKind::Add);
}
LogicalResult mlir::sqz::import::importSub(NodeContext &node) {
  return importBinary(node, BinaryKind::Sub);
}
LogicalResult mlir::sqz::import::importMul(NodeContext &node) {
  return importBinary(node, BinaryKind::Mul);
}
LogicalResult mlir::sqz::import::importDiv(NodeContext &node) {
  return importBinary(node, BinaryKind::Div);
}

/// A unary elementwise op over input 0 that keeps its shape and dtype.
static LogicalResult importUnary(NodeContext &node, bool floatOnly, ElementwiseBodyFn body) {
  if (failed(node.checkNumInputs(1, 1)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (floatOnly && !isFloatDType(dtype))
    return node.emitError() << "expected a float tensor, got '" << getDTypeName(dtype) << "'";
  if (dtype == onnx::TensorProto::BOOL)
    return node.emitError() << "bool tensors are not accepted";
  RankedTensorType type = node.getInputType(0);
  Value result = buildElementwise(node.getBuilder(), node.getLoc(), {node.getInput(0)},
                                  type.getShape(), type.getElementType(), body);
  node.setResult(0, result, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importRelu(NodeContext &node) {
  bool isUnsigned = node.hasInput(0) && isUnsignedDType(node.getInputDType(0));
  return importUnary(node, /*floatOnly=*/false, [&](OpBuilder &b, Location loc, ValueRange args) {
    Value x = args[0];
    Type type = x.getType();
    Value zero = createScalar(b, loc, type, 0.0);
    if (isa<FloatType>(type))
      return arith::MaximumFOp::create(b, loc, x, zero).getResult();
    if (isUnsigned)
      return x;
    return arith::MaxSIOp::create(b, loc, x, zero).getResult();
  });
}

LogicalResult mlir::sqz::import::importErf(NodeContext &node) {
  return importUnary(node, /*floatOnly=*/true, [](OpBuilder &b, Location loc, ValueRange args) {
    return math::ErfOp::create(b, loc, args[0]).getResult();
  });
}

LogicalResult mlir::sqz::import::importGelu(NodeContext &node) {
  FailureOr<std::string> approximate = node.getStringAttr("approximate", "none");
  if (failed(approximate))
    return failure();
  bool useTanh = *approximate == "tanh";
  if (!useTanh && *approximate != "none")
    return node.emitError() << "attribute 'approximate' must be 'none' or 'tanh', got '"
                            << *approximate << "'";
  return importUnary(node, /*floatOnly=*/true, [&](OpBuilder &b, Location loc, ValueRange args) {
    Value x = args[0];
    Type type = x.getType();
    auto constant = [&](double value) { return createScalar(b, loc, type, value); };
    Value inner;
    if (useTanh) {
      // tanh(sqrt(2/pi) * (x + 0.044715 * x^3))
      Value x3 = arith::MulFOp::create(b, loc, x, arith::MulFOp::create(b, loc, x, x).getResult());
      Value poly = arith::AddFOp::create(
          b, loc, x, arith::MulFOp::create(b, loc, constant(0.044715), x3).getResult());
      inner = math::TanhOp::create(
          b, loc, arith::MulFOp::create(b, loc, constant(std::sqrt(2.0 / M_PI)), poly).getResult());
    } else {
      // erf(x / sqrt(2))
      inner = math::ErfOp::create(
          b, loc, arith::MulFOp::create(b, loc, x, constant(M_SQRT1_2)).getResult());
    }
    // 0.5 * x * (1 + inner)
    Value onePlus = arith::AddFOp::create(b, loc, constant(1.0), inner);
    Value halfX = arith::MulFOp::create(b, loc, constant(0.5), x);
    return arith::MulFOp::create(b, loc, halfX, onePlus).getResult();
  });
}
