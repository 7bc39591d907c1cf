//===- MoEOps.cpp - com.microsoft MoE and QMoE ----------------------------===//
//
// onnxruntime's MoE contrib op becomes one `sqz.moe`: `router_probs` (which onnxruntime
// soft-maxes itself) are the router logits, the stacked expert weights become constants in the
// [experts, out, in] convention (the legacy [experts, in, out] layout is transposed here, with
// onnxruntime's own rule for telling them apart), and `activation_type` maps to the activation
// onnxruntime's CPU kernel computes (its "gelu" is the tanh approximation).
//
// QMoE (quantized experts) is the same op with 2/4/8-bit weights: they are dequantized on the host
// (QuantUtils.h, shared with MatMulNBits) into float [E, out, in] constants, with the semantics of
// onnxruntime 1.30's CPU kernel (the reference runtime):
//   weights uint8 [E, N, ceil(K / pack)], pack = 8 / bits codes a byte, low bits first along K;
//   scales [E, N] (one per output channel) or [E, N, K / block_size];
//   zero points (default 2^(bits-1)) uint8 [E, ceil(N / pack)] per channel (packed along N) or
//   [E, N, ceil(blocks / pack)] per block (packed along the blocks);
//   routing weights are always the softmax of the top-k router logits (the CPU kernel ignores
//   normalize_routing_weights without router_weights);
//   swiglu: G = fc1 gate rows, L = linear rows (interleaved, concatenated, or fc3),
//   G * sigmoid(alpha * G) * (L + beta) = silu(alpha * G) * (L + beta) / alpha: the gate rows are
//   scaled by alpha, the linear ones (and bias + beta) by 1 / alpha, and sqz.moe computes
//   silu(fc1) * fc3. A finite swiglu_limit (clamping) has no sqz.moe equivalent and is rejected.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"
#include "QuantUtils.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringSwitch.h"

#include <cmath>
#include <limits>

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

