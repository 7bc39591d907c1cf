//===- AttentionOps.cpp - ONNX RotaryEmbedding and Attention (opset 23) ---===//
//
// The fused transformer ops of opset 23/24, lowered densely to upstream tensor
// IR:
//
// RotaryEmbedding: one `linalg.generic` over the output. Each element reads its
// own input element and its rotation partner (`tensor.extract`), and the
// cos/sin entry of its position (gathered from the caches through
// `position_ids` when given):
//   first half / even element d:  y = cos[k]·x[d] − sin[k]·x[partner]
//   second half / odd element d:  y = cos[k]·x[d] + sin[k]·x[partner]
// with k = d (d − rd/2) and partner d + rd/2 (d − rd/2) in the half-split
// layout, k = d/2 and partner d ± 1 when interleaved; elements past
// rotary_embedding_dim are copied.
//
// Attention: Q, K, V are brought to [B, H, S, D] (3-D inputs are split into
// heads and transposed). The q heads are grouped by the kv head they share
// (GQA: q head h uses kv head h / (Hq/Hkv)), so every stage works on [B, Hkv,
// G, Sq, T] and reads K/V through projected permutation maps, without
// materializing repeated K/V:
//   scores = Q·Kᵀ (contraction generic) · scale → softcap (c·tanh(x/c)) → +
//   attn_mask (bool: 0 / −inf; padded with −inf/false up to T), causal (key j ≤
//   i + offset, offset = past length, or nonpad_kv_seqlen[b] − Sq without past)
//   and padding (j < nonpad[b]) as −inf → softmax over keys (max-subtract;
//   fully masked rows give 0, not NaN) → ·V (contraction).
// past_key/past_value are concatenated in front of K/V along the sequence
// (present_key/value). float16 inputs are computed in f32 and the results
// truncated.
//
//===----------------------------------------------------------------------===//

#include "ImportBuilders.h"
#include "Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "llvm/ADT/APFloat.h"

#include <cmath>

using namespace mlir;
using namespace mlir::sqz::import;

namespace {

/// An affine map over `numDims` loops selecting `dims`.
AffineMap getDimsMap(MLIRContext *context, unsigned numDims,
                     ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, context));
  return AffineMap::get(numDims, 0, exprs, context);
}

/// out[outDims] = sum over the loops not in outDims of lhs[lhsDims] *
/// rhs[rhsDims] (a `linalg.generic` in the operands' float type, from zero).
Value buildContraction(OpBuilder &b, Location loc, Value lhs,
                       ArrayRef<unsigned> lhsDims, Value rhs,
                       ArrayRef<unsigned> rhsDims, ArrayRef<unsigned> outDims,
                       ArrayRef<int64_t> loopSizes) {
  MLIRContext *context = b.getContext();
  unsigned numLoops = loopSizes.size();
  Type elementType = cast<RankedTensorType>(lhs.getType()).getElementType();
  SmallVector<int64_t> outShape;
  for (unsigned d : outDims)
    outShape.push_back(loopSizes[d]);
  Value init = createFilled(b, loc, outShape, elementType,
                            b.getFloatAttr(elementType, 0.0));
  SmallVector<utils::IteratorType> iterators(numLoops,
                                             utils::IteratorType::reduction);
  for (unsigned d : outDims)
    iterators[d] = utils::IteratorType::parallel;
  SmallVector<AffineMap> maps = {getDimsMap(context, numLoops, lhsDims),
                                 getDimsMap(context, numLoops, rhsDims),
                                 getDimsMap(context, numLoops, outDims)};
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{lhs, rhs},
             ValueRange{init}, maps, iterators,
             [](OpBuilder &nb, Location nl, ValueRange args) {
               Value product = arith::MulFOp::create(nb, nl, args[0], args[1]);
               Value sum = arith::AddFOp::create(nb, nl, args[2], product);
               linalg::YieldOp::create(nb, nl, sum);
             })
      .getResult(0);
}

/// Converts a float tensor to `elementType` (extf/truncf); returns it unchanged
/// when equal.
Value convertFloat(OpBuilder &b, Location loc, Value input, Type elementType) {
  auto type = cast<RankedTensorType>(input.getType());
  if (type.getElementType() == elementType)
    return input;
  bool widen = cast<FloatType>(type.getElementType()).getWidth() <
               cast<FloatType>(elementType).getWidth();
  return buildElementwise(
      b, loc, ValueRange{input}, type.getShape(), elementType,
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        if (widen)
          return arith::ExtFOp::create(nb, nl, elementType, args[0]);
        return arith::TruncFOp::create(nb, nl, elementType, args[0]);
      });
}

