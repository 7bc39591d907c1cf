//===- MathOps.cpp - Math, comparison and logical ONNX ops ----------------===//
//
// Unary math (Sqrt, Exp, Tanh, Sigmoid, ...), Pow, Mod, the variadic Min/Max/Sum/Mean, Clip,
// comparisons and logical ops. Each is one `linalg.generic` built by `importElementwiseOp`
// (numpy broadcasting, host folding of constant operands): this file only describes the scalar
// body and its host evaluation. Transcendental float ops compute f16 in f32.
//
//===----------------------------------------------------------------------===//

#include "ElementwiseCommon.h"
#include "ImportBuilders.h"
#include "Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::sqz::import;

static Value constant(OpBuilder &b, Location loc, Type type, double value) {
  return createScalar(b, loc, type, value);
}

//===----------------------------------------------------------------------===//
// Unary float ops
//===----------------------------------------------------------------------===//

using UnaryBuildFn = std::function<Value(OpBuilder &, Location, Value)>;
using UnaryHostFn = std::function<double(double)>;

/// A unary op on float tensors, computed in f32 for f16 inputs.
static LogicalResult importUnaryFloat(NodeContext &node, UnaryBuildFn build, UnaryHostFn host) {
  ElementwiseSpec spec;
  spec.accepted = kFloatDTypes;
  spec.f16InF32 = true;
  spec.build = [&](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &) {
    return build(b, loc, args[0]);
  };
  spec.foldFloat = [&](ArrayRef<double> v) { return host(v[0]); };
  return importElementwiseOp(node, spec);
}

static double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

/// 1 / (1 + exp(-x)).
static Value buildSigmoid(OpBuilder &b, Location loc, Value x) {
  Type type = x.getType();
  Value one = constant(b, loc, type, 1.0);
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, one, arith::AddFOp::create(b, loc, one, e));
}

LogicalResult mlir::sqz::import::importSqrt(NodeContext &node) {
  return importUnaryFloat(
      node, [](OpBuilder &b, Location loc, Value x) { return math::SqrtOp::create(b, loc, x); },
      [](double x) { return std::sqrt(x); });
}

LogicalResult mlir::sqz::import::importReciprocal(NodeContext &node) {
  return importUnaryFloat(
      node,
      [](OpBuilder &b, Location loc, Value x) {
        return arith::DivFOp::create(b, loc, constant(b, loc, x.getType(), 1.0), x);
      },
      [](double x) { return 1.0 / x; });
}

LogicalResult mlir::sqz::import::importExp(NodeContext &node) {
  return importUnaryFloat(
      node, [](OpBuilder &b, Location loc, Value x) { return math::ExpOp::create(b, loc, x); },
      [](double x) { return std::exp(x); });
}

LogicalResult mlir::sqz::import::importLog(NodeContext &node) {
  return importUnaryFloat(
      node, [](OpBuilder &b, Location loc, Value x) { return math::LogOp::create(b, loc, x); },
      [](double x) { return std::log(x); });
}

LogicalResult mlir::sqz::import::importTanh(NodeContext &node) {
  return importUnaryFloat(
      node, [](OpBuilder &b, Location loc, Value x) { return math::TanhOp::create(b, loc, x); },
      [](double x) { return std::tanh(x); });
}

LogicalResult mlir::sqz::import::importSigmoid(NodeContext &node) {
  return importUnaryFloat(node, buildSigmoid, sigmoid);
}

LogicalResult mlir::sqz::import::importFloor(NodeContext &node) {
  return importUnaryFloat(
      node, [](OpBuilder &b, Location loc, Value x) { return math::FloorOp::create(b, loc, x); },
      [](double x) { return std::floor(x); });
}

LogicalResult mlir::sqz::import::importCeil(NodeContext &node) {
  return importUnaryFloat(
      node, [](OpBuilder &b, Location loc, Value x) { return math::CeilOp::create(b, loc, x); },
      [](double x) { return std::ceil(x); });
}

LogicalResult mlir::sqz::import::importRound(NodeContext &node) {
  // Round half to even.
  return importUnaryFloat(
      node,
      [](OpBuilder &b, Location loc, Value x) { return math::RoundEvenOp::create(b, loc, x); },
      [](double x) { return std::nearbyint(x); });
}

LogicalResult mlir::sqz::import::importSin(NodeContext &node) {
  return importUnaryFloat(
      node, [](OpBuilder &b, Location loc, Value x) { return math::SinOp::create(b, loc, x); },
      [](double x) { return std::sin(x); });
}

LogicalResult mlir::sqz::import::importCos(NodeContext &node) {
  return importUnaryFloat(
      node, [](OpBuilder &b, Location loc, Value x) { return math::CosOp::create(b, loc, x); },
      [](double x) { return std::cos(x); });
}

/// The inverse and hyperbolic trigonometric functions (CPU: libm calls).
#define SQZ_UNARY_MATH(Name, MathOp, HostFn)                                                     \
  LogicalResult mlir::sqz::import::import##Name(NodeContext &node) {                             \
    return importUnaryFloat(                                                                     \
        node, [](OpBuilder &b, Location loc, Value x) { return math::MathOp::create(b, loc, x); }, \
        [](double x) { return HostFn(x); });                                                     \
  }