/// QMoE's inputs (onnxruntime 1.30 schema); 15 and above are the FP4/FP8 modes' scales.
enum QMoEInput : unsigned {
  kQFc1 = 2,
  kQFc1Scales = 3,
  kQFc1Bias = 4,
  kQFc2 = 5,
  kQFc2Scales = 6,
  kQFc2Bias = 7,
  kQFc3 = 8,
  kQFc3Scales = 9,
  kQFc3Bias = 10,
  kQFc1ZeroPoints = 11,
  kQRouterWeights = 14,
  kQFirstFloatModeInput = 15,
  kQNumInputs = 21,
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

/// onnxruntime's `activation_type` as computed by its CPU kernels ("gelu" is the tanh form).
static std::optional<sqz::MoEActivation> getMoEActivation(StringRef name) {
  return llvm::StringSwitch<std::optional<sqz::MoEActivation>>(name)
      .Case("relu", sqz::MoEActivation::Relu)
      .Case("gelu", sqz::MoEActivation::GeluTanh)
      .Case("silu", sqz::MoEActivation::Silu)
      .Case("identity", sqz::MoEActivation::Identity)
      .Default(std::nullopt);
}

/// Builds the `sqz.moe` of a MoE/QMoE node from its converted operands and sets its result.
static LogicalResult createMoE(NodeContext &node, Value w1, Value w2, Value w3, Value b1, Value b2,
                               Value b3, int64_t k, sqz::MoEActivation activation,
                               bool normalize) {
  OpBuilder &b = node.getBuilder();
  RankedTensorType xType = node.getInputType(kInput);
  auto op = sqz::MoEOp::create(b, node.getLoc(), xType, node.getInput(kInput),
                               node.getInput(kRouter), w1, w2, w3, b1, b2, b3,
                               b.getI64IntegerAttr(k),
                               sqz::MoEActivationAttr::get(b.getContext(), activation),
                               normalize ? b.getUnitAttr() : UnitAttr(), b.getF64FloatAttr(0.0));
  // The op verifier names every shape mismatch; report it at the node.
  if (failed(mlir::verify(op))) {
    op->erase();
    return node.emitError() << "inconsistent MoE operand shapes (see above)";
  }
  node.setResult(0, op.getResult(), node.getInputDType(kInput));
  return success();
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
  std::optional<sqz::MoEActivation> activation = getMoEActivation(*act);
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

  return createMoE(node, *w1, *w2, w3, b1, b2, b3, *k, *activation, *normalize != 0);
}

//===----------------------------------------------------------------------===//
// com.microsoft QMoE
//===----------------------------------------------------------------------===//

/// Dequantizes the QMoE expert weight `index` (with its scales at index + 1 and zero points at
/// kQFc1ZeroPoints + (index - kQFc1) / 3) into a float [E, n, k] host tensor of `dtype`.
static FailureOr<HostTensor> dequantizeExperts(NodeContext &node, unsigned index, StringRef name,
                                               int64_t experts, int64_t n, int64_t k,
                                               int64_t bits, int64_t blockSize, int32_t dtype) {
  unsigned scalesIndex = index + 1;
  unsigned zpIndex = kQFc1ZeroPoints + (index - kQFc1) / 3;
  int64_t pack = 8 / bits;
  int64_t packedK = (k + pack - 1) / pack;
  const HostTensor *w = node.getConstantInput(index);
  if (!w || w->dtype != onnx::TensorProto::UINT8 ||
      ArrayRef<int64_t>(w->shape) != ArrayRef<int64_t>({experts, n, packedK}))
    return node.emitError() << name << "_experts_weights must be a constant uint8 [" << experts
                            << ", " << n << ", " << packedK << "] tensor ([experts, out, in / "
                            << pack << "]), got " << node.getInputType(index),
           failure();
  const HostTensor *scales = node.hasInput(scalesIndex) ? node.getConstantInput(scalesIndex)
                                                        : nullptr;
  if (!scales || !isFloatDType(scales->dtype))
    return node.emitError() << name << "_scales must be a constant float tensor", failure();
  // onnxruntime: block-wise iff the scales are [E, N, blocks] with blocks > 1.
  bool blockWise = scales->shape.size() == 3 && scales->shape[2] > 1;
  int64_t blocks = 1, block = k;
  if (blockWise) {
    if (blockSize <= 0)
      return node.emitError() << name << "_scales " << node.getInputType(scalesIndex)
                              << " are block-wise but block_size is not set",
             failure();
    block = blockSize;
    blocks = (k + block - 1) / block;
  }
  bool perChannelShape =
      (scales->shape.size() == 2 || (scales->shape.size() == 3 && scales->shape[2] == 1)) &&
      scales->shape[0] == experts && scales->shape[1] == n;
  if (blockWise ? ArrayRef<int64_t>(scales->shape) != ArrayRef<int64_t>({experts, n, blocks})
                : !perChannelShape)
    return node.emitError() << name << "_scales must be [" << experts << ", " << n
                            << "] (per output channel) or [" << experts << ", " << n
                            << ", ceil(" << k << " / block_size)], got "
                            << node.getInputType(scalesIndex),
           failure();
  const HostTensor *zp = nullptr;
  // Zero points: per block, rows of ceil(blocks / pack) bytes; per channel, packed along N.
  int64_t zpRow = (blocks + pack - 1) / pack, zpExpert = (n + pack - 1) / pack;
  if (node.hasInput(zpIndex)) {
    zp = node.getConstantInput(zpIndex);
    int64_t want = blockWise ? experts * n * zpRow : experts * zpExpert;
    if (!zp || zp->dtype != onnx::TensorProto::UINT8 || zp->getNumElements() != want)
      return node.emitError() << name << "_zero_points must be a constant uint8 tensor of "
                              << want << " elements ("
                              << (blockWise ? "[experts, out, ceil(blocks / "
                                            : "[experts, ceil(out / ")
                              << pack << ")]), got " << node.getInputType(zpIndex),
             failure();
  }
  HostTensor out =
      HostTensor::allocate(node.getNode().input(index) + ".dequant", dtype, {experts, n, k});
  dequantizePackedRows(
      *w, packedK * pack, experts * n, k, bits, block,
      [&](int64_t row, int64_t blk) {
        return static_cast<float>(scales->getDouble(row * blocks + blk));
      },
      [&](int64_t row, int64_t blk) {
        if (!zp)
          return static_cast<float>(int64_t(1) << (bits - 1));
        int64_t at = blockWise ? row * zpRow * pack + blk : (row / n) * zpExpert * pack + row % n;
        return static_cast<float>(getPackedCode(*zp, at, bits));
      },
      out);
  return out;
}

/// The constant bias `index` ([E, n] of `dtype`) or null when absent.
static FailureOr<const HostTensor *> expertBias(NodeContext &node, unsigned index, StringRef name,
                                                int64_t experts, int64_t n, int32_t dtype) {
  if (!node.hasInput(index))
    return static_cast<const HostTensor *>(nullptr);
  const HostTensor *bias = node.getConstantInput(index);
  if (!bias || bias->dtype != dtype ||
      ArrayRef<int64_t>(bias->shape) != ArrayRef<int64_t>({experts, n}))
    return node.emitError() << name << "_experts_bias must be a constant [" << experts << ", "
                            << n << "] tensor of the input's dtype, got "
                            << node.getInputType(index),
           failure();
  return bias;
}

LogicalResult mlir::sqz::import::importMicrosoftQMoE(NodeContext &node) {
  // fc1_experts_bias (input 4) is optional, fc2_experts_weights and fc2_scales (5, 6) are not.
  if (failed(node.checkNumInputs(4, kQNumInputs)))
    return failure();
  int32_t dtype = node.getInputDType(kInput);
  if (!isFloatDType(dtype))
    return node.emitError() << "input must be a float tensor, got " << getDTypeName(dtype);
  FailureOr<int64_t> k = node.getIntAttr("k", 1);
  FailureOr<std::string> act = node.getStringAttr("activation_type", "relu");
  FailureOr<int64_t> sparseMixer = node.getIntAttr("use_sparse_mixer", 0);
  FailureOr<int64_t> bits = node.getIntAttr("expert_weight_bits", 4);
  FailureOr<int64_t> blockSize = node.getIntAttr("block_size", 0);
  FailureOr<std::string> quantType = node.getStringAttr("quant_type", "int");
  FailureOr<int64_t> prepacked = node.getIntAttr("weights_prepacked", -1);
  FailureOr<int64_t> fusion = node.getIntAttr("swiglu_fusion", 0);
  FailureOr<float> alpha = node.getFloatAttr("activation_alpha", 1.0f);
  FailureOr<float> beta = node.getFloatAttr("activation_beta", 0.0f);
  FailureOr<float> limit =
      node.getFloatAttr("swiglu_limit", std::numeric_limits<float>::infinity());
  if (failed(k) || failed(act) || failed(sparseMixer) || failed(bits) || failed(blockSize) ||
      failed(quantType) || failed(prepacked) || failed(fusion) || failed(alpha) ||
      failed(beta) || failed(limit))
    return failure();
  if (*sparseMixer != 0)
    return node.emitError() << "use_sparse_mixer=1 is not supported";
  if (*quantType != "int")
    return node.emitError() << "quant_type '" << *quantType
                            << "' is not supported (only 'int': 2/4/8-bit integer codes)";
  if (*bits != 2 && *bits != 4 && *bits != 8)
    return node.emitError() << "expert_weight_bits must be 2, 4 or 8, got " << *bits;
  if (*blockSize != 0 && (*blockSize < 16 || (*blockSize & (*blockSize - 1)) != 0))
    return node.emitError() << "block_size must be a power of 2 and at least 16, got "
                            << *blockSize;
  if (*prepacked == 1)
    return node.emitError() << "weights_prepacked=1 (an execution provider's prepacked layout) "
                               "is not supported; expected raw [E, N, K / pack] weights";
  if (node.hasInput(kQRouterWeights))
    return node.emitError() << "router_weights (input 14, separate aggregation weights) is not "
                               "supported";
  for (unsigned i = kQFirstFloatModeInput; i < node.getNumInputs(); ++i)
    if (node.hasInput(i))
      return node.emitError() << "input " << i << " (FP4/FP8 mode scales) is not supported";
  if (!node.hasInput(kQFc2) || !node.hasInput(kQFc2Scales))
    return node.emitError() << "missing fc2_experts_weights or fc2_scales (inputs 5 and 6)";

  bool swiglu = *act == "swiglu";
  std::optional<sqz::MoEActivation> activation =
      swiglu ? sqz::MoEActivation::Silu : getMoEActivation(*act);
  if (!activation)
    return node.emitError() << "activation_type '" << *act
                            << "' is not supported (relu, gelu, silu, identity, swiglu)";
  if (swiglu) {
    if (*fusion < 0 || *fusion > 2)
      return node.emitError() << "swiglu_fusion must be 0, 1 or 2, got " << *fusion;
    if (std::isfinite(*limit))
      return node.emitError() << "swiglu_limit=" << *limit
                              << " (clamped SwiGLU) is not supported; sqz.moe has no clamp";
    if (*alpha == 0.0f)
      return node.emitError() << "activation_alpha must be nonzero for swiglu";
  }

  RankedTensorType xType = node.getInputType(kInput);
  RankedTensorType routerType = node.getInputType(kRouter);
  if (xType.getRank() != 2 && xType.getRank() != 3)
    return node.emitError() << "input must be 2-D or 3-D, got rank " << xType.getRank();
  if (routerType.getRank() != 2)
    return node.emitError() << "router_probs must be 2-D [tokens, experts]";
  int64_t hidden = xType.getDimSize(xType.getRank() - 1);
  int64_t experts = routerType.getDimSize(1);
  const HostTensor *fc2 = node.getConstantInput(kQFc2);
  if (ShapedType::isDynamic(hidden) || ShapedType::isDynamic(experts) || !fc2 ||
      fc2->shape.size() != 3 || fc2->shape[1] != hidden)
    return node.emitError() << "fc2_experts_weights must be a constant [experts, hidden, inter "
                               "/ pack] tensor and the hidden size and experts static, got "
                            << node.getInputType(kQFc2);
  // inter is fc2's K; with 4/2-bit codes an odd K is padded: take it from fc1 when unfused.
  int64_t pack = 8 / *bits;
  const HostTensor *fc1 = node.getConstantInput(kQFc1);
  if (!fc1 || fc1->shape.size() != 3)
    return node.emitError() << "fc1_experts_weights must be a constant 3-D tensor";
  bool fused = swiglu && *fusion != 0;
  int64_t inter = fused ? fc1->shape[1] / 2 : fc1->shape[1];
  if (fused && fc1->shape[1] % 2 != 0)
    return node.emitError() << "fused swiglu fc1_experts_weights needs an even row count, got "
                            << node.getInputType(kQFc1);
  if ((inter + pack - 1) / pack != fc2->shape[2])
    return node.emitError() << "fc2_experts_weights " << node.getInputType(kQFc2)
                            << " does not hold inter_size=" << inter << " codes per row";
  bool hasFc3 = node.hasInput(kQFc3);
  if (swiglu && *fusion == 0 && !hasFc3)
    return node.emitError() << "swiglu_fusion=0 needs fc3_experts_weights (the linear half)";
  if (fused && hasFc3)
    return node.emitError() << "fused swiglu (swiglu_fusion=" << *fusion
                            << ") does not take fc3_experts_weights";

  int64_t n1 = fused ? 2 * inter : inter;
  FailureOr<HostTensor> w1 =
      dequantizeExperts(node, kQFc1, "fc1", experts, n1, hidden, *bits, *blockSize, dtype);
  FailureOr<HostTensor> w2 =
      dequantizeExperts(node, kQFc2, "fc2", experts, hidden, inter, *bits, *blockSize, dtype);
  if (failed(w1) || failed(w2))
    return failure();
  FailureOr<const HostTensor *> b1 = expertBias(node, kQFc1Bias, "fc1", experts, n1, dtype);
  FailureOr<const HostTensor *> b2 = expertBias(node, kQFc2Bias, "fc2", experts, hidden, dtype);
  FailureOr<const HostTensor *> b3 = expertBias(node, kQFc3Bias, "fc3", experts, inter, dtype);
  if (failed(b1) || failed(b2) || failed(b3))
    return failure();
  std::optional<HostTensor> w3;
  if (hasFc3) {
    FailureOr<HostTensor> v =
        dequantizeExperts(node, kQFc3, "fc3", experts, inter, hidden, *bits, *blockSize, dtype);
    if (failed(v))
      return failure();
    w3 = std::move(*v);
  } else if (*b3) {
    return node.emitError() << "fc3_experts_bias without fc3_experts_weights";
  }

  Value v1, v3, vb1, vb3;
  if (swiglu) {
    // Split gate (G) and linear (L) rows; fold alpha and beta: silu(alpha G) * (L + beta) / alpha.
    std::string base = node.getNode().input(kQFc1);
    HostTensor gate = HostTensor::allocate(base + ".gate", dtype, {experts, inter, hidden});
    HostTensor lin = HostTensor::allocate(base + ".linear", dtype, {experts, inter, hidden});
    HostTensor gateBias = HostTensor::allocate(base + ".gate_bias", dtype, {experts, inter});
    HostTensor linBias = HostTensor::allocate(base + ".linear_bias", dtype, {experts, inter});
    // Row r of gate / linear within fc1 (fused) or of fc1 / fc3.
    auto gateRow = [&](int64_t r) { return *fusion == 1 ? 2 * r : r; };
    auto linRow = [&](int64_t r) {
      return *fusion == 1 ? 2 * r + 1 : *fusion == 2 ? inter + r : r;
    };
    const HostTensor &linSrc = fused ? *w1 : *w3;
    const HostTensor *linBiasSrc = fused ? *b1 : *b3;
    int64_t linRows = fused ? n1 : inter;
    double a = *alpha;
    for (int64_t e = 0; e < experts; ++e) {
      for (int64_t r = 0; r < inter; ++r) {
        int64_t g = e * n1 + gateRow(r), l = e * linRows + linRow(r), o = e * inter + r;
        for (int64_t c = 0; c < hidden; ++c) {
          gate.setDouble(o * hidden + c, a * w1->getDouble(g * hidden + c));
          lin.setDouble(o * hidden + c, linSrc.getDouble(l * hidden + c) / a);
        }
        gateBias.setDouble(o, *b1 ? a * (*b1)->getDouble(g) : 0.0);
        linBias.setDouble(o, ((linBiasSrc ? linBiasSrc->getDouble(l) : 0.0) + *beta) / a);
      }
    }
    v1 = node.createConstant(std::move(gate));
    v3 = node.createConstant(std::move(lin));
    if (*b1)
      vb1 = node.createConstant(std::move(gateBias));
    if (linBiasSrc || *beta != 0.0f)
      vb3 = node.createConstant(std::move(linBias));
  } else {
    v1 = node.createConstant(std::move(*w1));
    if (w3)
      v3 = node.createConstant(std::move(*w3));
    if (*b1)
      vb1 = node.getInput(kQFc1Bias);
    if (*b3)
      vb3 = node.getInput(kQFc3Bias);
  }
  Value v2 = node.createConstant(std::move(*w2));
  Value vb2 = *b2 ? node.getInput(kQFc2Bias) : Value();
  // onnxruntime 1.30's CPU kernel always weighs the top-k experts by the softmax of their
  // logits (normalize_routing_weights only matters with router_weights).
  return createMoE(node, v1, v2, v3, vb1, vb2, vb3, *k, *activation, /*normalize=*/true);
}