/// `first` and `second` concatenated along `dim`, or (without `second`) `first`
/// padded along `dim` up to `paddedSize` with `fill`. One `linalg.generic` that
/// reads its sources with clamped `tensor.extract`s and selects: strided
/// `tensor.insert_slice`s would bufferize to `memref.copy` calls into a runtime
/// library the artifact does not link.
Value buildJoin(OpBuilder &b, Location loc, Value first, Value second,
                int64_t dim, int64_t paddedSize, TypedAttr fill) {
  auto firstType = cast<RankedTensorType>(first.getType());
  SmallVector<int64_t> shape(firstType.getShape());
  int64_t firstSize = shape[dim];
  shape[dim] =
      second
          ? firstSize + cast<RankedTensorType>(second.getType()).getDimSize(dim)
          : paddedSize;
  int64_t rank = shape.size();
  Value init = createEmpty(b, loc, shape, firstType.getElementType());
  MLIRContext *context = b.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, context);
  SmallVector<utils::IteratorType> parallel(rank,
                                            utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{}, ValueRange{init},
             ArrayRef<AffineMap>{identity}, parallel,
             [&](OpBuilder &nb, Location nl, ValueRange) {
               SmallVector<Value> indices;
               for (int64_t d = 0; d < rank; ++d)
                 indices.push_back(linalg::IndexOp::create(nb, nl, d));
               Value t = indices[dim];
               Value size = arith::ConstantIndexOp::create(nb, nl, firstSize);
               Value inFirst = arith::CmpIOp::create(
                   nb, nl, arith::CmpIPredicate::ult, t, size);
               SmallVector<Value> firstIndices = indices;
               Value last =
                   arith::ConstantIndexOp::create(nb, nl, firstSize - 1);
               firstIndices[dim] = arith::MinUIOp::create(nb, nl, t, last);
               Value fromFirst =
                   tensor::ExtractOp::create(nb, nl, first, firstIndices);
               Value other;
               if (second) {
                 SmallVector<Value> secondIndices = indices;
                 Value shifted = arith::SubIOp::create(nb, nl, t, size);
                 Value zero = arith::ConstantIndexOp::create(nb, nl, 0);
                 secondIndices[dim] =
                     arith::SelectOp::create(nb, nl, inFirst, zero, shifted);
                 other =
                     tensor::ExtractOp::create(nb, nl, second, secondIndices);
               } else {
                 other = arith::ConstantOp::create(nb, nl, fill);
               }
               Value value =
                   arith::SelectOp::create(nb, nl, inFirst, fromFirst, other);
               linalg::YieldOp::create(nb, nl, value);
             })
      .getResult(0);
}

void printShape(InFlightDiagnostic &diag, ArrayRef<int64_t> shape) {
  diag << "[";
  llvm::interleave(shape, diag, ",");
  diag << "]";
}

} // namespace

//===----------------------------------------------------------------------===//
// RotaryEmbedding
//===----------------------------------------------------------------------===//