SQZ_UNARY_MATH(Tan, TanOp, std::tan)
SQZ_UNARY_MATH(Asin, AsinOp, std::asin)
SQZ_UNARY_MATH(Acos, AcosOp, std::acos)
SQZ_UNARY_MATH(Atan, AtanOp, std::atan)
SQZ_UNARY_MATH(Sinh, SinhOp, std::sinh)
SQZ_UNARY_MATH(Cosh, CoshOp, std::cosh)
SQZ_UNARY_MATH(Asinh, AsinhOp, std::asinh)
SQZ_UNARY_MATH(Acosh, AcoshOp, std::acosh)
SQZ_UNARY_MATH(Atanh, AtanhOp, std::atanh)
#undef SQZ_UNARY_MATH

LogicalResult mlir::sqz::import::importCelu(NodeContext &node) {
  FailureOr<float> alphaAttr = node.getFloatAttr("alpha", 1.0f);
  if (failed(alphaAttr))
    return failure();
  double alpha = *alphaAttr;
  // max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
  return importUnaryFloat(
      node,
      [=](OpBuilder &b, Location loc, Value x) {
        Type type = x.getType();
        Value zero = constant(b, loc, type, 0.0);
        Value a = constant(b, loc, type, alpha);
        Value em1 = math::ExpM1Op::create(b, loc, arith::DivFOp::create(b, loc, x, a));
        Value negative =
            arith::MinimumFOp::create(b, loc, zero, arith::MulFOp::create(b, loc, a, em1));
        return arith::AddFOp::create(b, loc, arith::MaximumFOp::create(b, loc, zero, x),
                                     negative);
      },
      [=](double x) { return std::max(0.0, x) + std::min(0.0, alpha * std::expm1(x / alpha)); });
}

LogicalResult mlir::sqz::import::importShrink(NodeContext &node) {
  FailureOr<float> biasAttr = node.getFloatAttr("bias", 0.0f);
  FailureOr<float> lambdAttr = node.getFloatAttr("lambd", 0.5f);
  if (failed(biasAttr) || failed(lambdAttr))
    return failure();
  double bias = *biasAttr, lambd = *lambdAttr;
  // x < -lambd ? x + bias : x > lambd ? x - bias : 0
  return importUnaryFloat(
      node,
      [=](OpBuilder &b, Location loc, Value x) {
        Type type = x.getType();
        Value below = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x,
                                            constant(b, loc, type, -lambd));
        Value above = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x,
                                            constant(b, loc, type, lambd));
        Value b1 = constant(b, loc, type, bias);
        Value inner = arith::SelectOp::create(b, loc, above, arith::SubFOp::create(b, loc, x, b1),
                                              constant(b, loc, type, 0.0));
        return arith::SelectOp::create(b, loc, below, arith::AddFOp::create(b, loc, x, b1),
                                       inner);
      },
      [=](double x) { return x < -lambd ? x + bias : x > lambd ? x - bias : 0.0; });
}

/// IsNaN, IsInf (with detect_negative / detect_positive): float -> bool.
static LogicalResult importFloatClass(NodeContext &node, bool isNaN) {
  bool negative = true, positive = true;
  if (!isNaN) {
    FailureOr<int64_t> neg = node.getIntAttr("detect_negative", 1);
    FailureOr<int64_t> pos = node.getIntAttr("detect_positive", 1);
    if (failed(neg) || failed(pos))
      return failure();
    negative = *neg != 0;
    positive = *pos != 0;
  }
  ElementwiseSpec spec;
  spec.accepted = kFloatDTypes;
  spec.boolResult = true;
  spec.build = [=](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &info) -> Value {
    Value x = args[0];
    if (isNaN)
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, x, x);
    double inf = std::numeric_limits<double>::infinity();
    Value isPos = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x,
                                        constant(b, loc, info.type, inf));
    Value isNeg = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x,
                                        constant(b, loc, info.type, -inf));
    if (positive && negative)
      return arith::OrIOp::create(b, loc, isPos, isNeg);
    if (positive)
      return isPos;
    if (negative)
      return isNeg;
    return constant(b, loc, b.getI1Type(), 0);
  };
  spec.foldFloat = [=](ArrayRef<double> v) -> double {
    if (isNaN)
      return std::isnan(v[0]);
    return std::isinf(v[0]) && ((v[0] > 0 && positive) || (v[0] < 0 && negative));
  };
  return importElementwiseOp(node, spec);
}

LogicalResult mlir::sqz::import::importIsNaN(NodeContext &node) {
  return importFloatClass(node, /*isNaN=*/true);
}
LogicalResult mlir::sqz::import::importIsInf(NodeContext &node) {
  return importFloatClass(node, /*isNaN=*/false);
}

LogicalResult mlir::sqz::import::importSoftplus(NodeContext &node) {
  // log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), which does not overflow.
  return importUnaryFloat(
      node,
      [](OpBuilder &b, Location loc, Value x) {
        Value zero = constant(b, loc, x.getType(), 0.0);
        Value negAbs = arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, x));
        Value tail = math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, negAbs));
        return arith::AddFOp::create(b, loc, arith::MaximumFOp::create(b, loc, x, zero), tail);
      },
      [](double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); });
}

