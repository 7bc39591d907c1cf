//===- MoEOps.cpp - com.microsoft MoE -------------------------------------===//
//
// onnxruntime's MoE contrib op becomes one `sqz.moe`: `router_probs` (which onnxruntime
// soft-maxes itself) are the router logits, the stacked expert weights become constants in the
// [experts, out, in] convention (the legacy [experts, in, out] layout is transposed here, with
// onnxruntime's own rule for telling them apart), and `activation_type` maps to the activation
// onnxruntime's CPU kernel computes (its "gelu" is the tanh approximation).
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mlir::sqz::import;

namespace {
enum MoEInput : unsigned {
  kInput = 0,
  kRouter = 1,
  kFc1 = 2,
  kFc1Bias = 3,
  kFc2 = 4,
  kFc2Bias = 5,
  kFc3 = 6,
  kFc3Bias = 7,
};
} // namespace

/// The constant input `index` as a [E, out, in] weight; `legacy` inputs are [E, in, out].
static FailureOr<Value> expertWeight(NodeContext &node, unsigned index, StringRef name,
                                     bool legacy) {
  const HostTensor *w = node.getConstantInput(index);
  if (!w || w->shape.size() != 3)
    return node.emitError() << name << " must be a constant 3-D [experts, out, in] tensor "
                            << "(quantized experts are QMoE)",
           failure();
  if (!legacy)
    return node.getInput(index);
  HostTensor t = transposeHostTensor(*w, {0, 2, 1});
  t.name = w->name + ".oi";
  return node.createConstant(std::move(t));
}

LogicalResult mlir::sqz::import::importMicrosoftMoE(NodeContext &node) {
  // fc1_experts_bias (input 3) is optional but fc2_experts_weights (input 4) is not.
  if (failed(node.checkNumInputs(3, 8)))
    return failure();
  if (!node.hasInput(kFc2))
    return node.emitError() << "missing fc2_experts_weights (input 4)";
  int32_t dtype = node.getInputDType(kInput);
  if (!isFloatDType(dtype))
    return node.emitError() << "input must be a float tensor, got " << getDTypeName(dtype);
  FailureOr<int64_t> k = node.getIntAttr("k", 1);
  FailureOr<std::string> act = node.getStringAttr("activation_type", "relu");
  FailureOr<int64_t> normalize = node.getIntAttr("normalize_routing_weights", 0);
  FailureOr<int64_t> sparseMixer = node.getIntAttr("use_sparse_mixer", 0);
  if (failed(k) || failed(act) || failed(normalize) || failed(sparseMixer))
    return failure();
  if (*sparseMixer != 0)
    return node.emitError() << "use_sparse_mixer=1 is not supported";
  std::optional<sqz::MoEActivation> activation =
      llvm::StringSwitch<std::optional<sqz::MoEActivation>>(*act)
          .Case("relu", sqz::MoEActivation::Relu)
          .Case("gelu", sqz::MoEActivation::GeluTanh)
          .Case("silu", sqz::MoEActivation::Silu)
          .Case("identity", sqz::MoEActivation::Identity)
          .Default(std::nullopt);
  if (!activation)
    return node.emitError() << "activation_type '" << *act
                            << "' is not supported (relu, gelu, silu, identity; fused "
                               "'swiglu' layouts differ between onnxruntime versions)";

  RankedTensorType xType = node.getInputType(kInput);
  RankedTensorType routerType = node.getInputType(kRouter);
  if (xType.getRank() != 2 && xType.getRank() != 3)
    return node.emitError() << "input must be 2-D or 3-D, got rank " << xType.getRank();
  if (routerType.getRank() != 2)
    return node.emitError() << "router_probs must be 2-D [tokens, experts]";
  const HostTensor *fc1 = node.getConstantInput(kFc1);
  const HostTensor *fc2 = node.getConstantInput(kFc2);
  if (!fc1 || !fc2 || fc1->shape.size() != 3 || fc2->shape.size() != 3)
    return node.emitError() << "fc1/fc2 expert weights must be constant 3-D tensors";
  int64_t hidden = xType.getDimSize(xType.getRank() - 1);
  int64_t inter = fc2->shape[1] * fc2->shape[2] / hidden;
  // onnxruntime's rule (moe_helper.h): the legacy layout stores fc2 as [E, inter, hidden].
  bool legacy = hidden != inter && fc2->shape[1] == inter;
  bool hasFc3 = node.hasInput(kFc3);

  FailureOr<Value> w1 = expertWeight(node, kFc1, "fc1_experts_weights", legacy);
  FailureOr<Value> w2 = expertWeight(node, kFc2, "fc2_experts_weights", legacy);
  if (failed(w1) || failed(w2))
    return failure();
  Value w3, b1, b2, b3;
  if (hasFc3) {
    FailureOr<Value> v = expertWeight(node, kFc3, "fc3_experts_weights", legacy);
    if (failed(v))
      return failure();
    w3 = *v;
  }
  auto bias = [&](unsigned index, StringRef name, Value &out) -> LogicalResult {
    if (!node.hasInput(index))
      return success();
    if (!node.getConstantInput(index))
      return node.emitError() << name << " must be a constant";
    out = node.getInput(index);
    return success();
  };
  if (failed(bias(kFc1Bias, "fc1_experts_bias", b1)) ||
      failed(bias(kFc2Bias, "fc2_experts_bias", b2)) ||
      failed(bias(kFc3Bias, "fc3_experts_bias", b3)))
    return failure();

  OpBuilder &b = node.getBuilder();
  auto op = sqz::MoEOp::create(
      b, node.getLoc(), xType, node.getInput(kInput), node.getInput(kRouter), *w1, *w2, w3, b1,
      b2, b3, b.getI64IntegerAttr(*k),
      sqz::MoEActivationAttr::get(b.getContext(), *activation),
      *normalize ? b.getUnitAttr() : UnitAttr(), b.getF64FloatAttr(0.0));
  // The op verifier names every shape mismatch; report it at the node.
  if (failed(mlir::verify(op))) {
    op->erase();
    return node.emitError() << "inconsistent MoE operand shapes (see above)";
  }
  node.setResult(0, op.getResult(), dtype);
  return success();
}
