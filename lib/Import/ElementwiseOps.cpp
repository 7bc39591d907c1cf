//===- ElementwiseOps.cpp - Elementwise ONNX ops --------------------------===//
//
// The generic elementwise import (`importElementwiseOp`, ElementwiseCommon.h: dtype checks,
// numpy broadcasting, host folding of constant operands, one `linalg.generic`), and with it
// Add, Sub, Mul, Div, Relu, Erf and Gelu. Integer Div truncates (signed, or unsigned for
// uint8). Erf and Gelu compute f16 in f32.
//
//===----------------------------------------------------------------------===//

#include "ElementwiseCommon.h"
#include "ImportBuilders.h"
#include "Ops.h"
#include "SmallFloats.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::sqz::import;

//===----------------------------------------------------------------------===//
// The generic elementwise import (ElementwiseCommon.h)
//===----------------------------------------------------------------------===//

/// Constant operands are folded on the host up to this many result elements (shape arithmetic
/// and small tables; larger constant expressions are left to the compiled code).
static constexpr int64_t kMaxFoldElements = int64_t(1) << 20;

static bool isAccepted(unsigned accepted, int32_t dtype) {
  if (dtype == onnx::TensorProto::BOOL)
    return accepted & kBoolDType;
  if (isFloatDType(dtype) || dtype == onnx::TensorProto::BFLOAT16)
    return accepted & kFloatDTypes;
  if (isBitPatternFloatDType(dtype) || isSubByteIntDType(dtype))
    return false; // only Cast, Q/DQ and data movement take float8/float4/int4/int2
  if (isUnsignedDType(dtype))
    return accepted & kUnsignedDTypes;
  return accepted & kSignedDTypes;
}

std::optional<HostTensor>
mlir::sqz::import::foldBroadcast(ArrayRef<const HostTensor *> operands, int32_t resultDType,
                                 function_ref<void(HostTensor &, int64_t, ArrayRef<int64_t>)> eval) {
  SmallVector<ArrayRef<int64_t>> shapes;
  for (const HostTensor *operand : operands)
    shapes.push_back(operand->shape);
  std::optional<SmallVector<int64_t>> shape = broadcastShapes(shapes);
  if (!shape)
    return std::nullopt;
  HostTensor result = HostTensor::allocate("", resultDType, *shape);
  int64_t rank = shape->size();
  // Per operand, the stride of each result dim (0 where the operand broadcasts).
  SmallVector<SmallVector<int64_t>> strides;
  for (const HostTensor *operand : operands) {
    SmallVector<int64_t> operandStrides(rank, 0);
    int64_t stride = 1;
    int64_t offset = rank - static_cast<int64_t>(operand->shape.size());
    for (int64_t d = static_cast<int64_t>(operand->shape.size()) - 1; d >= 0; --d) {
      if (operand->shape[d] != 1)
        operandStrides[offset + d] = stride;
      stride *= operand->shape[d];
    }
    strides.push_back(std::move(operandStrides));
  }
  SmallVector<int64_t> index(rank, 0);
  SmallVector<int64_t> operandIndex(operands.size(), 0);
  for (int64_t i = 0, e = result.getNumElements(); i < e; ++i) {
    std::fill(operandIndex.begin(), operandIndex.end(), 0);
    for (int64_t d = 0; d < rank; ++d)
      for (size_t k = 0; k < operands.size(); ++k)
        operandIndex[k] += index[d] * strides[k][d];
    eval(result, i, operandIndex);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++index[d] < (*shape)[d])
        break;
      index[d] = 0;
    }
  }
  return result;
}