LogicalResult mlir::sqz::import::importSoftsign(NodeContext &node) {
  return importUnaryFloat(
      node,
      [](OpBuilder &b, Location loc, Value x) {
        Value one = constant(b, loc, x.getType(), 1.0);
        Value denom = arith::AddFOp::create(b, loc, one, math::AbsFOp::create(b, loc, x));
        return arith::DivFOp::create(b, loc, x, denom);
      },
      [](double x) { return x / (1.0 + std::fabs(x)); });
}

/// x < 0 ? f(x) : g(x).
static Value selectNegative(OpBuilder &b, Location loc, Value x, Value ifNegative,
                            Value otherwise) {
  Value zero = constant(b, loc, x.getType(), 0.0);
  Value isNegative = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, zero);
  return arith::SelectOp::create(b, loc, isNegative, ifNegative, otherwise);
}

LogicalResult mlir::sqz::import::importLeakyRelu(NodeContext &node) {
  FailureOr<float> alpha = node.getFloatAttr("alpha", 0.01f);
  if (failed(alpha))
    return failure();
  double a = *alpha;
  return importUnaryFloat(
      node,
      [&](OpBuilder &b, Location loc, Value x) {
        Value scaled = arith::MulFOp::create(b, loc, constant(b, loc, x.getType(), a), x);
        return selectNegative(b, loc, x, scaled, x);
      },
      [&](double x) { return x < 0 ? a * x : x; });
}

/// Elu (gamma = 1) and Selu: gamma * (x < 0 ? alpha * (exp(x) - 1) : x).
static LogicalResult importEluLike(NodeContext &node, double defaultAlpha, double defaultGamma,
                                   bool hasGamma) {
  FailureOr<float> alphaAttr = node.getFloatAttr("alpha", static_cast<float>(defaultAlpha));
  if (failed(alphaAttr))
    return failure();
  double alpha = node.getAttr("alpha") ? double(*alphaAttr) : defaultAlpha;
  double gamma = defaultGamma;
  if (hasGamma) {
    FailureOr<float> gammaAttr = node.getFloatAttr("gamma", static_cast<float>(defaultGamma));
    if (failed(gammaAttr))
      return failure();
    if (node.getAttr("gamma"))
      gamma = *gammaAttr;
  }
  return importUnaryFloat(
      node,
      [&](OpBuilder &b, Location loc, Value x) {
        Type type = x.getType();
        Value em1 = math::ExpM1Op::create(b, loc, x);
        Value negative = arith::MulFOp::create(b, loc, constant(b, loc, type, alpha), em1);
        Value y = selectNegative(b, loc, x, negative, x);
        if (gamma != 1.0)
          y = arith::MulFOp::create(b, loc, constant(b, loc, type, gamma), y);
        return y;
      },
      [&](double x) { return gamma * (x < 0 ? alpha * std::expm1(x) : x); });
}

LogicalResult mlir::sqz::import::importElu(NodeContext &node) {
  return importEluLike(node, 1.0, 1.0, /*hasGamma=*/false);
}

LogicalResult mlir::sqz::import::importSelu(NodeContext &node) {
  return importEluLike(node, 1.67326319217681884765625, 1.05070102214813232421875,
                       /*hasGamma=*/true);
}

/// max(0, min(1, alpha * x + beta)), times x for HardSwish.
static LogicalResult importHardSigmoidLike(NodeContext &node, double alpha, double beta,
                                           bool timesX) {
  return importUnaryFloat(
      node,
      [=](OpBuilder &b, Location loc, Value x) {
        Type type = x.getType();
        Value lin = arith::AddFOp::create(
            b, loc, arith::MulFOp::create(b, loc, constant(b, loc, type, alpha), x),
            constant(b, loc, type, beta));
        Value clipped = arith::MaximumFOp::create(
            b, loc, constant(b, loc, type, 0.0),
            arith::MinimumFOp::create(b, loc, constant(b, loc, type, 1.0), lin));
        return timesX ? arith::MulFOp::create(b, loc, x, clipped).getResult() : clipped;
      },
      [=](double x) {
        double h = std::max(0.0, std::min(1.0, alpha * x + beta));
        return timesX ? x * h : h;
      });
}

LogicalResult mlir::sqz::import::importHardSigmoid(NodeContext &node) {
  FailureOr<float> alpha = node.getFloatAttr("alpha", 0.2f);
  FailureOr<float> beta = node.getFloatAttr("beta", 0.5f);
  if (failed(alpha) || failed(beta))
    return failure();
  return importHardSigmoidLike(node, *alpha, *beta, /*timesX=*/false);
}

LogicalResult mlir::sqz::import::importHardSwish(NodeContext &node) {
  return importHardSigmoidLike(node, 1.0 / 6.0, 0.5, /*timesX=*/true);
}

LogicalResult mlir::sqz::import::importThresholdedRelu(NodeContext &node) {
  FailureOr<float> alphaAttr = node.getFloatAttr("alpha", 1.0f);
  if (failed(alphaAttr))
    return failure();
  double alpha = *alphaAttr;
  return importUnaryFloat(
      node,
      [=](OpBuilder &b, Location loc, Value x) {
        Type type = x.getType();
        Value above = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x,
                                            constant(b, loc, type, alpha));
        return arith::SelectOp::create(b, loc, above, x, constant(b, loc, type, 0.0));
      },
      [=](double x) { return x > alpha ? x : 0.0; });
}

