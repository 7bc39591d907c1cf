//===- OpTable.cpp - The ONNX ops the importer supports -------------------===//
//
// The single table from (domain, op type) to import function. `minOpset` is the first opset
// whose semantics the function implements (older versions, e.g. Add with the legacy
// `broadcast` attribute before opset 7, are reported as unsupported). docs/Import.md mirrors it.
//
//===----------------------------------------------------------------------===//

#include "GraphImporter.h"
#include "Ops.h"

using namespace mlir;
using namespace mlir::sqz::import;

static const OpImporter kOpImporters[] = {
    // domain, op type, min opset, import function
    {"", "Add", 7, importAdd},           {"", "Constant", 1, importConstant},
    {"", "Div", 7, importDiv},           {"", "Erf", 9, importErf},
    {"", "Gelu", 20, importGelu},        {"", "Gemm", 7, importGemm},
    {"", "Identity", 1, importIdentity}, {"", "MatMul", 1, importMatMul},
    {"", "Mul", 7, importMul},           {"", "Relu", 6, importRelu},
    {"", "Reshape", 5, importReshape},   {"", "Softmax", 1, importSoftmax},
    {"", "Sub", 7, importSub},           {"", "Transpose", 1, importTranspose},
    // MathOps.cpp
    {"", "Abs", 6, importAbs},
    {"", "Acos", 7, importAcos},
    {"", "Acosh", 9, importAcosh},
    {"", "Asin", 7, importAsin},
    {"", "Asinh", 9, importAsinh},
    {"", "Atan", 7, importAtan},
    {"", "Atanh", 9, importAtanh},
    {"", "Cosh", 9, importCosh},
    {"", "IsInf", 10, importIsInf},
    {"", "IsNaN", 9, importIsNaN},
    {"", "Sinh", 9, importSinh},
    {"", "Tan", 7, importTan},
    {"", "And", 7, importAnd},
    {"", "BitShift", 11, importBitShift},
    {"", "Celu", 12, importCelu},
    {"", "Dropout", 7, importDropout},
    {"", "Ceil", 6, importCeil},
    {"", "Clip", 6, importClip},
    {"", "Cos", 7, importCos},
    {"", "Elu", 6, importElu},
    {"", "Equal", 7, importEqual},
    {"", "Exp", 6, importExp},
    {"", "Floor", 6, importFloor},
    {"", "Greater", 7, importGreater},
    {"", "GreaterOrEqual", 12, importGreaterOrEqual},
    {"", "HardSigmoid", 6, importHardSigmoid},
    {"", "HardSwish", 14, importHardSwish},
    {"", "LeakyRelu", 6, importLeakyRelu},
    {"", "Less", 7, importLess},
    {"", "LessOrEqual", 12, importLessOrEqual},
    {"", "Log", 6, importLog},
    {"", "Max", 8, importMax},
    {"", "Mean", 8, importMean},
    {"", "Min", 8, importMin},
    {"", "Mod", 10, importMod},
    {"", "Neg", 6, importNeg},
    {"", "Not", 1, importNot},
    {"", "Or", 7, importOr},
    {"", "Pow", 7, importPow},
    {"", "PRelu", 9, importPRelu},
    {"", "Reciprocal", 6, importReciprocal},
    {"", "Round", 11, importRound},
    {"", "Selu", 6, importSelu},
    {"", "Sigmoid", 6, importSigmoid},
    {"", "Sign", 9, importSign},
    {"", "Shrink", 9, importShrink},
    {"", "Sin", 7, importSin},
    {"", "Softplus", 1, importSoftplus},
    {"", "Softsign", 1, importSoftsign},
    {"", "Sqrt", 6, importSqrt},
    {"", "Sum", 8, importSum},
    {"", "Tanh", 6, importTanh},
    {"", "ThresholdedRelu", 10, importThresholdedRelu},
    {"", "Xor", 7, importXor},
    {"com.microsoft", "BiasGelu", 1, importBiasGelu},
    {"com.microsoft", "FastGelu", 1, importFastGelu},
    {"com.microsoft", "MoE", 1, importMicrosoftMoE},
    {"com.microsoft", "QMoE", 1, importMicrosoftQMoE},
    {"com.microsoft", "Gelu", 1, importMsGelu},
    {"com.microsoft", "QuickGelu", 1, importQuickGelu},
    // ReductionOps.cpp, SoftmaxOp.cpp
    {"", "ArgMax", 1, importArgMax},
    {"", "ArgMin", 1, importArgMin},
    {"", "LogSoftmax", 1, importLogSoftmax},
    {"", "Hardmax", 1, importHardmax},
    // LossOps.cpp, GeneratorOps.cpp
    {"", "NegativeLogLikelihoodLoss", 12, importNegativeLogLikelihoodLoss},
    {"", "SoftmaxCrossEntropyLoss", 12, importSoftmaxCrossEntropyLoss},
    {"", "OneHot", 9, importOneHot},
    {"", "EyeLike", 9, importEyeLike},
    {"", "ReduceL1", 1, importReduceL1},
    {"", "ReduceL2", 1, importReduceL2},
    {"", "ReduceLogSum", 1, importReduceLogSum},
    {"", "ReduceLogSumExp", 1, importReduceLogSumExp},
    {"", "ReduceMax", 1, importReduceMax},
    {"", "ReduceMean", 1, importReduceMean},
    {"", "ReduceMin", 1, importReduceMin},
    {"", "ReduceProd", 1, importReduceProd},
    {"", "ReduceSum", 1, importReduceSum},
    {"", "ReduceSumSquare", 1, importReduceSumSquare},
    // NormOps.cpp (LayerNormalization before opset 17 and SimplifiedLayerNormalization are
    // onnxruntime's ONNX-domain contrib ops, with the semantics of LayerNormalization-17)
    {"", "LayerNormalization", 1, importLayerNormalization},
    {"", "RMSNormalization", 23, importRMSNormalization},
    {"", "SimplifiedLayerNormalization", 1, importSimplifiedLayerNormalization},
    {"com.microsoft", "SkipLayerNormalization", 1, importSkipLayerNormalization},
    {"com.microsoft", "SkipSimplifiedLayerNormalization", 1,
     importSkipSimplifiedLayerNormalization},
    {"", "GroupNormalization", 18, importGroupNormalization},
    {"", "InstanceNormalization", 6, importInstanceNormalization},
    {"", "LRN", 1, importLRN},
    {"", "MeanVarianceNormalization", 9, importMeanVarianceNormalization},
    // RecurrentOps.cpp
    {"", "GRU", 7, importGRU},
    {"", "LSTM", 7, importLSTM},
    {"", "RNN", 7, importRNN},
    // ShapeOps.cpp, IndexingOps.cpp
    {"", "Cast", 6, importCast},
    {"", "CastLike", 15, importCastLike},
    {"", "Concat", 4, importConcat},
    {"", "ConstantOfShape", 9, importConstantOfShape},
    {"", "CumSum", 11, importCumSum},
    {"", "Expand", 8, importExpand},
    {"", "Flatten", 1, importFlatten},
    {"", "Gather", 1, importGather},
    {"", "GatherElements", 11, importGatherElements},
    {"", "Range", 11, importRange},
    {"", "Shape", 1, importShape},
    {"", "Size", 1, importSize},
    {"", "Slice", 1, importSlice},
    {"", "Split", 2, importSplit},
    {"", "Squeeze", 1, importSqueeze},
    {"", "Tile", 6, importTile},
    {"", "Trilu", 14, importTrilu},
    {"", "Unsqueeze", 1, importUnsqueeze},
    {"", "Where", 9, importWhere},
    {"", "Compress", 9, importCompress},
    {"", "GatherND", 11, importGatherND},
    // TensorOps.cpp, ScatterOps.cpp
    {"", "DepthToSpace", 1, importDepthToSpace},
    {"", "SpaceToDepth", 1, importSpaceToDepth},
    {"", "Scatter", 9, importScatter},
    {"", "ScatterElements", 11, importScatterElements},
    {"", "ScatterND", 11, importScatterND},
    {"", "TensorScatter", 24, importTensorScatter},
    // QuantOps.cpp
    {"", "DynamicQuantizeLinear", 11, importDynamicQuantizeLinear},
    {"", "MatMulInteger", 10, importMatMulInteger},
    // QuantizeOps.cpp
    {"", "DequantizeLinear", 10, importDequantizeLinear},
    {"", "QuantizeLinear", 10, importQuantizeLinear},
    {"com.microsoft", "MatMulNBits", 1, importMatMulNBits},
    {"com.microsoft", "MatMulBnb4", 1, importMatMulBnb4},
    {"", "Attention", 23, importAttention},
    {"", "RotaryEmbedding", 23, importRotaryEmbedding},
    {"com.microsoft", "Attention", 1, importMsAttention},
    {"com.microsoft", "GroupQueryAttention", 1, importMsGroupQueryAttention},
    {"com.microsoft", "MultiHeadAttention", 1, importMsMultiHeadAttention},
    {"com.microsoft", "RotaryEmbedding", 1, importMsRotaryEmbedding},
    // ConvOps.cpp, MiscOps.cpp
    {"", "AveragePool", 7, importAveragePool},
    {"", "BatchNormalization", 7, importBatchNormalization},
    {"", "Conv", 1, importConv},
    {"", "ConvTranspose", 1, importConvTranspose},
    {"", "Einsum", 12, importEinsum},
    {"", "GlobalAveragePool", 1, importGlobalAveragePool},
    {"", "GlobalMaxPool", 1, importGlobalMaxPool},
    {"", "MaxPool", 1, importMaxPool},
    {"", "Pad", 2, importPad},
    {"", "Resize", 10, importResize},
    {"", "TopK", 1, importTopK},
};

ArrayRef<OpImporter> mlir::sqz::import::getOpImporters() { return kOpImporters; }

const OpImporter *mlir::sqz::import::lookupOpImporter(StringRef domain, StringRef opType) {
  if (domain == "ai.onnx")
    domain = "";
  for (const OpImporter &entry : kOpImporters)
    if (entry.domain == domain && entry.opType == opType)
      return &entry;
  return nullptr;
}