LogicalResult mlir::sqz::import::importElementwiseOp(NodeContext &node,
                                                     const ElementwiseSpec &spec) {
  if (failed(node.checkNumInputs(spec.minInputs, spec.maxInputs)))
    return failure();
  SmallVector<unsigned> present;
  for (unsigned i = 0, e = node.getNumInputs(); i < e; ++i)
    if (node.hasInput(i))
      present.push_back(i);
  int32_t dtype = node.getInputDType(0);
  if (!isAccepted(spec.accepted, dtype))
    return node.emitError() << "operand dtype '" << getDTypeName(dtype) << "' is not supported";
  if (spec.sameDType)
    for (unsigned i : present)
      if (node.getInputDType(i) != dtype)
        return node.emitError() << "operands have different dtypes ('" << getDTypeName(dtype)
                                << "' and '" << getDTypeName(node.getInputDType(i)) << "')";
  SmallVector<RankedTensorType> types;
  SmallVector<ArrayRef<int64_t>> shapes;
  for (unsigned i : present)
    types.push_back(node.getInputType(i));
  for (RankedTensorType type : types)
    shapes.push_back(type.getShape());
  std::optional<SmallVector<int64_t>> shape = broadcastShapes(shapes);
  if (!shape) {
    InFlightDiagnostic diag = node.emitError() << "operand shapes ";
    llvm::interleave(types, diag, [&](RankedTensorType type) { diag << type; }, " and ");
    return diag << " do not broadcast";
  }
  int32_t resultDType = spec.boolResult ? int32_t(onnx::TensorProto::BOOL) : dtype;
  bool isBF16 = dtype == onnx::TensorProto::BFLOAT16;
  bool isFloat = isFloatDType(dtype) || isBF16;

  // Host folding.
  SmallVector<const HostTensor *> constants;
  for (unsigned i : present)
    constants.push_back(node.getConstantInput(i));
  int64_t numElements = 1;
  for (int64_t dim : *shape)
    numElements *= dim;
  // (uint64 values above INT64_MAX would not fold right through the int64 host functions.)
  bool canFold = isFloat ? bool(spec.foldFloat)
                         : bool(spec.foldInt) && dtype != onnx::TensorProto::UINT64;
  if (canFold && numElements <= kMaxFoldElements && llvm::all_of(constants, [](auto *c) {
        return c != nullptr;
      })) {
    SmallVector<double> floats(constants.size());
    SmallVector<int64_t> ints(constants.size());
    std::optional<HostTensor> folded = foldBroadcast(
        constants, resultDType, [&](HostTensor &result, int64_t i, ArrayRef<int64_t> at) {
          if (isFloat) {
            for (auto [k, c] : llvm::enumerate(constants))
              floats[k] = c->getDouble(at[k]);
            result.setDouble(i, spec.foldFloat(floats));
          } else {
            for (auto [k, c] : llvm::enumerate(constants))
              ints[k] = c->getInt(at[k]);
            result.setInt(i, spec.foldInt(ints));
          }
        });
    if (folded) {
      node.setConstantResult(0, std::move(*folded));
      return success();
    }
  }

  OpBuilder &b = node.getBuilder();
  Type elementType = types.front().getElementType();
  // bfloat16 always computes in f32 (converted with integer bit operations, SmallFloats.h).
  std::optional<SmallFloatFormat> bf16Format;
  if (isBF16)
    bf16Format = getSmallFloatFormat(dtype);
  bool widen = (spec.f16InF32 && elementType.isF16()) || isBF16;
  ScalarInfo info{widen ? Type(b.getF32Type()) : elementType, isFloat, isUnsignedDType(dtype)};
  Type resultType = spec.boolResult ? Type(b.getI1Type()) : elementType;
  SmallVector<Value> inputs;
  for (unsigned i : present)
    if (inputs.size() < spec.numIROperands)
      inputs.push_back(node.getInput(i));
  Value result = buildElementwise(
      b, node.getLoc(), inputs, *shape, resultType,
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        SmallVector<Value> operands(args.begin(), args.end());
        if (widen)
          for (Value &operand : operands) {
            if (operand.getType().isF16())
              operand = arith::ExtFOp::create(nb, loc, nb.getF32Type(), operand);
            else if (operand.getType().isBF16())
              operand = buildSmallFloatToF32(nb, loc, *bf16Format, operand);
          }
        Value value = spec.build(nb, loc, operands, info);
        if (widen && !spec.boolResult)
          value = isBF16 ? buildF32ToSmallFloat(nb, loc, *bf16Format, value, /*saturate=*/false)
                         : arith::TruncFOp::create(nb, loc, elementType, value).getResult();
        return value;
      });
  node.setResult(0, result, resultDType);
  return success();
}