//===----------------------------------------------------------------------===//
// Unary numeric ops: Neg, Abs, Sign; Not
//===----------------------------------------------------------------------===//

LogicalResult mlir::sqz::import::importNeg(NodeContext &node) {
  ElementwiseSpec spec;
  spec.accepted = kFloatDTypes | kSignedDTypes;
  spec.build = [](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &info) -> Value {
    if (info.isFloat)
      return arith::NegFOp::create(b, loc, args[0]);
    return arith::SubIOp::create(b, loc, constant(b, loc, info.type, 0), args[0]);
  };
  spec.foldFloat = [](ArrayRef<double> v) { return -v[0]; };
  spec.foldInt = [](ArrayRef<int64_t> v) {
    return static_cast<int64_t>(0 - static_cast<uint64_t>(v[0]));
  };
  return importElementwiseOp(node, spec);
}

LogicalResult mlir::sqz::import::importAbs(NodeContext &node) {
  ElementwiseSpec spec;
  spec.accepted = kNumericDTypes;
  spec.build = [](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &info) -> Value {
    Value x = args[0];
    if (info.isFloat)
      return math::AbsFOp::create(b, loc, x);
    if (info.isUnsigned)
      return x;
    Value zero = constant(b, loc, info.type, 0);
    Value negative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, zero);
    return arith::SelectOp::create(b, loc, negative, arith::SubIOp::create(b, loc, zero, x), x);
  };
  spec.foldFloat = [](ArrayRef<double> v) { return std::fabs(v[0]); };
  spec.foldInt = [](ArrayRef<int64_t> v) {
    return v[0] < 0 ? static_cast<int64_t>(0 - static_cast<uint64_t>(v[0])) : v[0];
  };
  return importElementwiseOp(node, spec);
}

LogicalResult mlir::sqz::import::importSign(NodeContext &node) {
  ElementwiseSpec spec;
  spec.accepted = kNumericDTypes;
  spec.build = [](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &info) -> Value {
    Value x = args[0];
    Value zero = constant(b, loc, info.type, 0);
    Value one = constant(b, loc, info.type, 1);
    Value minusOne = constant(b, loc, info.type, -1);
    Value positive, negative;
    if (info.isFloat) {
      positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, zero);
      negative = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, zero);
    } else {
      positive = arith::CmpIOp::create(
          b, loc, info.isUnsigned ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt, x,
          zero);
      negative = info.isUnsigned
                     ? constant(b, loc, b.getI1Type(), 0)
                     : arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, zero).getResult();
    }
    // NaN stays NaN (x itself) for floats, as numpy.sign.
    Value rest = info.isFloat ? x : zero;
    return arith::SelectOp::create(b, loc, positive, one,
                                   arith::SelectOp::create(b, loc, negative, minusOne, rest));
  };
  spec.foldFloat = [](ArrayRef<double> v) {
    return v[0] > 0 ? 1.0 : v[0] < 0 ? -1.0 : v[0];
  };
  spec.foldInt = [](ArrayRef<int64_t> v) -> int64_t { return (v[0] > 0) - (v[0] < 0); };
  return importElementwiseOp(node, spec);
}

LogicalResult mlir::sqz::import::importNot(NodeContext &node) {
  ElementwiseSpec spec;
  spec.accepted = kBoolDType;
  spec.build = [](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &) -> Value {
    return arith::XOrIOp::create(b, loc, args[0], constant(b, loc, b.getI1Type(), 1));
  };
  spec.foldInt = [](ArrayRef<int64_t> v) -> int64_t { return v[0] == 0; };
  return importElementwiseOp(node, spec);
}

//===----------------------------------------------------------------------===//
// Pow, Mod, PRelu
//===----------------------------------------------------------------------===//

/// Converts a scalar of any int/float type to float type `to`.
static Value convertToFloat(OpBuilder &b, Location loc, Value value, Type to, bool isUnsigned) {
  Type from = value.getType();
  if (from == to)
    return value;
  if (isa<IntegerType>(from))
    return isUnsigned ? arith::UIToFPOp::create(b, loc, to, value).getResult()
                      : arith::SIToFPOp::create(b, loc, to, value).getResult();
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, to, value);
  return arith::TruncFOp::create(b, loc, to, value);
}

/// x^n by repeated multiplication for a small non-negative integer n.
static int64_t integerPower(int64_t base, int64_t exponent) {
  if (exponent < 0)
    return base == 1 ? 1 : base == -1 ? (exponent % 2 ? -1 : 1) : 0;
  uint64_t result = 1, factor = static_cast<uint64_t>(base);
  for (; exponent; exponent >>= 1, factor *= factor)
    if (exponent & 1)
      result *= factor;
  return static_cast<int64_t>(result);
}