LogicalResult mlir::sqz::import::importRotaryEmbedding(NodeContext &node) {
  if (failed(node.checkNumInputs(3, 4)))
    return failure();
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError()
           << "expected a float input, got '" << getDTypeName(dtype) << "'";
  for (unsigned i : {1u, 2u})
    if (node.getInputDType(i) != dtype)
      return node.emitError()
             << (i == 1 ? "cos_cache" : "sin_cache")
             << " must have the input's dtype '" << getDTypeName(dtype) << "'";
  FailureOr<int64_t> interleaved = node.getIntAttr("interleaved", 0);
  FailureOr<int64_t> rotaryDimAttr = node.getIntAttr("rotary_embedding_dim", 0);
  FailureOr<int64_t> numHeadsAttr = node.getIntAttr("num_heads", 0);
  if (failed(interleaved) || failed(rotaryDimAttr) || failed(numHeadsAttr))
    return failure();

  RankedTensorType xType = node.getInputType(0);
  ArrayRef<int64_t> xShape = xType.getShape();
  int64_t rank = xType.getRank();
  if (rank != 3 && rank != 4)
    return node.emitError()
           << "expected a 3-D [batch, seq, hidden] or 4-D [batch, heads, seq, "
              "head_size] input, got rank "
           << rank;
  int64_t batch = xShape[0];
  int64_t seq = rank == 4 ? xShape[2] : xShape[1];
  int64_t numHeads, headSize;
  if (rank == 4) {
    numHeads = xShape[1];
    headSize = xShape[3];
    if (*numHeadsAttr != 0 && *numHeadsAttr != numHeads)
      return node.emitError()
             << "num_heads " << *numHeadsAttr << " does not match the "
             << numHeads << " heads of the 4-D input";
  } else {
    if (*numHeadsAttr <= 0)
      return node.emitError()
             << "a 3-D input needs a positive num_heads attribute, got "
             << *numHeadsAttr;
    numHeads = *numHeadsAttr;
    if (xShape[2] % numHeads != 0)
      return node.emitError() << "hidden size " << xShape[2]
                              << " is not divisible by num_heads " << numHeads;
    headSize = xShape[2] / numHeads;
  }
  int64_t rotaryDim = *rotaryDimAttr == 0 ? headSize : *rotaryDimAttr;
  if (rotaryDim < 0 || rotaryDim > headSize || rotaryDim % 2 != 0)
    return node.emitError()
           << "rotary_embedding_dim " << rotaryDim
           << " must be even and at most the head size " << headSize;
  int64_t half = rotaryDim / 2;

  RankedTensorType cosType = node.getInputType(1);
  if (node.getInputType(2) != cosType)
    return node.emitError()
           << "cos_cache and sin_cache must have the same shape";
  bool hasPositions = node.hasInput(3);
  if (hasPositions) {
    if (node.getInputDType(3) != onnx::TensorProto::INT64)
      return node.emitError() << "position_ids must be int64";
    RankedTensorType posType = node.getInputType(3);
    if (posType.getRank() != 2 || posType.getDimSize(0) != batch ||
        posType.getDimSize(1) != seq) {
      InFlightDiagnostic diag = node.emitError()
                                << "position_ids must have shape [" << batch
                                << "," << seq << "], got ";
      printShape(diag, posType.getShape());
      return diag;
    }
    if (cosType.getRank() != 2 || cosType.getDimSize(0) < 1 ||
        cosType.getDimSize(1) != half) {
      InFlightDiagnostic diag =
          node.emitError()
          << "with position_ids, cos_cache must have shape [max_position, "
          << half << "], got ";
      printShape(diag, cosType.getShape());
      return diag;
    }
  } else if (cosType.getRank() != 3 || cosType.getDimSize(0) != batch ||
             cosType.getDimSize(1) != seq || cosType.getDimSize(2) != half) {
    InFlightDiagnostic diag =
        node.emitError() << "without position_ids, cos_cache must have "
                            "shape ["
                         << batch << "," << seq << "," << half << "], got ";
    printShape(diag, cosType.getShape());
    return diag;
  }

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Value x = node.getInput(0);
  Value cosCache = node.getInput(1);
  Value sinCache = node.getInput(2);
  Value positions = hasPositions ? node.getInput(3) : Value();

  // Work on a 4-D view: [B, H, S, D] for 4-D inputs, [B, S, H, D] for 3-D ones.
  SmallVector<int64_t> viewShape =
      rank == 4 ? SmallVector<int64_t>(xShape)
                : SmallVector<int64_t>{batch, seq, numHeads, headSize};
  Value xView = buildReshape(b, loc, x, viewShape);
  unsigned seqDim = rank == 4 ? 2 : 1;
  Type elementType = xType.getElementType();
  bool isInterleaved = *interleaved != 0;

  Value init = createEmpty(b, loc, viewShape, elementType);
  MLIRContext *context = b.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(4, context);
  SmallVector<utils::IteratorType> parallel(4, utils::IteratorType::parallel);
  Value result =
      linalg::GenericOp::create(
          b, loc, TypeRange{init.getType()}, ValueRange{xView},
          ValueRange{init}, ArrayRef<AffineMap>{identity, identity}, parallel,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            auto index = [&](int64_t value) {
              return arith::ConstantIndexOp::create(nb, nl, value).getResult();
            };
            Value i0 = linalg::IndexOp::create(nb, nl, 0);
            Value i1 = linalg::IndexOp::create(nb, nl, 1);
            Value i2 = linalg::IndexOp::create(nb, nl, 2);
            Value d = linalg::IndexOp::create(nb, nl, 3);
            Value s = seqDim == 2 ? i2 : i1;
            Value zero = index(0);
            // first: the element takes the "real" part (−sin); k: its cos/sin
            // column.
            Value first, k, partner;
            if (isInterleaved) {
              Value parity = arith::RemUIOp::create(nb, nl, d, index(2));
              first = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq,
                                            parity, zero);
              k = arith::DivUIOp::create(nb, nl, d, index(2));
              Value next = arith::AddIOp::create(nb, nl, d, index(1));
              Value prev = arith::SubIOp::create(nb, nl, d, index(1));
              partner = arith::SelectOp::create(nb, nl, first, next, prev);
            } else {
              first = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult,
                                            d, index(half));
              Value up = arith::AddIOp::create(nb, nl, d, index(half));
              Value down = arith::SubIOp::create(nb, nl, d, index(half));
              k = arith::SelectOp::create(nb, nl, first, d, down);
              partner = arith::SelectOp::create(nb, nl, first, up, down);
            }
            // Elements past the rotary dims are copied; clamp their indices to
            // stay in bounds.
            Value rotated;
            if (rotaryDim < headSize) {
              rotated = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult,
                                              d, index(rotaryDim));
              k = arith::SelectOp::create(nb, nl, rotated, k, zero);
              partner = arith::SelectOp::create(nb, nl, rotated, partner, d);
            }
            Value cosValue, sinValue;
            if (positions) {
              Value pos = tensor::ExtractOp::create(nb, nl, positions,
                                                    ValueRange{i0, s});
              // Positions outside the cache are clamped to it (never read out
              // of bounds).
              Value posIndex =
                  arith::IndexCastOp::create(nb, nl, nb.getIndexType(), pos);
              posIndex = arith::MaxSIOp::create(nb, nl, posIndex, zero);
              posIndex = arith::MinSIOp::create(
                  nb, nl, posIndex, index(cosType.getDimSize(0) - 1));
              cosValue = tensor::ExtractOp::create(nb, nl, cosCache,
                                                   ValueRange{posIndex, k});
              sinValue = tensor::ExtractOp::create(nb, nl, sinCache,
                                                   ValueRange{posIndex, k});
            } else {
              cosValue = tensor::ExtractOp::create(nb, nl, cosCache,
                                                   ValueRange{i0, s, k});
              sinValue = tensor::ExtractOp::create(nb, nl, sinCache,
                                                   ValueRange{i0, s, k});
            }
            Value other = tensor::ExtractOp::create(
                nb, nl, xView, ValueRange{i0, i1, i2, partner});
            Value own = args[0];
            Value cosTerm = arith::MulFOp::create(nb, nl, cosValue, own);
            Value sinTerm = arith::MulFOp::create(nb, nl, sinValue, other);
            Value minus = arith::SubFOp::create(nb, nl, cosTerm, sinTerm);
            Value plus = arith::AddFOp::create(nb, nl, cosTerm, sinTerm);
            Value value = arith::SelectOp::create(nb, nl, first, minus, plus);
            if (rotated)
              value = arith::SelectOp::create(nb, nl, rotated, value, own);
            linalg::YieldOp::create(nb, nl, value);
          })
          .getResult(0);
  node.setResult(0, buildReshape(b, loc, result, xShape), dtype);
  return success();
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