//===----------------------------------------------------------------------===//
// Add, Sub, Mul, Div
//===----------------------------------------------------------------------===//

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
  ElementwiseSpec spec;
  spec.minInputs = spec.maxInputs = 2;
  spec.accepted = kNumericDTypes;
  spec.build = [&](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &info) {
    return buildBinaryScalar(b, loc, kind, args[0], args[1], info.isFloat, info.isUnsigned);
  };
  spec.foldFloat = [&](ArrayRef<double> v) {
    switch (kind) {
    case BinaryKind::Add:
      return v[0] + v[1];
    case BinaryKind::Sub:
      return v[0] - v[1];
    case BinaryKind::Mul:
      return v[0] * v[1];
    case BinaryKind::Div:
      return v[0] / v[1];
    }
    llvm_unreachable("unknown binary kind");
  };
  // Integer folding wraps like the compiled code (two's complement); x / 0 folds to 0.
  spec.foldInt = [&](ArrayRef<int64_t> v) -> int64_t {
    uint64_t a = static_cast<uint64_t>(v[0]), c = static_cast<uint64_t>(v[1]);
    switch (kind) {
    case BinaryKind::Add:
      return static_cast<int64_t>(a + c);
    case BinaryKind::Sub:
      return static_cast<int64_t>(a - c);
    case BinaryKind::Mul:
      return static_cast<int64_t>(a * c);
    case BinaryKind::Div:
      if (v[1] == 0 || (v[1] == -1 && v[0] == std::numeric_limits<int64_t>::min()))
        return 0;
      return v[0] / v[1];
    }
    llvm_unreachable("unknown binary kind");
  };
  return importElementwiseOp(node, spec);
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

//===----------------------------------------------------------------------===//
// Relu, Erf, Gelu
//===----------------------------------------------------------------------===//

LogicalResult mlir::sqz::import::importRelu(NodeContext &node) {
  ElementwiseSpec spec;
  spec.accepted = kNumericDTypes;
  spec.build = [](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &info) -> Value {
    Value x = args[0];
    Value zero = createScalar(b, loc, info.type, 0.0);
    if (info.isFloat)
      return arith::MaximumFOp::create(b, loc, x, zero);
    if (info.isUnsigned)
      return x;
    return arith::MaxSIOp::create(b, loc, x, zero);
  };
  spec.foldFloat = [](ArrayRef<double> v) { return v[0] > 0 ? v[0] : 0.0; };
  spec.foldInt = [](ArrayRef<int64_t> v) { return v[0] > 0 ? v[0] : int64_t(0); };
  return importElementwiseOp(node, spec);
}

LogicalResult mlir::sqz::import::importErf(NodeContext &node) {
  ElementwiseSpec spec;
  spec.accepted = kFloatDTypes;
  spec.f16InF32 = true;
  spec.build = [](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &) -> Value {
    return math::ErfOp::create(b, loc, args[0]);
  };
  spec.foldFloat = [](ArrayRef<double> v) { return std::erf(v[0]); };
  return importElementwiseOp(node, spec);
}

Value mlir::sqz::import::buildGeluScalar(OpBuilder &b, Location loc, Value x, bool useTanh) {
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
}

LogicalResult mlir::sqz::import::importGelu(NodeContext &node) {
  FailureOr<std::string> approximate = node.getStringAttr("approximate", "none");
  if (failed(approximate))
    return failure();
  bool useTanh = *approximate == "tanh";
  if (!useTanh && *approximate != "none")
    return node.emitError() << "attribute 'approximate' must be 'none' or 'tanh', got '"
                            << *approximate << "'";
  ElementwiseSpec spec;
  spec.accepted = kFloatDTypes;
  spec.f16InF32 = true;
  spec.build = [=](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &) {
    return buildGeluScalar(b, loc, args[0], useTanh);
  };
  spec.foldFloat = [=](ArrayRef<double> v) {
    double x = v[0];
    double inner = useTanh ? std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))
                           : std::erf(x * M_SQRT1_2);
    return 0.5 * x * (1.0 + inner);
  };
  return importElementwiseOp(node, spec);
}