LogicalResult mlir::sqz::import::importPow(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 2)))
    return failure();
  int32_t expDType = node.getInputDType(1);
  if (expDType == onnx::TensorProto::BOOL)
    return node.emitError() << "the exponent must be a number, got 'bool'";
  bool expUnsigned = isUnsignedDType(expDType);
  // A constant exponent with one distinct value (x^2, x^0.5: RMS/LayerNorm decompositions)
  // becomes multiplications or a square root.
  std::optional<double> exponent;
  if (const HostTensor *e = node.getConstantInput(1); e && e->getNumElements() >= 1) {
    exponent = e->getDouble(0);
    for (int64_t i = 1, n = e->getNumElements(); i < n; ++i)
      if (e->getDouble(i) != *exponent)
        exponent.reset();
  }
  ElementwiseSpec spec;
  spec.minInputs = spec.maxInputs = 2;
  spec.accepted = kNumericDTypes;
  spec.sameDType = false;
  spec.f16InF32 = true;
  spec.build = [&](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &info) -> Value {
    Value x = args[0];
    if (info.isFloat && exponent) {
      double n = *exponent;
      if (n == 1.0)
        return x;
      if (n == 2.0)
        return arith::MulFOp::create(b, loc, x, x);
      if (n == 3.0)
        return arith::MulFOp::create(b, loc, x, arith::MulFOp::create(b, loc, x, x));
      if (n == 0.5)
        return math::SqrtOp::create(b, loc, x);
      if (n == -1.0)
        return arith::DivFOp::create(b, loc, constant(b, loc, info.type, 1.0), x);
      return math::PowFOp::create(b, loc, x, constant(b, loc, info.type, n));
    }
    if (info.isFloat)
      return math::PowFOp::create(b, loc, x,
                                  convertToFloat(b, loc, args[1], info.type, expUnsigned));
    // Integer base: computed in f64 (exact for results below 2^53) and truncated back.
    Type f64 = b.getF64Type();
    Value base = convertToFloat(b, loc, x, f64, info.isUnsigned);
    Value power = math::PowFOp::create(b, loc, base, convertToFloat(b, loc, args[1], f64,
                                                                    expUnsigned));
    return info.isUnsigned ? arith::FPToUIOp::create(b, loc, info.type, power).getResult()
                           : arith::FPToSIOp::create(b, loc, info.type, power).getResult();
  };
  if (exponent && isFloatDType(node.getInputDType(0)))
    spec.numIROperands = 1;
  spec.foldFloat = [](ArrayRef<double> v) { return std::pow(v[0], v[1]); };
  if (!isFloatDType(expDType))
    spec.foldInt = [](ArrayRef<int64_t> v) { return integerPower(v[0], v[1]); };
  return importElementwiseOp(node, spec);
}

LogicalResult mlir::sqz::import::importMod(NodeContext &node) {
  FailureOr<int64_t> fmodAttr = node.getIntAttr("fmod", 0);
  if (failed(fmodAttr))
    return failure();
  bool fmod = *fmodAttr != 0;
  if (node.hasInput(0) && isFloatDType(node.getInputDType(0)) && !fmod)
    return node.emitError() << "float operands need fmod=1";
  ElementwiseSpec spec;
  spec.minInputs = spec.maxInputs = 2;
  spec.accepted = kNumericDTypes;
  spec.build = [=](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &info) -> Value {
    Value x = args[0], y = args[1];
    if (info.isFloat)
      return arith::RemFOp::create(b, loc, x, y);
    if (info.isUnsigned)
      return arith::RemUIOp::create(b, loc, x, y);
    Value rem = arith::RemSIOp::create(b, loc, x, y);
    if (fmod)
      return rem;
    // Python-style: the result takes the divisor's sign.
    Value zero = constant(b, loc, info.type, 0);
    Value nonZero = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, rem, zero);
    Value remNeg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, rem, zero);
    Value yNeg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, y, zero);
    Value signsDiffer = arith::XOrIOp::create(b, loc, remNeg, yNeg);
    Value adjust = arith::AndIOp::create(b, loc, nonZero, signsDiffer);
    return arith::SelectOp::create(b, loc, adjust, arith::AddIOp::create(b, loc, rem, y), rem);
  };
  spec.foldFloat = [](ArrayRef<double> v) { return std::fmod(v[0], v[1]); };
  spec.foldInt = [=](ArrayRef<int64_t> v) -> int64_t {
    if (v[1] == 0 || v[1] == -1)
      return 0;
    int64_t rem = v[0] % v[1];
    if (!fmod && rem != 0 && ((rem < 0) != (v[1] < 0)))
      rem += v[1];
    return rem;
  };
  return importElementwiseOp(node, spec);
}

LogicalResult mlir::sqz::import::importPRelu(NodeContext &node) {
  ElementwiseSpec spec;
  spec.minInputs = spec.maxInputs = 2;
  spec.accepted = kFloatDTypes;
  spec.build = [](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &) -> Value {
    Value scaled = arith::MulFOp::create(b, loc, args[1], args[0]);
    return selectNegative(b, loc, args[0], scaled, args[0]);
  };
  spec.foldFloat = [](ArrayRef<double> v) { return v[0] < 0 ? v[1] * v[0] : v[0]; };
  return importElementwiseOp(node, spec);
}

//===----------------------------------------------------------------------===//
// Variadic Min, Max, Sum, Mean
//===----------------------------------------------------------------------===//