LogicalResult mlir::sqz::import::importAttention(NodeContext &node) {
  unsigned maxInputs = node.getOpset() >= 24 ? 7 : 6;
  if (failed(node.checkNumInputs(3, maxInputs)))
    return failure();
  FailureOr<int64_t> isCausalAttr = node.getIntAttr("is_causal", 0);
  FailureOr<int64_t> qHeadsAttr = node.getIntAttr("q_num_heads", 0);
  FailureOr<int64_t> kvHeadsAttr = node.getIntAttr("kv_num_heads", 0);
  FailureOr<int64_t> qkModeAttr = node.getIntAttr("qk_matmul_output_mode", 0);
  FailureOr<float> softcapAttr = node.getFloatAttr("softcap", 0.0f);
  FailureOr<float> scaleAttr = node.getFloatAttr("scale", 0.0f);
  FailureOr<int64_t> precisionAttr = node.getIntAttr("softmax_precision", 0);
  if (failed(isCausalAttr) || failed(qHeadsAttr) || failed(kvHeadsAttr) ||
      failed(qkModeAttr) || failed(softcapAttr) || failed(scaleAttr) ||
      failed(precisionAttr))
    return failure();

  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError()
           << "expected float Q, got '" << getDTypeName(dtype) << "'";
  for (unsigned i : {1u, 2u, 4u, 5u})
    if (node.hasInput(i) && node.getInputDType(i) != dtype)
      return node.emitError()
             << "input " << i << " must have Q's dtype '" << getDTypeName(dtype)
             << "', got '" << getDTypeName(node.getInputDType(i)) << "'";
  if (*precisionAttr != 0 &&
      !isFloatDType(static_cast<int32_t>(*precisionAttr)))
    return node.emitError()
           << "softmax_precision must be a float dtype, got " << *precisionAttr;

  bool wantsPresentKey =
      node.getNode().output_size() > 1 && !node.getNode().output(1).empty();
  bool wantsPresentValue =
      node.getNode().output_size() > 2 && !node.getNode().output(2).empty();
  bool wantsQK =
      node.getNode().output_size() > 3 && !node.getNode().output(3).empty();
  int64_t qkMode = *qkModeAttr;
  if (qkMode < 0 || qkMode > 3)
    return node.emitError()
           << "unsupported qk_matmul_output_mode " << qkMode
           << " (supported: 0 raw scores, 1 after softcap, 2 after the mask, "
              "3 after softmax)";

  RankedTensorType qType = node.getInputType(0);
  RankedTensorType kType = node.getInputType(1);
  RankedTensorType vType = node.getInputType(2);
  int64_t rank = qType.getRank();
  if ((rank != 3 && rank != 4) || kType.getRank() != rank ||
      vType.getRank() != rank)
    return node.emitError()
           << "Q, K and V must all be 3-D [batch, seq, hidden] or all 4-D "
              "[batch, heads, seq, head_size], got ranks "
           << rank << ", " << kType.getRank() << ", " << vType.getRank();
  int64_t batch = qType.getDimSize(0);
  if (kType.getDimSize(0) != batch || vType.getDimSize(0) != batch)
    return node.emitError() << "Q, K and V must have the same batch size";

  int64_t qHeads, kvHeads, qSeq, kvSeq, headSize, vHeadSize;
  if (rank == 3) {
    if (*qHeadsAttr <= 0 || *kvHeadsAttr <= 0)
      return node.emitError()
             << "3-D inputs need positive q_num_heads and kv_num_heads, got "
             << *qHeadsAttr << " and " << *kvHeadsAttr;
    qHeads = *qHeadsAttr;
    kvHeads = *kvHeadsAttr;
    if (qType.getDimSize(2) % qHeads != 0)
      return node.emitError() << "Q hidden size " << qType.getDimSize(2)
                              << " is not divisible by q_num_heads " << qHeads;
    if (kType.getDimSize(2) % kvHeads != 0 ||
        vType.getDimSize(2) % kvHeads != 0)
      return node.emitError()
             << "K/V hidden sizes " << kType.getDimSize(2) << "/"
             << vType.getDimSize(2) << " are not divisible by kv_num_heads "
             << kvHeads;
    qSeq = qType.getDimSize(1);
    kvSeq = kType.getDimSize(1);
    headSize = qType.getDimSize(2) / qHeads;
    if (kType.getDimSize(2) / kvHeads != headSize)
      return node.emitError() << "Q and K head sizes differ (" << headSize
                              << " vs " << kType.getDimSize(2) / kvHeads << ")";
    vHeadSize = vType.getDimSize(2) / kvHeads;
    if (vType.getDimSize(1) != kvSeq)
      return node.emitError() << "K and V must have the same sequence length";
  } else {
    qHeads = qType.getDimSize(1);
    kvHeads = kType.getDimSize(1);
    qSeq = qType.getDimSize(2);
    kvSeq = kType.getDimSize(2);
    headSize = qType.getDimSize(3);
    vHeadSize = vType.getDimSize(3);
    if ((*qHeadsAttr != 0 && *qHeadsAttr != qHeads) ||
        (*kvHeadsAttr != 0 && *kvHeadsAttr != kvHeads))
      return node.emitError()
             << "q_num_heads/kv_num_heads (" << *qHeadsAttr << "/"
             << *kvHeadsAttr << ") do not match the 4-D inputs' heads ("
             << qHeads << "/" << kvHeads << ")";
    if (kType.getDimSize(3) != headSize)
      return node.emitError() << "Q and K head sizes differ (" << headSize
                              << " vs " << kType.getDimSize(3) << ")";
    if (vType.getDimSize(1) != kvHeads || vType.getDimSize(2) != kvSeq)
      return node.emitError()
             << "K and V must have the same heads and sequence length";
  }
  if (qHeads % kvHeads != 0)
    return node.emitError()
           << "q_num_heads " << qHeads << " must be a multiple of kv_num_heads "
           << kvHeads;
  int64_t group = qHeads / kvHeads;

  // past_key / past_value: [B, Hkv, P, D].
  bool hasPast = node.hasInput(4) || node.hasInput(5);
  int64_t pastSeq = 0;
  if (hasPast) {
    if (!node.hasInput(4) || !node.hasInput(5))
      return node.emitError()
             << "past_key and past_value must be given together";
    RankedTensorType pkType = node.getInputType(4);
    RankedTensorType pvType = node.getInputType(5);
    pastSeq = pkType.getRank() == 4 ? pkType.getDimSize(2) : -1;
    if (pkType.getRank() != 4 || pvType.getRank() != 4 ||
        pkType.getShape() !=
            ArrayRef<int64_t>{batch, kvHeads, pastSeq, headSize} ||
        pvType.getShape() !=
            ArrayRef<int64_t>{batch, kvHeads, pastSeq, vHeadSize}) {
      InFlightDiagnostic diag = node.emitError()
                                << "past_key/past_value must have shapes ["
                                << batch << "," << kvHeads << ",P," << headSize
                                << "] and [" << batch << "," << kvHeads << ",P,"
                                << vHeadSize << "], got ";
      printShape(diag, pkType.getShape());
      diag << " and ";
      printShape(diag, pvType.getShape());
      return diag;
    }
  }
  int64_t total = pastSeq + kvSeq;

  // attn_mask: broadcastable to [B, Hq, Sq, T], the last dim possibly shorter
  // than T.
  bool hasMask = node.hasInput(3);
  bool boolMask = false;
  RankedTensorType maskType;
  if (hasMask) {
    int32_t maskDType = node.getInputDType(3);
    boolMask = maskDType == onnx::TensorProto::BOOL;
    if (!boolMask && maskDType != dtype)
      return node.emitError()
             << "attn_mask must be bool or Q's dtype '" << getDTypeName(dtype)
             << "', got '" << getDTypeName(maskDType) << "'";
    maskType = node.getInputType(3);
    ArrayRef<int64_t> maskShape = maskType.getShape();
    bool ok = maskType.getRank() >= 1 && maskType.getRank() <= 4 &&
              maskShape.back() <= total && maskShape.back() >= 1;
    SmallVector<int64_t> full = {batch, qHeads, qSeq, total};
    for (int64_t i = 0, r = maskType.getRank(); ok && i + 1 < r; ++i) {
      int64_t dim = maskShape[i];
      int64_t target = full[4 - r + i];
      ok = dim == 1 || dim == target;
    }
    if (!ok) {
      InFlightDiagnostic diag = node.emitError() << "attn_mask of shape ";
      printShape(diag, maskShape);
      diag << " does not broadcast to [" << batch << "," << qHeads << ","
           << qSeq << "," << total << "]";
      return diag;
    }
  }

  bool hasNonpad = node.hasInput(6);
  if (hasNonpad) {
    RankedTensorType nonpadType = node.getInputType(6);
    if (node.getInputDType(6) != onnx::TensorProto::INT64 ||
        nonpadType.getRank() != 1 || nonpadType.getDimSize(0) != batch)
      return node.emitError()
             << "nonpad_kv_seqlen must be an int64 tensor of shape [" << batch
             << "]";
  }

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  MLIRContext *context = b.getContext();
  Type ioType = qType.getElementType();
  Type f32 = b.getF32Type();
  Type computeType = cast<FloatType>(ioType).getWidth() < 32 ? f32 : ioType;
  auto floatType = cast<FloatType>(computeType);
  TypedAttr negInfAttr = b.getFloatAttr(
      floatType,
      llvm::APFloat::getInf(floatType.getFloatSemantics(), /*Negative=*/true));

  // To [B, H, S, D].
  auto toHeads = [&](Value value, int64_t heads) -> Value {
    if (rank == 4)
      return value;
    ArrayRef<int64_t> shape =
        cast<RankedTensorType>(value.getType()).getShape();
    Value split = buildReshape(b, loc, value,
                               {shape[0], shape[1], heads, shape[2] / heads});
    return buildTranspose(b, loc, split, {0, 2, 1, 3});
  };
  Value q = toHeads(node.getInput(0), qHeads);
  Value k = toHeads(node.getInput(1), kvHeads);
  Value v = toHeads(node.getInput(2), kvHeads);
  if (hasPast) {
    // An empty past (P = 0) adds nothing.
    if (pastSeq > 0) {
      k = buildJoin(b, loc, node.getInput(4), k, 2, 0, {});
      v = buildJoin(b, loc, node.getInput(5), v, 2, 0, {});
    }
  }
  if (wantsPresentKey)
    node.setResult(1, k, dtype);
  if (wantsPresentValue)
    node.setResult(2, v, dtype);
  q = convertFloat(b, loc, q, computeType);
  k = convertFloat(b, loc, k, computeType);
  v = convertFloat(b, loc, v, computeType);

  // Group the q heads by kv head: [B, Hkv, G, Sq, D].
  q = buildReshape(b, loc, q, {batch, kvHeads, group, qSeq, headSize});
  // Loops (b, kv, g, i, j, d): scores[b, kv, g, i, j] = sum_d q[b, kv, g, i, d]
  // · k[b, kv, j, d].
  Value scores = buildContraction(
      b, loc, q, {0, 1, 2, 3, 5}, k, {0, 1, 4, 5}, {0, 1, 2, 3, 4},
      {batch, kvHeads, group, qSeq, total, headSize});
  SmallVector<int64_t> scoreShape = {batch, kvHeads, group, qSeq, total};
  SmallVector<int64_t> qkShape = {batch, qHeads, qSeq, total};

  double scale = node.getAttr("scale")
                     ? static_cast<double>(*scaleAttr)
                     : 1.0 / std::sqrt(static_cast<double>(headSize));
  double softcap = *softcapAttr;
  auto scaled = [&](bool withSoftcap) {
    return buildElementwise(
        b, loc, ValueRange{scores}, scoreShape, computeType,
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value x = arith::MulFOp::create(
              nb, nl, args[0], createScalar(nb, nl, computeType, scale));
          if (withSoftcap && softcap > 0) {
            Value cap = createScalar(nb, nl, computeType, softcap);
            x = math::TanhOp::create(nb, nl,
                                     arith::DivFOp::create(nb, nl, x, cap));
            x = arith::MulFOp::create(nb, nl, x, cap);
          }
          return x;
        });
  };
  Value capped = scaled(/*withSoftcap=*/true);
  auto setQK = [&](Value value) {
    value = buildReshape(b, loc, value, qkShape);
    node.setResult(3, convertFloat(b, loc, value, ioType), dtype);
  };
  if (wantsQK && qkMode <= 1)
    setQK(qkMode == 0 && softcap > 0 ? scaled(/*withSoftcap=*/false) : capped);

  // Bias: mask, causal and padding.
  Value biased = capped;
  bool isCausal = *isCausalAttr != 0;
  if (hasMask || isCausal || hasNonpad) {
    SmallVector<Value> inputs = {capped};
    SmallVector<AffineMap> maps = {
        AffineMap::getMultiDimIdentityMap(5, context)};
    if (hasMask) {
      Value mask = node.getInput(3);
      // Pad the key dim up to T (−inf / false) and bring the mask to 4-D.
      ArrayRef<int64_t> maskShape = maskType.getShape();
      if (maskShape.back() < total) {
        Type maskElement = maskType.getElementType();
        TypedAttr fill =
            boolMask ? TypedAttr(b.getBoolAttr(false))
                     : TypedAttr(b.getFloatAttr(
                           maskElement,
                           llvm::APFloat::getInf(
                               cast<FloatType>(maskElement).getFloatSemantics(),
                               /*Negative=*/true)));
        mask =
            buildJoin(b, loc, mask, Value(), maskShape.size() - 1, total, fill);
      }
      SmallVector<int64_t> mask4(4 - maskShape.size(), 1);
      llvm::append_range(mask4,
                         cast<RankedTensorType>(mask.getType()).getShape());
      mask = buildReshape(b, loc, mask, mask4);
      // Split the head dim into (kv, g) and read it through a broadcasting map.
      SmallVector<int64_t> mask5 = {mask4[0], mask4[1] == 1 ? 1 : kvHeads,
                                    mask4[1] == 1 ? 1 : group, mask4[2],
                                    mask4[3]};
      mask = buildReshape(b, loc, mask, mask5);
      SmallVector<AffineExpr> exprs;
      for (unsigned d = 0; d < 5; ++d)
        exprs.push_back(mask5[d] == 1 && scoreShape[d] != 1
                            ? getAffineConstantExpr(0, context)
                            : getAffineDimExpr(d, context));
      inputs.push_back(mask);
      maps.push_back(AffineMap::get(5, 0, exprs, context));
    }
    if (hasNonpad) {
      inputs.push_back(node.getInput(6));
      maps.push_back(getDimsMap(context, 5, {0}));
    }
    maps.push_back(AffineMap::getMultiDimIdentityMap(5, context));
    Value init = createEmpty(b, loc, scoreShape, computeType);
    SmallVector<utils::IteratorType> parallel(5, utils::IteratorType::parallel);
    biased =
        linalg::GenericOp::create(
            b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
            parallel,
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value x = args[0];
              Value negInf = arith::ConstantOp::create(nb, nl, negInfAttr);
              unsigned next = 1;
              if (hasMask) {
                Value m = args[next++];
                if (boolMask) {
                  Value zero = createScalar(nb, nl, computeType, 0.0);
                  m = arith::SelectOp::create(nb, nl, m, zero, negInf);
                } else if (m.getType() != computeType) {
                  m = arith::ExtFOp::create(nb, nl, computeType, m);
                }
                x = arith::AddFOp::create(nb, nl, x, m);
              }
              Value nonpad = hasNonpad ? args[next++] : Value();
              Value masked;
              auto orMasked = [&](Value cond) {
                masked =
                    masked
                        ? arith::OrIOp::create(nb, nl, masked, cond).getResult()
                        : cond;
              };
              Value i, j;
              if (isCausal || hasNonpad) {
                i = arith::IndexCastOp::create(
                    nb, nl, nb.getI64Type(),
                    linalg::IndexOp::create(nb, nl, 3));
                j = arith::IndexCastOp::create(
                    nb, nl, nb.getI64Type(),
                    linalg::IndexOp::create(nb, nl, 4));
              }
              if (isCausal) {
                // Key j is visible to query i iff j <= i + offset.
                Value offset;
                if (!hasPast && hasNonpad)
                  offset = arith::SubIOp::create(
                      nb, nl, nonpad,
                      createScalar(nb, nl, nb.getI64Type(), qSeq));
                else
                  offset = createScalar(nb, nl, nb.getI64Type(), pastSeq);
                Value limit = arith::AddIOp::create(nb, nl, i, offset);
                orMasked(arith::CmpIOp::create(
                    nb, nl, arith::CmpIPredicate::sgt, j, limit));
              }
              if (hasNonpad)
                orMasked(arith::CmpIOp::create(
                    nb, nl, arith::CmpIPredicate::sge, j, nonpad));
              if (masked)
                x = arith::SelectOp::create(nb, nl, masked, negInf, x);
              linalg::YieldOp::create(nb, nl, x);
            })
            .getResult(0);
  }
  if (wantsQK && qkMode == 2)
    setQK(biased);

  // Softmax over the keys. A fully masked row (max = −inf) gives zeros instead
  // of NaN.
  SmallVector<int64_t> keyDim = {4};
  Value max = buildReduce(
      b, loc, biased, keyDim, negInfAttr,
      [](OpBuilder &nb, Location nl, Value element, Value acc) {
        return arith::MaximumFOp::create(nb, nl, element, acc).getResult();
      });
  AffineMap identity = AffineMap::getMultiDimIdentityMap(5, context);
  AffineMap kept = getKeptDimsMap(context, 5, keyDim);
  SmallVector<utils::IteratorType> parallel(5, utils::IteratorType::parallel);
  auto withRowValue =
      [&](Value full, Value row,
          function_ref<Value(OpBuilder &, Location, Value, Value)> fn) {
        Value init = createEmpty(b, loc, scoreShape, computeType);
        return linalg::GenericOp::create(
                   b, loc, TypeRange{init.getType()}, ValueRange{full, row},
                   ValueRange{init},
                   ArrayRef<AffineMap>{identity, kept, identity}, parallel,
                   [&](OpBuilder &nb, Location nl, ValueRange args) {
                     linalg::YieldOp::create(nb, nl,
                                             fn(nb, nl, args[0], args[1]));
                   })
            .getResult(0);
      };
  Value exp = withRowValue(
      biased, max, [&](OpBuilder &nb, Location nl, Value x, Value m) {
        Value negInf = arith::ConstantOp::create(nb, nl, negInfAttr);
        Value empty =
            arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OEQ, m, negInf);
        Value zero = createScalar(nb, nl, computeType, 0.0);
        Value safeMax = arith::SelectOp::create(nb, nl, empty, zero, m);
        Value e = math::ExpOp::create(
            nb, nl, arith::SubFOp::create(nb, nl, x, safeMax));
        return arith::SelectOp::create(nb, nl, empty, zero, e).getResult();
      });
  Value sum = buildReduce(
      b, loc, exp, keyDim, b.getFloatAttr(computeType, 0.0),
      [](OpBuilder &nb, Location nl, Value element, Value acc) {
        return arith::AddFOp::create(nb, nl, element, acc).getResult();
      });
  Value probs =
      withRowValue(exp, sum, [&](OpBuilder &nb, Location nl, Value e, Value s) {
        Value zero = createScalar(nb, nl, computeType, 0.0);
        Value empty =
            arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OEQ, s, zero);
        Value p = arith::DivFOp::create(nb, nl, e, s);
        return arith::SelectOp::create(nb, nl, empty, zero, p).getResult();
      });
  if (wantsQK && qkMode == 3)
    setQK(probs);

  // Loops (b, kv, g, i, e, j): y[b, kv, g, i, e] = sum_j p[b, kv, g, i, j] ·
  // v[b, kv, j, e].
  Value y = buildContraction(b, loc, probs, {0, 1, 2, 3, 5}, v, {0, 1, 5, 4},
                             {0, 1, 2, 3, 4},
                             {batch, kvHeads, group, qSeq, vHeadSize, total});
  y = buildReshape(b, loc, y, {batch, qHeads, qSeq, vHeadSize});
  if (rank == 3) {
    y = buildTranspose(b, loc, y, {0, 2, 1, 3});
    y = buildReshape(b, loc, y, {batch, qSeq, qHeads * vHeadSize});
  }
  node.setResult(0, convertFloat(b, loc, y, ioType), dtype);
  return success();
}
