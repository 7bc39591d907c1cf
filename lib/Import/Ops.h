//===- Ops.h - Import functions of ONNX ops ---------------------*- C++ -*-===//
//
// One function per supported ONNX op, grouped by file; OpTable.cpp lists them. To support a new
// op, write its function next to its kin and add one row to the table.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_IMPORT_OPS_H
#define SQZ_LIB_IMPORT_OPS_H

#include "GraphImporter.h"

namespace mlir::sqz::import {

// ElementwiseOps.cpp
LogicalResult importAdd(NodeContext &node);
LogicalResult importSub(NodeContext &node);
LogicalResult importMul(NodeContext &node);
LogicalResult importDiv(NodeContext &node);
LogicalResult importRelu(NodeContext &node);
LogicalResult importErf(NodeContext &node);
LogicalResult importGelu(NodeContext &node);

// MathOps.cpp
LogicalResult importSqrt(NodeContext &node);
LogicalResult importReciprocal(NodeContext &node);
LogicalResult importNeg(NodeContext &node);
LogicalResult importAbs(NodeContext &node);
LogicalResult importSign(NodeContext &node);
LogicalResult importExp(NodeContext &node);
LogicalResult importLog(NodeContext &node);
LogicalResult importTanh(NodeContext &node);
LogicalResult importSigmoid(NodeContext &node);
LogicalResult importFloor(NodeContext &node);
LogicalResult importCeil(NodeContext &node);
LogicalResult importRound(NodeContext &node);
LogicalResult importSin(NodeContext &node);
LogicalResult importCos(NodeContext &node);
LogicalResult importTan(NodeContext &node);
LogicalResult importAsin(NodeContext &node);
LogicalResult importAcos(NodeContext &node);
LogicalResult importAtan(NodeContext &node);
LogicalResult importSinh(NodeContext &node);
LogicalResult importCosh(NodeContext &node);
LogicalResult importAsinh(NodeContext &node);
LogicalResult importAcosh(NodeContext &node);
LogicalResult importAtanh(NodeContext &node);
LogicalResult importIsNaN(NodeContext &node);
LogicalResult importIsInf(NodeContext &node);
LogicalResult importCelu(NodeContext &node);
LogicalResult importShrink(NodeContext &node);
LogicalResult importBitShift(NodeContext &node);
LogicalResult importDropout(NodeContext &node);
LogicalResult importSoftplus(NodeContext &node);
LogicalResult importSoftsign(NodeContext &node);
LogicalResult importLeakyRelu(NodeContext &node);
LogicalResult importElu(NodeContext &node);
LogicalResult importSelu(NodeContext &node);
LogicalResult importHardSigmoid(NodeContext &node);
LogicalResult importHardSwish(NodeContext &node);
LogicalResult importThresholdedRelu(NodeContext &node);
LogicalResult importPRelu(NodeContext &node);
LogicalResult importNot(NodeContext &node);
LogicalResult importPow(NodeContext &node);
LogicalResult importMod(NodeContext &node);
LogicalResult importMin(NodeContext &node);
LogicalResult importMax(NodeContext &node);
LogicalResult importSum(NodeContext &node);
LogicalResult importMean(NodeContext &node);
LogicalResult importClip(NodeContext &node);
LogicalResult importEqual(NodeContext &node);
LogicalResult importLess(NodeContext &node);
LogicalResult importLessOrEqual(NodeContext &node);
LogicalResult importGreater(NodeContext &node);
LogicalResult importGreaterOrEqual(NodeContext &node);
LogicalResult importAnd(NodeContext &node);
LogicalResult importOr(NodeContext &node);
LogicalResult importXor(NodeContext &node);
LogicalResult importFastGelu(NodeContext &node);
LogicalResult importBiasGelu(NodeContext &node);
LogicalResult importMsGelu(NodeContext &node);
LogicalResult importQuickGelu(NodeContext &node);

// ReductionOps.cpp
LogicalResult importReduceSum(NodeContext &node);
LogicalResult importReduceMean(NodeContext &node);
LogicalResult importReduceMax(NodeContext &node);
LogicalResult importReduceMin(NodeContext &node);
LogicalResult importReduceProd(NodeContext &node);
LogicalResult importReduceL1(NodeContext &node);
LogicalResult importReduceL2(NodeContext &node);
LogicalResult importReduceSumSquare(NodeContext &node);
LogicalResult importReduceLogSum(NodeContext &node);
LogicalResult importReduceLogSumExp(NodeContext &node);
LogicalResult importArgMax(NodeContext &node);
LogicalResult importArgMin(NodeContext &node);

// NormOps.cpp
LogicalResult importLayerNormalization(NodeContext &node);
LogicalResult importRMSNormalization(NodeContext &node);
LogicalResult importSimplifiedLayerNormalization(NodeContext &node);
LogicalResult importSkipLayerNormalization(NodeContext &node);
LogicalResult importSkipSimplifiedLayerNormalization(NodeContext &node);
LogicalResult importInstanceNormalization(NodeContext &node);
LogicalResult importGroupNormalization(NodeContext &node);
LogicalResult importMeanVarianceNormalization(NodeContext &node);
LogicalResult importLRN(NodeContext &node);

// RecurrentOps.cpp
LogicalResult importRNN(NodeContext &node);
LogicalResult importGRU(NodeContext &node);
LogicalResult importLSTM(NodeContext &node);

// AttentionOps.cpp
LogicalResult importAttention(NodeContext &node);
LogicalResult importRotaryEmbedding(NodeContext &node);
LogicalResult importMsAttention(NodeContext &node);
LogicalResult importMsGroupQueryAttention(NodeContext &node);
LogicalResult importMsMultiHeadAttention(NodeContext &node);
LogicalResult importMsRotaryEmbedding(NodeContext &node);

// SoftmaxOp.cpp
LogicalResult importSoftmax(NodeContext &node);
LogicalResult importLogSoftmax(NodeContext &node);
LogicalResult importHardmax(NodeContext &node);

// LossOps.cpp
LogicalResult importNegativeLogLikelihoodLoss(NodeContext &node);
LogicalResult importSoftmaxCrossEntropyLoss(NodeContext &node);

// GeneratorOps.cpp
LogicalResult importOneHot(NodeContext &node);
LogicalResult importEyeLike(NodeContext &node);

// LinearOps.cpp
LogicalResult importMatMul(NodeContext &node);
LogicalResult importGemm(NodeContext &node);

// TensorOps.cpp
LogicalResult importConstant(NodeContext &node);
LogicalResult importIdentity(NodeContext &node);
LogicalResult importReshape(NodeContext &node);
LogicalResult importTranspose(NodeContext &node);
LogicalResult importDepthToSpace(NodeContext &node);
LogicalResult importSpaceToDepth(NodeContext &node);

// ShapeOps.cpp
LogicalResult importShape(NodeContext &node);
LogicalResult importSize(NodeContext &node);
LogicalResult importUnsqueeze(NodeContext &node);
LogicalResult importSqueeze(NodeContext &node);
LogicalResult importFlatten(NodeContext &node);
LogicalResult importConcat(NodeContext &node);
LogicalResult importSplit(NodeContext &node);
LogicalResult importSlice(NodeContext &node);
LogicalResult importExpand(NodeContext &node);
LogicalResult importTile(NodeContext &node);
LogicalResult importConstantOfShape(NodeContext &node);
LogicalResult importRange(NodeContext &node);

// IndexingOps.cpp
LogicalResult importGather(NodeContext &node);
LogicalResult importGatherElements(NodeContext &node);
LogicalResult importWhere(NodeContext &node);
LogicalResult importCast(NodeContext &node);
LogicalResult importCastLike(NodeContext &node);
LogicalResult importTrilu(NodeContext &node);
LogicalResult importCumSum(NodeContext &node);
LogicalResult importGatherND(NodeContext &node);
LogicalResult importCompress(NodeContext &node);

// ScatterOps.cpp
LogicalResult importScatter(NodeContext &node);
LogicalResult importScatterElements(NodeContext &node);
LogicalResult importScatterND(NodeContext &node);
LogicalResult importTensorScatter(NodeContext &node);

// QuantOps.cpp
LogicalResult importDynamicQuantizeLinear(NodeContext &node);
LogicalResult importMatMulInteger(NodeContext &node);

// QuantizeOps.cpp
LogicalResult importQuantizeLinear(NodeContext &node);
LogicalResult importDequantizeLinear(NodeContext &node);
LogicalResult importMatMulNBits(NodeContext &node);
LogicalResult importMatMulBnb4(NodeContext &node);

// ConvOps.cpp
LogicalResult importConv(NodeContext &node);
LogicalResult importConvTranspose(NodeContext &node);
LogicalResult importMaxPool(NodeContext &node);
LogicalResult importAveragePool(NodeContext &node);
LogicalResult importGlobalAveragePool(NodeContext &node);
LogicalResult importGlobalMaxPool(NodeContext &node);
LogicalResult importBatchNormalization(NodeContext &node);
LogicalResult importPad(NodeContext &node);

// MiscOps.cpp
LogicalResult importEinsum(NodeContext &node);
LogicalResult importTopK(NodeContext &node);
LogicalResult importResize(NodeContext &node);

// MoEOps.cpp
LogicalResult importMicrosoftMoE(NodeContext &node);
LogicalResult importMicrosoftQMoE(NodeContext &node);

} // namespace mlir::sqz::import

#endif // SQZ_LIB_IMPORT_OPS_H