namespace {
enum class VariadicKind { Min, Max, Sum, Mean };
} // namespace

static Value combineScalars(OpBuilder &b, Location loc, VariadicKind kind, Value acc, Value x,
                            const ScalarInfo &info) {
  switch (kind) {
  case VariadicKind::Min:
    if (info.isFloat)
      return arith::MinimumFOp::create(b, loc, acc, x);
    return info.isUnsigned ? arith::MinUIOp::create(b, loc, acc, x).getResult()
                           : arith::MinSIOp::create(b, loc, acc, x).getResult();
  case VariadicKind::Max:
    if (info.isFloat)
      return arith::MaximumFOp::create(b, loc, acc, x);
    return info.isUnsigned ? arith::MaxUIOp::create(b, loc, acc, x).getResult()
                           : arith::MaxSIOp::create(b, loc, acc, x).getResult();
  case VariadicKind::Sum:
  case VariadicKind::Mean:
    return info.isFloat ? arith::AddFOp::create(b, loc, acc, x).getResult()
                        : arith::AddIOp::create(b, loc, acc, x).getResult();
  }
  llvm_unreachable("unknown variadic kind");
}

static LogicalResult importVariadic(NodeContext &node, VariadicKind kind) {
  ElementwiseSpec spec;
  spec.minInputs = 1;
  spec.maxInputs = std::numeric_limits<int>::max();
  spec.accepted = kind == VariadicKind::Mean ? unsigned(kFloatDTypes) : unsigned(kNumericDTypes);
  spec.f16InF32 = kind == VariadicKind::Mean || kind == VariadicKind::Sum;
  spec.build = [&](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &info) {
    Value acc = args[0];
    for (Value x : args.drop_front())
      acc = combineScalars(b, loc, kind, acc, x, info);
    if (kind == VariadicKind::Mean && args.size() > 1)
      acc = arith::DivFOp::create(b, loc, acc,
                                  constant(b, loc, info.type, static_cast<double>(args.size())));
    return acc;
  };
  spec.foldFloat = [&](ArrayRef<double> v) {
    double acc = v[0];
    for (double x : v.drop_front())
      acc = kind == VariadicKind::Min   ? (std::isnan(x) || x < acc ? x : acc)
            : kind == VariadicKind::Max ? (std::isnan(x) || x > acc ? x : acc)
                                        : acc + x;
    return kind == VariadicKind::Mean ? acc / static_cast<double>(v.size()) : acc;
  };
  spec.foldInt = [&](ArrayRef<int64_t> v) {
    int64_t acc = v[0];
    for (int64_t x : v.drop_front())
      acc = kind == VariadicKind::Min   ? std::min(acc, x)
            : kind == VariadicKind::Max ? std::max(acc, x)
                                        : static_cast<int64_t>(static_cast<uint64_t>(acc) +
                                                               static_cast<uint64_t>(x));
    return acc;
  };
  return importElementwiseOp(node, spec);
}

LogicalResult mlir::sqz::import::importMin(NodeContext &node) {
  return importVariadic(node, VariadicKind::Min);
}
LogicalResult mlir::sqz::import::importMax(NodeContext &node) {
  return importVariadic(node, VariadicKind::Max);
}
LogicalResult mlir::sqz::import::importSum(NodeContext &node) {
  return importVariadic(node, VariadicKind::Sum);
}
LogicalResult mlir::sqz::import::importMean(NodeContext &node) {
  return importVariadic(node, VariadicKind::Mean);
}

//===----------------------------------------------------------------------===//
// Clip
//===----------------------------------------------------------------------===//

LogicalResult mlir::sqz::import::importClip(NodeContext &node) {
  ElementwiseSpec spec;
  std::optional<double> minAttr, maxAttr;
  bool hasMin = false, hasMax = false;
  if (node.getOpset() < 11) {
    // min/max attributes (float tensors only).
    FailureOr<float> lo = node.getFloatAttr("min", -std::numeric_limits<float>::max());
    FailureOr<float> hi = node.getFloatAttr("max", std::numeric_limits<float>::max());
    if (failed(lo) || failed(hi))
      return failure();
    if (node.getAttr("min"))
      minAttr = *lo;
    if (node.getAttr("max"))
      maxAttr = *hi;
    spec.accepted = kFloatDTypes;
  } else {
    spec.maxInputs = 3;
    hasMin = node.hasInput(1);
    hasMax = node.hasInput(2);
    spec.accepted = node.getOpset() >= 12 ? unsigned(kNumericDTypes) : unsigned(kFloatDTypes);
    for (unsigned i = 1; i < 3; ++i)
      if (node.hasInput(i) && node.getInputType(i).getNumElements() != 1)
        return node.emitError() << "input " << i << " ('" << (i == 1 ? "min" : "max")
                                << "') must be a scalar, got " << node.getInputType(i);
  }
  spec.build = [&](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &info) {
    Value x = args[0];
    unsigned next = 1;
    Value lo = hasMin ? args[next++] : minAttr ? constant(b, loc, info.type, *minAttr) : Value();
    Value hi = hasMax ? args[next++] : maxAttr ? constant(b, loc, info.type, *maxAttr) : Value();
    if (lo)
      x = combineScalars(b, loc, VariadicKind::Max, x, lo, info);
    if (hi)
      x = combineScalars(b, loc, VariadicKind::Min, x, hi, info);
    return x;
  };
  spec.foldFloat = [&](ArrayRef<double> v) {
    double x = v[0];
    unsigned next = 1;
    std::optional<double> lo = hasMin ? std::optional<double>(v[next++]) : minAttr;
    std::optional<double> hi = hasMax ? std::optional<double>(v[next++]) : maxAttr;
    if (lo && x < *lo)
      x = *lo;
    if (hi && x > *hi)
      x = *hi;
    return x;
  };
  spec.foldInt = [&](ArrayRef<int64_t> v) {
    int64_t x = v[0];
    unsigned next = 1;
    if (hasMin)
      x = std::max(x, v[next++]);
    if (hasMax)
      x = std::min(x, v[next++]);
    return x;
  };
  return importElementwiseOp(node, spec);
}

//===----------------------------------------------------------------------===//
// Comparisons and logical ops
//===----------------------------------------------------------------------===//

namespace {
enum class CompareKind { Equal, Less, LessOrEqual, Greater, GreaterOrEqual };
} // namespace

static LogicalResult importCompare(NodeContext &node, CompareKind kind) {
  ElementwiseSpec spec;
  spec.minInputs = spec.maxInputs = 2;
  spec.accepted = kind == CompareKind::Equal ? unsigned(kAllDTypes) : unsigned(kNumericDTypes);
  spec.boolResult = true;
  spec.build = [&](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &info) -> Value {
    if (info.isFloat) {
      arith::CmpFPredicate predicate;
      switch (kind) {
      case CompareKind::Equal:
        predicate = arith::CmpFPredicate::OEQ;
        break;
      case CompareKind::Less:
        predicate = arith::CmpFPredicate::OLT;
        break;
      case CompareKind::LessOrEqual:
        predicate = arith::CmpFPredicate::OLE;
        break;
      case CompareKind::Greater:
        predicate = arith::CmpFPredicate::OGT;
        break;
      case CompareKind::GreaterOrEqual:
        predicate = arith::CmpFPredicate::OGE;
        break;
      }
      return arith::CmpFOp::create(b, loc, predicate, args[0], args[1]);
    }
    bool u = info.isUnsigned;
    arith::CmpIPredicate predicate;
    switch (kind) {
    case CompareKind::Equal:
      predicate = arith::CmpIPredicate::eq;
      break;
    case CompareKind::Less:
      predicate = u ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt;
      break;
    case CompareKind::LessOrEqual:
      predicate = u ? arith::CmpIPredicate::ule : arith::CmpIPredicate::sle;
      break;
    case CompareKind::Greater:
      predicate = u ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt;
      break;
    case CompareKind::GreaterOrEqual:
      predicate = u ? arith::CmpIPredicate::uge : arith::CmpIPredicate::sge;
      break;
    }
    return arith::CmpIOp::create(b, loc, predicate, args[0], args[1]);
  };
  auto compare = [kind](auto a, auto c) {
    switch (kind) {
    case CompareKind::Equal:
      return a == c;
    case CompareKind::Less:
      return a < c;
    case CompareKind::LessOrEqual:
      return a <= c;
    case CompareKind::Greater:
      return a > c;
    case CompareKind::GreaterOrEqual:
      return a >= c;
    }
    return false;
  };
  spec.foldFloat = [&](ArrayRef<double> v) { return compare(v[0], v[1]) ? 1.0 : 0.0; };
  spec.foldInt = [&](ArrayRef<int64_t> v) -> int64_t { return compare(v[0], v[1]); };
  return importElementwiseOp(node, spec);
}

LogicalResult mlir::sqz::import::importEqual(NodeContext &node) {
  return importCompare(node, CompareKind::Equal);
}
LogicalResult mlir::sqz::import::importLess(NodeContext &node) {
  return importCompare(node, CompareKind::Less);
}
LogicalResult mlir::sqz::import::importLessOrEqual(NodeContext &node) {
  return importCompare(node, CompareKind::LessOrEqual);
}
LogicalResult mlir::sqz::import::importGreater(NodeContext &node) {
  return importCompare(node, CompareKind::Greater);
}
LogicalResult mlir::sqz::import::importGreaterOrEqual(NodeContext &node) {
  return importCompare(node, CompareKind::GreaterOrEqual);
}

namespace {
enum class LogicalKind { And, Or, Xor };
} // namespace

static LogicalResult importLogical(NodeContext &node, LogicalKind kind) {
  ElementwiseSpec spec;
  spec.minInputs = spec.maxInputs = 2;
  spec.accepted = kBoolDType;
  spec.build = [&](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &) -> Value {
    switch (kind) {
    case LogicalKind::And:
      return arith::AndIOp::create(b, loc, args[0], args[1]);
    case LogicalKind::Or:
      return arith::OrIOp::create(b, loc, args[0], args[1]);
    case LogicalKind::Xor:
      return arith::XOrIOp::create(b, loc, args[0], args[1]);
    }
    llvm_unreachable("unknown logical kind");
  };
  spec.foldInt = [&](ArrayRef<int64_t> v) -> int64_t {
    bool a = v[0] != 0, c = v[1] != 0;
    return kind == LogicalKind::And ? (a && c) : kind == LogicalKind::Or ? (a || c) : (a != c);
  };
  return importElementwiseOp(node, spec);
}

LogicalResult mlir::sqz::import::importAnd(NodeContext &node) {
  return importLogical(node, LogicalKind::And);
}
LogicalResult mlir::sqz::import::importOr(NodeContext &node) {
  return importLogical(node, LogicalKind::Or);
}
LogicalResult mlir::sqz::import::importXor(NodeContext &node) {
  return importLogical(node, LogicalKind::Xor);
}

//===----------------------------------------------------------------------===//
// com.microsoft FastGelu, BiasGelu, Gelu, QuickGelu
//===----------------------------------------------------------------------===//

/// GELU of x (+ an optional bias operand), computed in f32 for f16.
static LogicalResult importBiasedGelu(NodeContext &node, bool useTanh, unsigned minInputs) {
  ElementwiseSpec spec;
  spec.minInputs = minInputs;
  spec.maxInputs = 2;
  spec.accepted = kFloatDTypes;
  spec.f16InF32 = true;
  spec.build = [=](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &) {
    Value x = args[0];
    if (args.size() > 1)
      x = arith::AddFOp::create(b, loc, x, args[1]);
    return buildGeluScalar(b, loc, x, useTanh);
  };
  return importElementwiseOp(node, spec);
}

LogicalResult mlir::sqz::import::importFastGelu(NodeContext &node) {
  // ORT: tanh approximation of GELU(X + bias).
  return importBiasedGelu(node, /*useTanh=*/true, /*minInputs=*/1);
}

LogicalResult mlir::sqz::import::importBiasGelu(NodeContext &node) {
  // ORT: exact (erf) GELU(A + B).
  return importBiasedGelu(node, /*useTanh=*/false, /*minInputs=*/2);
}

LogicalResult mlir::sqz::import::importMsGelu(NodeContext &node) {
  // ORT com.microsoft Gelu: exact (erf) GELU(X).
  return importBiasedGelu(node, /*useTanh=*/false, /*minInputs=*/1);
}

LogicalResult mlir::sqz::import::importQuickGelu(NodeContext &node) {
  // ORT: x * sigmoid(alpha * x).
  FailureOr<float> alphaAttr = node.getFloatAttr("alpha", 1.702f);
  if (failed(alphaAttr))
    return failure();
  double alpha = *alphaAttr;
  return importUnaryFloat(
      node,
      [=](OpBuilder &b, Location loc, Value x) {
        Value scaled = arith::MulFOp::create(b, loc, constant(b, loc, x.getType(), alpha), x);
        return arith::MulFOp::create(b, loc, x, buildSigmoid(b, loc, scaled));
      },
      [=](double x) { return x * sigmoid(alpha * x); });
}

//===----------------------------------------------------------------------===//
// BitShift, Dropout
//===----------------------------------------------------------------------===//

LogicalResult mlir::sqz::import::importBitShift(NodeContext &node) {
  FailureOr<std::string> direction = node.getStringAttr("direction", "");
  if (failed(direction))
    return failure();
  bool left = *direction == "LEFT";
  if (!left && *direction != "RIGHT")
    return node.emitError() << "attribute 'direction' must be 'LEFT' or 'RIGHT', got '"
                            << *direction << "'";
  ElementwiseSpec spec;
  spec.minInputs = spec.maxInputs = 2;
  spec.accepted = kUnsignedDTypes;
  spec.build = [=](OpBuilder &b, Location loc, ValueRange args, const ScalarInfo &) -> Value {
    if (left)
      return arith::ShLIOp::create(b, loc, args[0], args[1]);
    return arith::ShRUIOp::create(b, loc, args[0], args[1]);
  };
  spec.foldInt = [=](ArrayRef<int64_t> v) -> int64_t {
    uint64_t x = static_cast<uint64_t>(v[0]), n = static_cast<uint64_t>(v[1]);
    if (n >= 64)
      return 0;
    return static_cast<int64_t>(left ? x << n : x >> n);
  };
  return importElementwiseOp(node, spec);
}

LogicalResult mlir::sqz::import::importDropout(NodeContext &node) {
  // Inference: the identity, and an all-true mask. Training mode (randomness) is not supported.
  if (failed(node.checkNumInputs(1, 3)))
    return failure();
  if (node.hasInput(2)) {
    const HostTensor *training = node.getConstantInput(2);
    if (!training)
      return node.emitError() << "training_mode must be a constant (training mode is not "
                                 "supported)";
    if (training->getNumElements() != 1 || training->getInt(0) != 0)
      return node.emitError() << "training mode is not supported";
  }
  node.forwardInput(0, 0);
  if (node.getNode().output_size() > 1 && !node.getNode().output(1).empty()) {
    HostTensor mask =
        HostTensor::allocate("", onnx::TensorProto::BOOL, node.getInputType(0).getShape());
    for (int64_t i = 0, e = mask.getNumElements(); i < e; ++i)
      mask.setInt(i, 1);
    node.setConstantResult(1, std::move(mask));
  }
  return success();
}
