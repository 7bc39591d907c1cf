//===- AttentionOps.cpp - RotaryEmbedding and Attention ops ---------------===//
//
// The fused transformer ops of opset 23/24 and their onnxruntime
// (com.microsoft) counterparts, lowered densely to upstream tensor IR by shared
// builders:
//
// RotaryEmbedding (`buildRotary`): one `linalg.generic` over the output. Each
// element reads its own input element and its rotation partner
// (`tensor.extract`), and the cos/sin entry of its position (gathered from the
// caches through position ids when given):
//   first half / even element d:  y = cos[k]·x[d] − sin[k]·x[partner]
//   second half / odd element d:  y = cos[k]·x[d] + sin[k]·x[partner]
// with k = d (d − rd/2) and partner d + rd/2 (d − rd/2) in the half-split
// layout, k = d/2 and partner d ± 1 when interleaved; elements past
// rotary_embedding_dim are copied. com.microsoft RotaryEmbedding takes
// (input, position_ids, cos, sin), position_ids [B, S] or [1] (an offset).
//
// Attention (`buildAttentionCore`): Q, K, V are brought to [B, H, S, D] (3-D
// inputs are split into heads and transposed). The q heads are grouped by the
// kv head they share (GQA: q head h uses kv head h / (Hq/Hkv)), so every stage
// works on [B, Hkv, G, Sq, T] and reads K/V through projected permutation
// maps, without materializing repeated K/V:
//   scores = Q·Kᵀ (contraction generic) · scale → softcap (c·tanh(x/c)) → a
//   per-op bias generic → softmax over keys (max-subtract; fully masked rows
//   give 0, not NaN) → ·V (contraction).
// The bias of ONNX Attention: + attn_mask (bool: 0 / −inf; padded with
// −inf/false up to T), causal (key j ≤ i + offset, offset = past length, or
// nonpad_kv_seqlen[b] − Sq without past) and padding (j < nonpad[b]) as −inf.
// com.microsoft MultiHeadAttention / Attention (QKV projection by one matmul):
// + mask_filter_value for padded keys (2-D 0/1 mask or 1-D lengths),
// + attention_bias, unidirectional as −inf. com.microsoft GroupQueryAttention:
// keys past seqlens_k[b], after the query's position (causal) or outside its
// local window (the local_window_size latest keys) are −inf; the new K/V
// (rotated with the cos/sin caches when do_rotary) are written into the
// present buffers at pastLen[b] (0 for the first prompt, else seqlens_k[b] +
// 1 − S) at run time.
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
#include <functional>
#include <limits>

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
  SmallVector<OpFoldResult> sizes = getLoopSizes(
      b, loc, loopSizes, ValueRange{lhs, rhs},
      {getDimsMap(context, numLoops, lhsDims), getDimsMap(context, numLoops, rhsDims)});
  SmallVector<OpFoldResult> outSizes;
  for (unsigned d : outDims)
    outSizes.push_back(sizes[d]);
  Value init = createFilled(b, loc, outSizes, elementType,
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
  if (second && (!firstType.hasStaticShape() ||
                 !cast<RankedTensorType>(second.getType()).hasStaticShape()))
    // Dynamic sizes (a part may be empty at run time): tensor.concat, whose
    // strided copies the CPU pipeline turns into loops.
    return tensor::ConcatOp::create(b, loc, dim, ValueRange{first, second});
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

/// `value[..., offset : offset + size, ...]` along `dim`, copied into a tensor
/// of its own (`linalg.copy`: a strided view would bufferize to a `memref.copy`
/// call the artifact does not link).
Value copySlice(OpBuilder &b, Location loc, Value value, int64_t dim,
                int64_t offset, int64_t size) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape(type.getShape());
  if (offset == 0 && size == shape[dim])
    return value;
  SmallVector<OpFoldResult> offsets, sizes, strides;
  for (int64_t d = 0, rank = type.getRank(); d < rank; ++d) {
    offsets.push_back(b.getIndexAttr(d == dim ? offset : 0));
    sizes.push_back(b.getIndexAttr(d == dim ? size : shape[d]));
    strides.push_back(b.getIndexAttr(1));
  }
  shape[dim] = size;
  if (!type.hasStaticShape()) {
    sizes = getMixedSizes(b, loc, value);
    sizes[dim] = b.getIndexAttr(size);
  }
  Value slice =
      tensor::ExtractSliceOp::create(b, loc, value, offsets, sizes, strides);
  Value init = createEmpty(b, loc, sizes, type.getElementType());
  return linalg::CopyOp::create(b, loc, ValueRange{slice}, ValueRange{init})
      .getResult(0);
}

/// [B, S, H·D] -> [B, H, S, D].
Value splitHeads(OpBuilder &b, Location loc, Value value, int64_t heads) {
  ArrayRef<int64_t> shape = cast<RankedTensorType>(value.getType()).getShape();
  Value split = buildReshape(b, loc, value,
                             {shape[0], shape[1], heads, shape[2] / heads});
  return buildTranspose(b, loc, split, {0, 2, 1, 3});
}

/// [B, H, S, D] -> [B, S, H·D].
Value mergeHeads(OpBuilder &b, Location loc, Value value) {
  ArrayRef<int64_t> shape = cast<RankedTensorType>(value.getType()).getShape();
  Value y = buildTranspose(b, loc, value, {0, 2, 1, 3});
  return buildReshape(b, loc, y, {shape[0], shape[2], shape[1] * shape[3]});
}

/// An int64 [batch, seq] tensor whose element (b, s) is `fn(b, s)` (index
/// values; `fn` may read `inputs`, broadcast to [batch, seq] numpy-style).
Value buildPositions(
    OpBuilder &b, Location loc, ValueRange inputs, int64_t batch, int64_t seq,
    function_ref<Value(OpBuilder &, Location, ValueRange, Value, Value)> fn) {
  return buildElementwise(
      b, loc, inputs, {batch, seq}, b.getI64Type(),
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value bi = arith::IndexCastOp::create(
            nb, nl, nb.getI64Type(), linalg::IndexOp::create(nb, nl, 0));
        Value si = arith::IndexCastOp::create(
            nb, nl, nb.getI64Type(), linalg::IndexOp::create(nb, nl, 1));
        return fn(nb, nl, args, bi, si);
      });
}

/// Rotary embedding of the 4-D `x` (dim `seqDim` is the sequence, dim 3 the
/// head): in the first `rotaryDim` dims of a head, element d becomes
///   first half / even d:  cos[k]·x[d] − sin[k]·x[partner]
///   second half / odd d:  cos[k]·x[d] + sin[k]·x[partner]
/// (half split: k = d mod rd/2, partner d ± rd/2; interleaved: k = d/2, partner
/// d ± 1); the other dims are copied. cos/sin are rows positions[b, s] (int64,
/// clamped into the cache) of [max_position, rotaryDim/2] caches, or (without
/// positions) entries [b, s] of [B, S, rotaryDim/2] caches.
Value buildRotary(OpBuilder &b, Location loc, Value x, unsigned seqDim,
                  Value cosCache, Value sinCache, Value positions,
                  int64_t rotaryDim, bool isInterleaved) {
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t headSize = xType.getDimSize(3);
  int64_t half = rotaryDim / 2;
  int64_t maxPosition =
      cast<RankedTensorType>(cosCache.getType()).getDimSize(0);
  Value init = createEmpty(b, loc, xType.getShape(), xType.getElementType(),
                           ValueRange{x});
  MLIRContext *context = b.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(4, context);
  SmallVector<utils::IteratorType> parallel(4, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{x}, ValueRange{init},
             ArrayRef<AffineMap>{identity, identity}, parallel,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               auto index = [&](int64_t value) {
                 return arith::ConstantIndexOp::create(nb, nl, value)
                     .getResult();
               };
               Value i0 = linalg::IndexOp::create(nb, nl, 0);
               Value i1 = linalg::IndexOp::create(nb, nl, 1);
               Value i2 = linalg::IndexOp::create(nb, nl, 2);
               Value d = linalg::IndexOp::create(nb, nl, 3);
               Value s = seqDim == 2 ? i2 : i1;
               Value zero = index(0);
               // first: the element takes the "real" part (−sin); k: its
               // cos/sin column.
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
                 first = arith::CmpIOp::create(
                     nb, nl, arith::CmpIPredicate::ult, d, index(half));
                 Value up = arith::AddIOp::create(nb, nl, d, index(half));
                 Value down = arith::SubIOp::create(nb, nl, d, index(half));
                 k = arith::SelectOp::create(nb, nl, first, d, down);
                 partner = arith::SelectOp::create(nb, nl, first, up, down);
               }
               // Elements past the rotary dims are copied; clamp their
               // indices to stay in bounds.
               Value rotated;
               if (rotaryDim < headSize) {
                 rotated = arith::CmpIOp::create(
                     nb, nl, arith::CmpIPredicate::ult, d, index(rotaryDim));
                 k = arith::SelectOp::create(nb, nl, rotated, k, zero);
                 partner = arith::SelectOp::create(nb, nl, rotated, partner, d);
               }
               Value cosValue, sinValue;
               if (positions) {
                 Value pos = tensor::ExtractOp::create(nb, nl, positions,
                                                       ValueRange{i0, s});
                 // Positions outside the cache are clamped to it (never read
                 // out of bounds).
                 Value posIndex =
                     arith::IndexCastOp::create(nb, nl, nb.getIndexType(), pos);
                 posIndex = arith::MaxSIOp::create(nb, nl, posIndex, zero);
                 posIndex = arith::MinSIOp::create(nb, nl, posIndex,
                                                   index(maxPosition - 1));
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
                   nb, nl, x, ValueRange{i0, i1, i2, partner});
               Value own = args[0];
               Value cosTerm = arith::MulFOp::create(nb, nl, cosValue, own);
               Value sinTerm = arith::MulFOp::create(nb, nl, sinValue, other);
               Value minus = arith::SubFOp::create(nb, nl, cosTerm, sinTerm);
               Value plus = arith::AddFOp::create(nb, nl, cosTerm, sinTerm);
               Value value =
                   arith::SelectOp::create(nb, nl, first, minus, plus);
               if (rotated)
                 value = arith::SelectOp::create(nb, nl, rotated, value, own);
               linalg::YieldOp::create(nb, nl, value);
             })
      .getResult(0);
}

/// Whether a mask of shape `maskShape` (rank 1-4, last dim 1..T) broadcasts to
/// the scores `full` = [B, Hq, Sq, T].
bool broadcastsToScores(ArrayRef<int64_t> maskShape, ArrayRef<int64_t> full) {
  int64_t rank = maskShape.size();
  if (rank < 1 || rank > 4)
    return false;
  // A dynamic dim stands for the size it meets.
  if (!ShapedType::isDynamic(maskShape.back()) &&
      ((!ShapedType::isDynamic(full[3]) && maskShape.back() > full[3]) ||
       maskShape.back() < 1))
    return false;
  for (int64_t i = 0; i + 1 < rank; ++i)
    if (maskShape[i] != 1 && maskShape[i] != full[4 - rank + i] &&
        !ShapedType::isDynamic(maskShape[i]) &&
        !ShapedType::isDynamic(full[4 - rank + i]))
      return false;
  return true;
}

/// A mask that `broadcastsToScores` padded along its last dim up to `total`
/// with `fill`, reshaped to 5-D [b, kv, g, i, j], and its map over the score
/// loops (b, kv, g, i, j) of `scoreShape` = [B, Hkv, G, Sq, T].
std::pair<Value, AffineMap> prepareScoreMask(OpBuilder &b, Location loc,
                                             Value mask, TypedAttr fill,
                                             ArrayRef<int64_t> scoreShape) {
  MLIRContext *context = b.getContext();
  int64_t total = scoreShape[4];
  ArrayRef<int64_t> maskShape =
      cast<RankedTensorType>(mask.getType()).getShape();
  if (!ShapedType::isDynamic(maskShape.back()) &&
      !ShapedType::isDynamic(total) && maskShape.back() < total)
    mask = buildJoin(b, loc, mask, Value(), maskShape.size() - 1, total, fill);
  SmallVector<int64_t> mask4(4 - maskShape.size(), 1);
  llvm::append_range(mask4, cast<RankedTensorType>(mask.getType()).getShape());
  // Split the head dim into (kv, g) and read it through a broadcasting map.
  SmallVector<int64_t> mask5 = {mask4[0], mask4[1] == 1 ? 1 : scoreShape[1],
                                mask4[1] == 1 ? 1 : scoreShape[2], mask4[2],
                                mask4[3]};
  mask = buildReshape(b, loc, mask, mask5);
  SmallVector<AffineExpr> exprs;
  for (unsigned d = 0; d < 5; ++d)
    exprs.push_back(mask5[d] == 1 && scoreShape[d] != 1
                        ? getAffineConstantExpr(0, context)
                        : getAffineDimExpr(d, context));
  return {mask, AffineMap::get(5, 0, exprs, context)};
}

/// Extra operands of the score bias: tensors read through maps over the score
/// loops (b, kv, g, i, j) and a body that returns the biased score from the
/// score, their elements, and the query/key positions i, j (i64).
struct ScoreBias {
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  /// Run right before the bias generic is built (to add inputs whose IR, e.g.
  /// a padded mask, should come after the scores).
  std::function<void(ScoreBias &)> prepare;
  std::function<Value(OpBuilder &, Location, Value, ValueRange, Value, Value)>
      body;
};

/// Scaled dot-product attention of q [B, Hq, Sq, D] over k [B, Hkv, T, D] and
/// v [B, Hkv, T, Dv] (all in the compute type; q head h uses kv head h/G):
/// Q·Kᵀ · scale → softcap (c·tanh(x/c), when > 0) → `bias` → softmax over keys
/// (max-subtracted; fully masked rows give 0) → ·V. The q heads are grouped by
/// kv head ([B, Hkv, G, Sq, ·]) so K/V are read without repetition. Returns y
/// [B, Hq, Sq, Dv]; with `qk`, also the [B, Hq, Sq, T] scores of `qkMode` (0
/// scaled, 1 after softcap, 2 after the bias, 3 after softmax).
Value buildAttentionCore(OpBuilder &b, Location loc, Value q, Value k, Value v,
                         double scale, double softcap, const ScoreBias *bias,
                         int64_t qkMode = -1, Value *qk = nullptr) {
  MLIRContext *context = b.getContext();
  ArrayRef<int64_t> qShape = cast<RankedTensorType>(q.getType()).getShape();
  ArrayRef<int64_t> kShape = cast<RankedTensorType>(k.getType()).getShape();
  int64_t batch = qShape[0], qHeads = qShape[1], qSeq = qShape[2],
          headSize = qShape[3];
  int64_t kvHeads = kShape[1], total = kShape[2];
  int64_t vHeadSize = cast<RankedTensorType>(v.getType()).getDimSize(3);
  int64_t group = qHeads / kvHeads;
  Type computeType = cast<RankedTensorType>(q.getType()).getElementType();
  auto floatType = cast<FloatType>(computeType);
  TypedAttr negInfAttr = b.getFloatAttr(
      floatType,
      llvm::APFloat::getInf(floatType.getFloatSemantics(), /*Negative=*/true));

  // Group the q heads by kv head: [B, Hkv, G, Sq, D].
  q = buildReshape(b, loc, q, {batch, kvHeads, group, qSeq, headSize});
  // Loops (b, kv, g, i, j, d): scores[b, kv, g, i, j] = sum_d q[b, kv, g, i,
  // d] · k[b, kv, j, d].
  Value scores = buildContraction(
      b, loc, q, {0, 1, 2, 3, 5}, k, {0, 1, 4, 5}, {0, 1, 2, 3, 4},
      {batch, kvHeads, group, qSeq, total, headSize});
  SmallVector<int64_t> scoreShape = {batch, kvHeads, group, qSeq, total};
  SmallVector<int64_t> qkShape = {batch, qHeads, qSeq, total};

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
  auto setQK = [&](Value value) { *qk = buildReshape(b, loc, value, qkShape); };
  if (qk && qkMode >= 0 && qkMode <= 1)
    setQK(qkMode == 0 && softcap > 0 ? scaled(/*withSoftcap=*/false) : capped);

  Value biased = capped;
  if (bias) {
    ScoreBias prepared = *bias;
    if (prepared.prepare)
      prepared.prepare(prepared);
    bias = &prepared;
    SmallVector<Value> inputs = {capped};
    llvm::append_range(inputs, bias->inputs);
    SmallVector<AffineMap> maps = {
        AffineMap::getMultiDimIdentityMap(5, context)};
    llvm::append_range(maps, bias->maps);
    maps.push_back(AffineMap::getMultiDimIdentityMap(5, context));
    Value init = createEmpty(b, loc, scoreShape, computeType, ValueRange{capped});
    SmallVector<utils::IteratorType> parallel(5, utils::IteratorType::parallel);
    biased =
        linalg::GenericOp::create(
            b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
            parallel,
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value i = arith::IndexCastOp::create(
                  nb, nl, nb.getI64Type(), linalg::IndexOp::create(nb, nl, 3));
              Value j = arith::IndexCastOp::create(
                  nb, nl, nb.getI64Type(), linalg::IndexOp::create(nb, nl, 4));
              ValueRange extras = args.slice(1, bias->inputs.size());
              linalg::YieldOp::create(
                  nb, nl, bias->body(nb, nl, args[0], extras, i, j));
            })
            .getResult(0);
  }
  if (qk && qkMode == 2)
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
        Value init =
            createEmpty(b, loc, scoreShape, computeType, ValueRange{full});
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
  if (qk && qkMode == 3)
    setQK(probs);

  // Loops (b, kv, g, i, e, j): y[b, kv, g, i, e] = sum_j p[b, kv, g, i, j] ·
  // v[b, kv, j, e].
  Value y = buildContraction(b, loc, probs, {0, 1, 2, 3, 5}, v, {0, 1, 5, 4},
                             {0, 1, 2, 3, 4},
                             {batch, kvHeads, group, qSeq, vHeadSize, total});
  return buildReshape(b, loc, y, {batch, qHeads, qSeq, vHeadSize});
}

/// The float type attention is computed in: f32 for narrower floats.
Type getComputeType(OpBuilder &b, Type ioType) {
  return cast<FloatType>(ioType).getWidth() < 32 ? b.getF32Type() : ioType;
}

bool wantsOutput(NodeContext &node, unsigned index) {
  return node.getNode().output_size() > static_cast<int>(index) &&
         !node.getNode().output(index).empty();
}

/// ONNX RotaryEmbedding (X, cos_cache, sin_cache[, position_ids]) and
/// com.microsoft RotaryEmbedding (input, position_ids, cos_cache, sin_cache;
/// `contrib`): the checks and one `buildRotary`.
LogicalResult importRotaryCommon(NodeContext &node, bool contrib) {
  unsigned xIndex = 0, cosIndex = contrib ? 2 : 1, sinIndex = contrib ? 3 : 2,
           posIndex = contrib ? 1 : 3;
  if (failed(node.checkNumInputs(contrib ? 4 : 3, 4)))
    return failure();
  int32_t dtype = node.getInputDType(xIndex);
  if (!isFloatDType(dtype))
    return node.emitError()
           << "expected a float input, got '" << getDTypeName(dtype) << "'";
  for (unsigned i : {cosIndex, sinIndex})
    if (node.getInputDType(i) != dtype)
      return node.emitError()
             << (i == cosIndex ? "cos_cache" : "sin_cache")
             << " must have the input's dtype '" << getDTypeName(dtype) << "'";
  FailureOr<int64_t> interleaved = node.getIntAttr("interleaved", 0);
  FailureOr<int64_t> rotaryDimAttr = node.getIntAttr("rotary_embedding_dim", 0);
  FailureOr<int64_t> numHeadsAttr = node.getIntAttr("num_heads", 0);
  if (failed(interleaved) || failed(rotaryDimAttr) || failed(numHeadsAttr))
    return failure();
  if (contrib) {
    FailureOr<int64_t> packed = node.getIntAttr("is_packed_batching", 0);
    FailureOr<float> scale = node.getFloatAttr("scale", 1.0f);
    if (failed(packed) || failed(scale))
      return failure();
    if (*packed != 0)
      return node.emitError()
             << "is_packed_batching is not supported (only padded [batch, "
                "seq, ...] inputs)";
    if (*scale != 1.0f)
      return node.emitError()
             << "unsupported scale " << *scale << " (supported: 1)";
  }

  RankedTensorType xType = node.getInputType(xIndex);
  ArrayRef<int64_t> xShape = xType.getShape();
  int64_t rank = xType.getRank();
  if (rank != 3 && rank != 4)
    return node.emitError()
           << "expected a 3-D [batch, seq, hidden] or 4-D [batch, heads, seq, "
              "head_size] input, got rank "
           << rank;
  RankedTensorType cosType = node.getInputType(cosIndex);
  if (node.getInputType(sinIndex) != cosType)
    return node.emitError()
           << "cos_cache and sin_cache must have the same shape";
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
  } else if (contrib && *numHeadsAttr == 0) {
    // onnxruntime: the head size is the rotated size, 2·cos_cache.shape[1].
    if (cosType.getRank() != 2 || cosType.getDimSize(1) < 1 ||
        xShape[2] % (2 * cosType.getDimSize(1)) != 0)
      return node.emitError() << "without num_heads, hidden size " << xShape[2]
                              << " must be a multiple of 2·cos_cache.shape[1]";
    headSize = 2 * cosType.getDimSize(1);
    numHeads = xShape[2] / headSize;
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

  bool hasPositions = node.hasInput(posIndex);
  // contrib: position_ids [1] holds the position of token 0 (token s is at
  // position_ids[0] + s).
  bool offsetPositions = false;
  if (hasPositions) {
    if (node.getInputDType(posIndex) != onnx::TensorProto::INT64)
      return node.emitError() << "position_ids must be int64";
    RankedTensorType posType = node.getInputType(posIndex);
    offsetPositions =
        contrib && posType.getRank() == 1 && posType.getDimSize(0) == 1;
    if (!offsetPositions &&
        (posType.getRank() != 2 || posType.getDimSize(0) != batch ||
         posType.getDimSize(1) != seq)) {
      InFlightDiagnostic diag = node.emitError()
                                << "position_ids must have shape [" << batch
                                << "," << seq << "]"
                                << (contrib ? " or [1]" : "") << ", got ";
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
  Value positions = hasPositions ? node.getInput(posIndex) : Value();
  if (offsetPositions)
    positions = buildPositions(
        b, loc, ValueRange{positions}, batch, seq,
        [](OpBuilder &nb, Location nl, ValueRange args, Value, Value s) {
          return arith::AddIOp::create(nb, nl, args[0], s).getResult();
        });
  // Work on a 4-D view: [B, H, S, D] for 4-D inputs, [B, S, H, D] for 3-D ones.
  SmallVector<int64_t> viewShape =
      rank == 4 ? SmallVector<int64_t>(xShape)
                : SmallVector<int64_t>{batch, seq, numHeads, headSize};
  Value xView = buildReshape(b, loc, node.getInput(xIndex), viewShape);
  Value result = buildRotary(b, loc, xView, rank == 4 ? 2 : 1,
                             node.getInput(cosIndex), node.getInput(sinIndex),
                             positions, rotaryDim, *interleaved != 0);
  node.setResult(0, buildReshape(b, loc, result, xShape), dtype);
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// RotaryEmbedding
//===----------------------------------------------------------------------===//

LogicalResult mlir::sqz::import::importRotaryEmbedding(NodeContext &node) {
  return importRotaryCommon(node, /*contrib=*/false);
}

LogicalResult mlir::sqz::import::importMsRotaryEmbedding(NodeContext &node) {
  return importRotaryCommon(node, /*contrib=*/true);
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
  // Dims compare equal when either is dynamic (dynamic dims never broadcast).
  auto same = [](int64_t a, int64_t b) {
    return a == b || ShapedType::isDynamic(a) || ShapedType::isDynamic(b);
  };
  int64_t batch = qType.getDimSize(0);
  if (!same(kType.getDimSize(0), batch) || !same(vType.getDimSize(0), batch))
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
    if (!same(vType.getDimSize(1), kvSeq))
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
    if (vType.getDimSize(1) != kvHeads || !same(vType.getDimSize(2), kvSeq))
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
    auto matches = [&](RankedTensorType t, int64_t size) {
      return t.getRank() == 4 && same(t.getDimSize(0), batch) &&
             t.getDimSize(1) == kvHeads && same(t.getDimSize(2), pastSeq) &&
             t.getDimSize(3) == size;
    };
    if (!matches(pkType, headSize) || !matches(pvType, vHeadSize)) {
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
  int64_t total = ShapedType::isDynamic(pastSeq) || ShapedType::isDynamic(kvSeq)
                      ? ShapedType::kDynamic
                      : pastSeq + kvSeq;

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
    if (!broadcastsToScores(maskShape, {batch, qHeads, qSeq, total})) {
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
        nonpadType.getRank() != 1 || !same(nonpadType.getDimSize(0), batch))
      return node.emitError()
             << "nonpad_kv_seqlen must be an int64 tensor of shape [" << batch
             << "]";
  }

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Type ioType = qType.getElementType();
  Type computeType = getComputeType(b, ioType);

  // To [B, H, S, D].
  auto toHeads = [&](Value value, int64_t heads) -> Value {
    return rank == 4 ? value : splitHeads(b, loc, value, heads);
  };
  Value q = toHeads(node.getInput(0), qHeads);
  Value k = toHeads(node.getInput(1), kvHeads);
  Value v = toHeads(node.getInput(2), kvHeads);
  // An empty past (P = 0) adds nothing. The past length as an i64 value (for
  // the causal mask).
  Value pastLength;
  if (hasPast && ShapedType::isDynamic(pastSeq))
    pastLength = arith::IndexCastOp::create(
        b, loc, b.getI64Type(),
        tensor::DimOp::create(b, loc, node.getInput(4), 2));
  if (hasPast && pastSeq != 0) {
    k = buildJoin(b, loc, node.getInput(4), k, 2, 0, {});
    v = buildJoin(b, loc, node.getInput(5), v, 2, 0, {});
  }
  if (wantsPresentKey)
    node.setResult(1, k, dtype);
  if (wantsPresentValue)
    node.setResult(2, v, dtype);
  q = convertFloat(b, loc, q, computeType);
  k = convertFloat(b, loc, k, computeType);
  v = convertFloat(b, loc, v, computeType);
  SmallVector<int64_t> scoreShape = {batch, kvHeads, group, qSeq, total};

  // Bias: mask, causal and padding.
  bool isCausal = *isCausalAttr != 0;
  ScoreBias bias;
  bias.prepare = [&](ScoreBias &self) {
    if (hasMask) {
      Type maskElement = maskType.getElementType();
      TypedAttr fill =
          boolMask ? TypedAttr(b.getBoolAttr(false))
                   : TypedAttr(b.getFloatAttr(
                         maskElement,
                         llvm::APFloat::getInf(
                             cast<FloatType>(maskElement).getFloatSemantics(),
                             /*Negative=*/true)));
      auto [mask, map] =
          prepareScoreMask(b, loc, node.getInput(3), fill, scoreShape);
      self.inputs.push_back(mask);
      self.maps.push_back(map);
    }
    if (hasNonpad) {
      self.inputs.push_back(node.getInput(6));
      self.maps.push_back(getDimsMap(b.getContext(), 5, {0}));
    }
  };
  bias.body = [&](OpBuilder &nb, Location nl, Value x, ValueRange extras,
                  Value i, Value j) -> Value {
    Value negInf = createScalar(nb, nl, computeType,
                                -std::numeric_limits<double>::infinity());
    unsigned next = 0;
    if (hasMask) {
      Value m = extras[next++];
      if (boolMask) {
        Value zero = createScalar(nb, nl, computeType, 0.0);
        m = arith::SelectOp::create(nb, nl, m, zero, negInf);
      } else if (m.getType() != computeType) {
        m = arith::ExtFOp::create(nb, nl, computeType, m);
      }
      x = arith::AddFOp::create(nb, nl, x, m);
    }
    Value nonpad = hasNonpad ? extras[next++] : Value();
    Value masked;
    auto orMasked = [&](Value cond) {
      masked = masked ? arith::OrIOp::create(nb, nl, masked, cond).getResult()
                      : cond;
    };
    if (isCausal) {
      // Key j is visible to query i iff j <= i + offset.
      Value offset;
      if (!hasPast && hasNonpad && ShapedType::isDynamic(qSeq))
        offset = arith::SubIOp::create(
            nb, nl, nonpad,
            arith::IndexCastOp::create(
                nb, nl, nb.getI64Type(),
                tensor::DimOp::create(nb, nl, node.getInput(0), rank - 2)));
      else if (!hasPast && hasNonpad)
        offset = arith::SubIOp::create(
            nb, nl, nonpad, createScalar(nb, nl, nb.getI64Type(), qSeq));
      else if (pastLength)
        offset = pastLength;
      else
        offset = createScalar(nb, nl, nb.getI64Type(), pastSeq);
      Value limit = arith::AddIOp::create(nb, nl, i, offset);
      orMasked(
          arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sgt, j, limit));
    }
    if (hasNonpad)
      orMasked(
          arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sge, j, nonpad));
    if (masked)
      x = arith::SelectOp::create(nb, nl, masked, negInf, x);
    return x;
  };

  double scale = node.getAttr("scale")
                     ? static_cast<double>(*scaleAttr)
                     : 1.0 / std::sqrt(static_cast<double>(headSize));
  Value qk;
  Value y =
      buildAttentionCore(b, loc, q, k, v, scale, *softcapAttr,
                         hasMask || isCausal || hasNonpad ? &bias : nullptr,
                         wantsQK ? qkMode : -1, wantsQK ? &qk : nullptr);
  if (wantsQK)
    node.setResult(3, convertFloat(b, loc, qk, ioType), dtype);
  if (rank == 3)
    y = mergeHeads(b, loc, y);
  node.setResult(0, convertFloat(b, loc, y, ioType), dtype);
  return success();
}

//===----------------------------------------------------------------------===//
// com.microsoft MultiHeadAttention and Attention
//===----------------------------------------------------------------------===//

namespace {

/// The attention of com.microsoft MultiHeadAttention and Attention once Q, K, V
/// are projected: q [B, S, N·H], k [B, L, N·H], v [B, L, N·Hv] (biases added),
/// optional past [B, N, P, H] / [B, N, P, Hv] joined in front of K/V (returned
/// in `presentKey`/`presentValue`, io type). Input `maskIndex`
/// (key_padding_mask / mask_index: [B, P+L] with 0 = padded, or [B] valid
/// lengths) adds mask_filter_value to padded keys; input `biasIndex`
/// (attention_bias) is added; unidirectional hides keys j > i + P (−inf).
/// Sets output 0, [B, S, N·Hv].
LogicalResult lowerMsAttention(NodeContext &node, Value q, Value k, Value v,
                               Value pastKey, Value pastValue, int64_t numHeads,
                               int maskIndex, int biasIndex, Value &presentKey,
                               Value &presentValue) {
  FailureOr<float> scaleAttr = node.getFloatAttr("scale", 0.0f);
  FailureOr<float> filterAttr =
      node.getFloatAttr("mask_filter_value", -10000.0f);
  FailureOr<int64_t> causalAttr = node.getIntAttr("unidirectional", 0);
  if (failed(scaleAttr) || failed(filterAttr) || failed(causalAttr))
    return failure();
  int32_t dtype = node.getInputDType(0);
  auto qType = cast<RankedTensorType>(q.getType());
  int64_t batch = qType.getDimSize(0), qSeq = qType.getDimSize(1);
  int64_t headSize = qType.getDimSize(2) / numHeads;
  int64_t pastSeq =
      pastKey ? cast<RankedTensorType>(pastKey.getType()).getDimSize(2) : 0;
  int64_t total = pastSeq + cast<RankedTensorType>(k.getType()).getDimSize(1);

  bool hasMask = maskIndex >= 0 && node.hasInput(maskIndex);
  bool lengthMask = false;
  if (hasMask) {
    RankedTensorType maskType = node.getInputType(maskIndex);
    int32_t maskDType = node.getInputDType(maskIndex);
    lengthMask = maskType.getRank() == 1;
    bool ok = !isFloatDType(maskDType) &&
              (lengthMask ? maskType.getDimSize(0) == batch
                          : maskType.getRank() == 2 &&
                                maskType.getDimSize(0) == batch &&
                                maskType.getDimSize(1) == total);
    if (!ok) {
      InFlightDiagnostic diag = node.emitError()
                                << "unsupported mask of shape ";
      printShape(diag, maskType.getShape());
      diag << " and dtype '" << getDTypeName(maskDType)
           << "' (supported: integer [" << batch << "," << total
           << "] with 0 for padded keys, or [" << batch
           << "] valid key lengths)";
      return diag;
    }
  }
  bool hasBias = biasIndex >= 0 && node.hasInput(biasIndex);
  if (hasBias) {
    RankedTensorType biasType = node.getInputType(biasIndex);
    if (node.getInputDType(biasIndex) != dtype || biasType.getRank() != 4 ||
        biasType.getDimSize(3) != total ||
        !broadcastsToScores(biasType.getShape(),
                            {batch, numHeads, qSeq, total})) {
      InFlightDiagnostic diag = node.emitError() << "attention_bias of shape ";
      printShape(diag, biasType.getShape());
      diag << " must be '" << getDTypeName(dtype) << "' of shape [" << batch
           << " or 1," << numHeads << " or 1," << qSeq << "," << total << "]";
      return diag;
    }
  }

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Type ioType = qType.getElementType();
  Type computeType = getComputeType(b, ioType);
  q = splitHeads(b, loc, q, numHeads);
  k = splitHeads(b, loc, k, numHeads);
  v = splitHeads(b, loc, v, numHeads);
  if (pastSeq > 0) {
    k = buildJoin(b, loc, pastKey, k, 2, 0, {});
    v = buildJoin(b, loc, pastValue, v, 2, 0, {});
  }
  presentKey = k;
  presentValue = v;
  q = convertFloat(b, loc, q, computeType);
  k = convertFloat(b, loc, k, computeType);
  v = convertFloat(b, loc, v, computeType);
  SmallVector<int64_t> scoreShape = {batch, numHeads, 1, qSeq, total};

  bool isCausal = *causalAttr != 0;
  double filter = *filterAttr;
  ScoreBias bias;
  if (hasMask) {
    bias.inputs.push_back(node.getInput(maskIndex));
    bias.maps.push_back(getDimsMap(b.getContext(), 5,
                                   lengthMask ? ArrayRef<unsigned>{0}
                                              : ArrayRef<unsigned>{0, 4}));
  }
  bias.prepare = [&](ScoreBias &self) {
    if (hasBias) {
      auto [mask, map] =
          prepareScoreMask(b, loc, node.getInput(biasIndex), {}, scoreShape);
      self.inputs.push_back(mask);
      self.maps.push_back(map);
    }
  };
  bias.body = [&](OpBuilder &nb, Location nl, Value x, ValueRange extras,
                  Value i, Value j) -> Value {
    unsigned next = 0;
    if (hasMask) {
      Value m = extras[next++];
      Value zero = createScalar(nb, nl, m.getType(), 0);
      Value padded;
      if (lengthMask) {
        Value length = m.getType().getIntOrFloatBitWidth() == 64
                           ? m
                           : arith::ExtSIOp::create(nb, nl, nb.getI64Type(), m)
                                 .getResult();
        padded =
            arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sge, j, length);
      } else {
        padded =
            arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, m, zero);
      }
      Value penalty = arith::SelectOp::create(
          nb, nl, padded, createScalar(nb, nl, computeType, filter),
          createScalar(nb, nl, computeType, 0.0));
      x = arith::AddFOp::create(nb, nl, x, penalty);
    }
    if (hasBias) {
      Value m = extras[next++];
      if (m.getType() != computeType)
        m = arith::ExtFOp::create(nb, nl, computeType, m);
      x = arith::AddFOp::create(nb, nl, x, m);
    }
    if (isCausal) {
      Value limit = arith::AddIOp::create(
          nb, nl, i, createScalar(nb, nl, nb.getI64Type(), pastSeq));
      Value hidden =
          arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sgt, j, limit);
      x = arith::SelectOp::create(
          nb, nl, hidden,
          createScalar(nb, nl, computeType,
                       -std::numeric_limits<double>::infinity()),
          x);
    }
    return x;
  };
  double scale = *scaleAttr != 0.0f
                     ? static_cast<double>(*scaleAttr)
                     : 1.0 / std::sqrt(static_cast<double>(headSize));
  Value y =
      buildAttentionCore(b, loc, q, k, v, scale, /*softcap=*/0.0,
                         hasMask || hasBias || isCausal ? &bias : nullptr);
  node.setResult(0, convertFloat(b, loc, mergeHeads(b, loc, y), ioType), dtype);
  return success();
}

/// `value` + `bias[offset : offset + size]` broadcast along the last dim.
Value addBiasSlice(OpBuilder &b, Location loc, Value value, Value bias,
                   int64_t offset) {
  auto type = cast<RankedTensorType>(value.getType());
  Value slice = copySlice(b, loc, bias, 0, offset, type.getShape().back());
  return buildElementwise(
      b, loc, ValueRange{value, slice}, type.getShape(), type.getElementType(),
      [](OpBuilder &nb, Location nl, ValueRange args) {
        return arith::AddFOp::create(nb, nl, args[0], args[1]).getResult();
      });
}

/// Checks that input `index` is a [B, N, P, headSize] past tensor.
LogicalResult checkPast(NodeContext &node, unsigned index, int64_t batch,
                        int64_t heads, int64_t headSize, int64_t &pastSeq) {
  RankedTensorType type = node.getInputType(index);
  if (node.getInputDType(index) != node.getInputDType(0) ||
      type.getRank() != 4 || type.getDimSize(0) != batch ||
      type.getDimSize(1) != heads || type.getDimSize(3) != headSize ||
      (pastSeq >= 0 && type.getDimSize(2) != pastSeq)) {
    InFlightDiagnostic diag =
        node.emitError() << "input " << index << " (past) must have shape ["
                         << batch << "," << heads << ",P," << headSize
                         << "] and the query's dtype, got ";
    printShape(diag, type.getShape());
    return diag;
  }
  pastSeq = type.getDimSize(2);
  return success();
}

} // namespace

LogicalResult mlir::sqz::import::importMsMultiHeadAttention(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 10)))
    return failure();
  FailureOr<int64_t> headsAttr = node.getIntAttr("num_heads", 0);
  if (failed(headsAttr))
    return failure();
  int64_t numHeads = *headsAttr;
  if (numHeads <= 0)
    return node.emitError() << "num_heads must be positive, got " << numHeads;
  for (unsigned i : {8u, 9u})
    if (node.hasInput(i))
      return node.emitError()
             << (i == 8 ? "past_sequence_length" : "cache_indirection")
             << " (input " << i << ") is not supported";
  if (wantsOutput(node, 3))
    return node.emitError() << "output 3 (qk) is not supported";
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError()
           << "expected a float query, got '" << getDTypeName(dtype) << "'";
  for (unsigned i : {1u, 2u, 3u})
    if (node.hasInput(i) && node.getInputDType(i) != dtype)
      return node.emitError()
             << "input " << i << " must have the query's dtype '"
             << getDTypeName(dtype) << "'";

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  RankedTensorType qType = node.getInputType(0);
  bool packedQKV = !node.hasInput(1);
  bool packedKV = !packedQKV && !node.hasInput(2);
  Value q, k, v;
  int64_t batch = qType.getDimSize(0), seq = qType.getDimSize(1);
  if (packedQKV) {
    // query [B, S, N, 3, H].
    if (qType.getRank() != 5 || qType.getDimSize(2) != numHeads ||
        qType.getDimSize(3) != 3) {
      InFlightDiagnostic diag = node.emitError()
                                << "without key, query must be packed QKV [B,"
                                   "S,"
                                << numHeads << ",3,H], got ";
      printShape(diag, qType.getShape());
      return diag;
    }
    int64_t h = qType.getDimSize(4);
    Value packed = node.getInput(0);
    auto part = [&](int64_t index) {
      return buildReshape(b, loc, copySlice(b, loc, packed, 3, index, 1),
                          {batch, seq, numHeads * h});
    };
    q = part(0);
    k = part(1);
    v = part(2);
  } else {
    if (qType.getRank() != 3 || qType.getDimSize(2) % numHeads != 0) {
      InFlightDiagnostic diag = node.emitError()
                                << "query must be [B,S,D] with D divisible by "
                                   "num_heads "
                                << numHeads << ", got ";
      printShape(diag, qType.getShape());
      return diag;
    }
    q = node.getInput(0);
    RankedTensorType kType = node.getInputType(1);
    int64_t h = qType.getDimSize(2) / numHeads;
    if (packedKV) {
      // key [B, L, N, 2, H].
      if (kType.getRank() != 5 || kType.getDimSize(0) != batch ||
          kType.getDimSize(2) != numHeads || kType.getDimSize(3) != 2 ||
          kType.getDimSize(4) != h) {
        InFlightDiagnostic diag = node.emitError()
                                  << "without value, key must be packed KV ["
                                  << batch << ",L," << numHeads << ",2," << h
                                  << "], got ";
        printShape(diag, kType.getShape());
        return diag;
      }
      Value packed = node.getInput(1);
      int64_t kvSeq = kType.getDimSize(1);
      k = buildReshape(b, loc, copySlice(b, loc, packed, 3, 0, 1),
                       {batch, kvSeq, numHeads * h});
      v = buildReshape(b, loc, copySlice(b, loc, packed, 3, 1, 1),
                       {batch, kvSeq, numHeads * h});
    } else {
      RankedTensorType vType = node.getInputType(2);
      if (kType.getRank() != 3 || vType.getRank() != 3 ||
          kType.getDimSize(0) != batch || vType.getDimSize(0) != batch ||
          kType.getDimSize(1) != vType.getDimSize(1) ||
          kType.getDimSize(2) != qType.getDimSize(2) ||
          vType.getDimSize(2) % numHeads != 0) {
        InFlightDiagnostic diag = node.emitError()
                                  << "key/value must be [" << batch << ",L,"
                                  << qType.getDimSize(2) << "] and [" << batch
                                  << ",L,Dv] (BNSH key/value are not "
                                     "supported), got ";
        printShape(diag, kType.getShape());
        diag << " and ";
        printShape(diag, vType.getShape());
        return diag;
      }
      k = node.getInput(1);
      v = node.getInput(2);
    }
  }
  int64_t dq = cast<RankedTensorType>(q.getType()).getDimSize(2);
  int64_t dv = cast<RankedTensorType>(v.getType()).getDimSize(2);
  if (node.hasInput(3)) {
    RankedTensorType biasType = node.getInputType(3);
    if (biasType.getRank() != 1 || biasType.getDimSize(0) != 2 * dq + dv)
      return node.emitError() << "bias must have shape [" << 2 * dq + dv << "]";
    Value bias = node.getInput(3);
    q = addBiasSlice(b, loc, q, bias, 0);
    k = addBiasSlice(b, loc, k, bias, dq);
    v = addBiasSlice(b, loc, v, bias, 2 * dq);
  }
  Value pastKey, pastValue;
  if (node.hasInput(6) || node.hasInput(7)) {
    if (!node.hasInput(6) || !node.hasInput(7))
      return node.emitError()
             << "past_key and past_value must be given together";
    int64_t pastSeq = -1;
    if (failed(checkPast(node, 6, batch, numHeads, dq / numHeads, pastSeq)) ||
        failed(checkPast(node, 7, batch, numHeads, dv / numHeads, pastSeq)))
      return failure();
    pastKey = node.getInput(6);
    pastValue = node.getInput(7);
  }
  Value presentKey, presentValue;
  if (failed(lowerMsAttention(node, q, k, v, pastKey, pastValue, numHeads, 4, 5,
                              presentKey, presentValue)))
    return failure();
  node.setResult(1, presentKey, dtype);
  node.setResult(2, presentValue, dtype);
  return success();
}

LogicalResult mlir::sqz::import::importMsAttention(NodeContext &node) {
  if (failed(node.checkNumInputs(2, 7)))
    return failure();
  FailureOr<int64_t> headsAttr = node.getIntAttr("num_heads", 0);
  FailureOr<int64_t> rotaryAttr = node.getIntAttr("do_rotary", 0);
  FailureOr<int64_t> shareAttr =
      node.getIntAttr("past_present_share_buffer", 0);
  FailureOr<std::optional<SmallVector<int64_t>>> sizesAttr =
      node.getIntsAttr("qkv_hidden_sizes");
  if (failed(headsAttr) || failed(rotaryAttr) || failed(shareAttr) ||
      failed(sizesAttr))
    return failure();
  int64_t numHeads = *headsAttr;
  if (numHeads <= 0)
    return node.emitError() << "num_heads must be positive, got " << numHeads;
  if (*rotaryAttr != 0)
    return node.emitError() << "do_rotary is not supported";
  if (*shareAttr != 0)
    return node.emitError() << "past_present_share_buffer is not supported";
  if (node.hasInput(6))
    return node.emitError()
           << "past_sequence_length (input 6) is not supported";
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError()
           << "expected a float input, got '" << getDTypeName(dtype) << "'";
  for (unsigned i : {1u, 2u})
    if (node.hasInput(i) && node.getInputDType(i) != dtype)
      return node.emitError()
             << "input " << i << " must have the input's dtype '"
             << getDTypeName(dtype) << "'";

  RankedTensorType xType = node.getInputType(0);
  RankedTensorType wType = node.getInputType(1);
  if (xType.getRank() != 3 || wType.getRank() != 2 ||
      wType.getDimSize(0) != xType.getDimSize(2)) {
    InFlightDiagnostic diag = node.emitError()
                              << "expected input [B,S,In] and weights "
                                 "[In,Dq+Dk+Dv], got ";
    printShape(diag, xType.getShape());
    diag << " and ";
    printShape(diag, wType.getShape());
    return diag;
  }
  int64_t width = wType.getDimSize(1);
  int64_t dq = width / 3, dk = width / 3, dv = width / 3;
  if (*sizesAttr) {
    ArrayRef<int64_t> sizes = **sizesAttr;
    if (sizes.size() != 3)
      return node.emitError() << "qkv_hidden_sizes must have 3 values";
    dq = sizes[0];
    dk = sizes[1];
    dv = sizes[2];
  }
  if (dq + dk + dv != width || dq != dk || dq <= 0 || dv <= 0 ||
      dq % numHeads != 0 || dv % numHeads != 0)
    return node.emitError()
           << "hidden sizes (" << dq << "," << dk << "," << dv
           << ") must sum to the weights' " << width
           << " columns, with Q and K equal and all divisible by num_heads "
           << numHeads;
  if (node.hasInput(2)) {
    RankedTensorType biasType = node.getInputType(2);
    if (biasType.getRank() != 1 || biasType.getDimSize(0) != width)
      return node.emitError() << "bias must have shape [" << width << "]";
  }
  int64_t batch = xType.getDimSize(0);
  bool hasPast = node.hasInput(4);
  bool wantsPresent = wantsOutput(node, 1);
  if ((hasPast || wantsPresent) && dk != dv)
    return node.emitError()
           << "past/present need equal K and V hidden sizes, got " << dk
           << " and " << dv;
  int64_t headSize = dk / numHeads;
  if (hasPast) {
    RankedTensorType pastType = node.getInputType(4);
    if (node.getInputDType(4) != dtype || pastType.getRank() != 5 ||
        pastType.getDimSize(0) != 2 || pastType.getDimSize(1) != batch ||
        pastType.getDimSize(2) != numHeads ||
        pastType.getDimSize(4) != headSize) {
      InFlightDiagnostic diag = node.emitError()
                                << "past must have shape [2," << batch << ","
                                << numHeads << ",P," << headSize << "], got ";
      printShape(diag, pastType.getShape());
      return diag;
    }
  }

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  Value qkv = buildOnnxMatmul(b, loc, node.getInput(0), node.getInput(1));
  Value bias = node.hasInput(2) ? node.getInput(2) : Value();
  auto part = [&](int64_t offset, int64_t size) {
    Value value = copySlice(b, loc, qkv, 2, offset, size);
    return bias ? addBiasSlice(b, loc, value, bias, offset) : value;
  };
  Value q = part(0, dq);
  Value k = part(dq, dk);
  Value v = part(dq + dk, dv);
  Value pastKey, pastValue;
  if (hasPast) {
    Value past = node.getInput(4);
    ArrayRef<int64_t> shape = node.getInputType(4).getShape().drop_front();
    pastKey = buildReshape(b, loc, copySlice(b, loc, past, 0, 0, 1), shape);
    pastValue = buildReshape(b, loc, copySlice(b, loc, past, 0, 1, 1), shape);
  }
  Value presentKey, presentValue;
  if (failed(lowerMsAttention(node, q, k, v, pastKey, pastValue, numHeads, 3, 5,
                              presentKey, presentValue)))
    return failure();
  if (wantsPresent) {
    // [2, B, N, P+S, H]: keys then values.
    auto type = cast<RankedTensorType>(presentKey.getType());
    SmallVector<int64_t> shape = {1};
    llvm::append_range(shape, type.getShape());
    Value present =
        buildJoin(b, loc, buildReshape(b, loc, presentKey, shape),
                  buildReshape(b, loc, presentValue, shape), 0, 0, {});
    node.setResult(1, present, dtype);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// com.microsoft GroupQueryAttention
//===----------------------------------------------------------------------===//

LogicalResult
mlir::sqz::import::importMsGroupQueryAttention(NodeContext &node) {
  if (failed(node.checkNumInputs(1, 14)))
    return failure();
  if (node.getNumInputs() < 7 || !node.hasInput(5) || !node.hasInput(6))
    return node.emitError()
           << "expected seqlens_k (input 5) and total_sequence_length (input "
              "6)";
  FailureOr<int64_t> headsAttr = node.getIntAttr("num_heads", 0);
  FailureOr<int64_t> kvHeadsAttr = node.getIntAttr("kv_num_heads", 0);
  FailureOr<float> scaleAttr = node.getFloatAttr("scale", 0.0f);
  FailureOr<float> softcapAttr = node.getFloatAttr("softcap", 0.0f);
  FailureOr<int64_t> windowAttr = node.getIntAttr("local_window_size", -1);
  FailureOr<int64_t> rotaryAttr = node.getIntAttr("do_rotary", 0);
  FailureOr<int64_t> interleavedAttr = node.getIntAttr("rotary_interleaved", 0);
  FailureOr<int64_t> smoothAttr = node.getIntAttr("smooth_softmax", 0);
  FailureOr<int64_t> qkOutputAttr = node.getIntAttr("qk_output", 0);
  if (failed(headsAttr) || failed(kvHeadsAttr) || failed(scaleAttr) ||
      failed(softcapAttr) || failed(windowAttr) || failed(rotaryAttr) ||
      failed(interleavedAttr) || failed(smoothAttr) || failed(qkOutputAttr))
    return failure();
  int64_t qHeads = *headsAttr, kvHeads = *kvHeadsAttr;
  if (qHeads <= 0 || kvHeads <= 0 || qHeads % kvHeads != 0)
    return node.emitError()
           << "num_heads " << qHeads
           << " must be a positive multiple of kv_num_heads " << kvHeads;
  if (*smoothAttr != 0)
    return node.emitError() << "smooth_softmax is not supported";
  if (*qkOutputAttr != 0 || wantsOutput(node, 3))
    return node.emitError() << "qk_output is not supported";
  for (unsigned i = 9; i < node.getNumInputs(); ++i)
    if (i != 10 && node.hasInput(i))
      return node.emitError()
             << "input " << i
             << " is not supported (position_ids, head_sink and quantized KV "
                "caches)";
  int32_t dtype = node.getInputDType(0);
  if (!isFloatDType(dtype))
    return node.emitError()
           << "expected a float query, got '" << getDTypeName(dtype) << "'";
  for (unsigned i : {1u, 2u, 3u, 4u, 7u, 8u})
    if (node.hasInput(i) && node.getInputDType(i) != dtype)
      return node.emitError()
             << "input " << i << " must have the query's dtype '"
             << getDTypeName(dtype) << "'";

  // Q, K, V: [B, S, N·H], or packed in query [B, S, (N + 2·Nkv)·H].
  RankedTensorType qType = node.getInputType(0);
  bool packed = !node.hasInput(1);
  if (packed != !node.hasInput(2))
    return node.emitError()
           << "key and value must both be given, or both omitted (packed QKV)";
  if (qType.getRank() != 3)
    return node.emitError()
           << "query must be 3-D [B,S,D], got rank " << qType.getRank();
  int64_t batch = qType.getDimSize(0), seq = qType.getDimSize(1);
  int64_t width = qType.getDimSize(2);
  int64_t headSize = width / (packed ? qHeads + 2 * kvHeads : qHeads);
  if (headSize * (packed ? qHeads + 2 * kvHeads : qHeads) != width)
    return node.emitError()
           << "query hidden size " << width << " is not divisible into "
           << qHeads << " + " << (packed ? 2 * kvHeads : 0) << " heads";
  if (!packed) {
    for (unsigned i : {1u, 2u}) {
      RankedTensorType type = node.getInputType(i);
      if (type.getRank() != 3 || type.getDimSize(0) != batch ||
          type.getDimSize(1) != seq ||
          type.getDimSize(2) != kvHeads * headSize) {
        InFlightDiagnostic diag = node.emitError()
                                  << (i == 1 ? "key" : "value")
                                  << " must have shape [" << batch << "," << seq
                                  << "," << kvHeads * headSize << "], got ";
        printShape(diag, type.getShape());
        return diag;
      }
    }
  }
  int64_t pastBuffer = 0;
  bool hasPast = node.hasInput(3) || node.hasInput(4);
  if (hasPast) {
    if (!node.hasInput(3) || !node.hasInput(4))
      return node.emitError()
             << "past_key and past_value must be given together";
    int64_t pastSeq = -1;
    if (failed(checkPast(node, 3, batch, kvHeads, headSize, pastSeq)) ||
        failed(checkPast(node, 4, batch, kvHeads, headSize, pastSeq)))
      return failure();
    pastBuffer = pastSeq;
  }
  RankedTensorType seqlensType = node.getInputType(5);
  if (node.getInputDType(5) != onnx::TensorProto::INT32 ||
      seqlensType.getRank() != 1 || seqlensType.getDimSize(0) != batch)
    return node.emitError()
           << "seqlens_k must be an int32 tensor of shape [" << batch << "]";
  RankedTensorType totalType = node.getInputType(6);
  if (node.getInputDType(6) != onnx::TensorProto::INT32 ||
      totalType.getNumElements() != 1 || totalType.getRank() > 1)
    return node.emitError()
           << "total_sequence_length must be an int32 scalar or [1] tensor";
  // The present length: max(past buffer, total_sequence_length). A run-time
  // total_sequence_length is taken to be past buffer + S (the past holds the
  // previous tokens, as exported decoder models use it).
  int64_t total = pastBuffer + seq;
  if (const HostTensor *constant = node.getConstantInput(6)) {
    total = constant->getInt(0);
    if (total < seq || (seq > 1 && seq != total && batch != 1))
      return node.emitError()
             << "total_sequence_length " << total
             << " is inconsistent with sequence length " << seq << " and batch "
             << batch
             << " (need S == total for a prompt, S == 1 or batch 1 after it)";
  }
  int64_t present = std::max(pastBuffer, total);
  bool hasBias = node.hasInput(10);
  if (hasBias) {
    RankedTensorType biasType = node.getInputType(10);
    if (node.getInputDType(10) != dtype || biasType.getRank() != 4 ||
        biasType.getDimSize(3) != present ||
        !broadcastsToScores(biasType.getShape(),
                            {batch, qHeads, seq, present})) {
      InFlightDiagnostic diag = node.emitError() << "attention_bias of shape ";
      printShape(diag, biasType.getShape());
      diag << " must be '" << getDTypeName(dtype) << "' of shape [" << batch
           << " or 1," << qHeads << " or 1," << seq << "," << present << "]";
      return diag;
    }
  }

  bool doRotary = *rotaryAttr != 0;
  int64_t rotaryDim = 0;
  if (doRotary) {
    if (!node.hasInput(7) || !node.hasInput(8))
      return node.emitError() << "do_rotary needs cos_cache and sin_cache";
    RankedTensorType cosType = node.getInputType(7);
    if (node.getInputType(8) != cosType || cosType.getRank() != 2 ||
        2 * cosType.getDimSize(1) > headSize || cosType.getDimSize(1) < 1) {
      InFlightDiagnostic diag = node.emitError()
                                << "cos_cache and sin_cache must both have "
                                   "shape [max_position, rotary_dim/2 <= "
                                << headSize / 2 << "], got ";
      printShape(diag, cosType.getShape());
      return diag;
    }
    rotaryDim = 2 * cosType.getDimSize(1);
  }

  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  MLIRContext *context = b.getContext();
  Type ioType = qType.getElementType();
  Type computeType = getComputeType(b, ioType);
  Type i64 = b.getI64Type();
  Value q, k, v;
  if (packed) {
    Value query = node.getInput(0);
    q = copySlice(b, loc, query, 2, 0, qHeads * headSize);
    k = copySlice(b, loc, query, 2, qHeads * headSize, kvHeads * headSize);
    v = copySlice(b, loc, query, 2, (qHeads + kvHeads) * headSize,
                  kvHeads * headSize);
  } else {
    q = node.getInput(0);
    k = node.getInput(1);
    v = node.getInput(2);
  }
  q = splitHeads(b, loc, q, qHeads);
  k = splitHeads(b, loc, k, kvHeads);
  v = splitHeads(b, loc, v, kvHeads);

  // pastLen[b]: where the new tokens go, 0 for the first prompt (S ==
  // total_sequence_length), else seqlens_k[b] + 1 − S.
  Value seqlens = node.getInput(5);
  Value pastLen = buildElementwise(
      b, loc, ValueRange{seqlens, node.getInput(6)}, {batch}, i64,
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value s = createScalar(nb, nl, nb.getI32Type(), seq);
        Value first =
            arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, args[1], s);
        Value after = arith::SubIOp::create(
            nb, nl,
            arith::AddIOp::create(nb, nl, args[0],
                                  createScalar(nb, nl, nb.getI32Type(), 1)),
            s);
        Value len = arith::SelectOp::create(
            nb, nl, first, createScalar(nb, nl, nb.getI32Type(), 0), after);
        return arith::ExtSIOp::create(nb, nl, i64, len);
      });
  if (doRotary) {
    Value positions = buildPositions(
        b, loc, ValueRange{buildReshape(b, loc, pastLen, {batch, 1})}, batch,
        seq, [](OpBuilder &nb, Location nl, ValueRange args, Value, Value s) {
          return arith::AddIOp::create(nb, nl, args[0], s).getResult();
        });
    Value cosCache = node.getInput(7), sinCache = node.getInput(8);
    bool interleaved = *interleavedAttr != 0;
    q = buildRotary(b, loc, q, 2, cosCache, sinCache, positions, rotaryDim,
                    interleaved);
    k = buildRotary(b, loc, k, 2, cosCache, sinCache, positions, rotaryDim,
                    interleaved);
  }

  // present[b, h, t] = past[b, h, t] for t < pastLen[b], then the S new
  // tokens, then zeros (onnxruntime clears the rest of the buffer).
  Value pastKey = hasPast ? node.getInput(3) : Value();
  Value pastValue = hasPast ? node.getInput(4) : Value();
  auto buildPresent = [&](Value past, Value current) {
    SmallVector<int64_t> shape = {batch, kvHeads, present, headSize};
    Value init = createEmpty(b, loc, shape, ioType);
    AffineMap identity = AffineMap::getMultiDimIdentityMap(4, context);
    SmallVector<utils::IteratorType> parallel(4, utils::IteratorType::parallel);
    return linalg::GenericOp::create(
               b, loc, TypeRange{init.getType()}, ValueRange{pastLen},
               ValueRange{init},
               ArrayRef<AffineMap>{getDimsMap(context, 4, {0}), identity},
               parallel,
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 auto index = [&](int64_t value) {
                   return arith::ConstantIndexOp::create(nb, nl, value)
                       .getResult();
                 };
                 Value i0 = linalg::IndexOp::create(nb, nl, 0);
                 Value i1 = linalg::IndexOp::create(nb, nl, 1);
                 Value t = linalg::IndexOp::create(nb, nl, 2);
                 Value d = linalg::IndexOp::create(nb, nl, 3);
                 Value start = arith::IndexCastOp::create(
                     nb, nl, nb.getIndexType(), args[0]);
                 Value shifted = arith::SubIOp::create(nb, nl, t, start);
                 Value inNew = arith::AndIOp::create(
                     nb, nl,
                     arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sge,
                                           shifted, index(0)),
                     arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::slt,
                                           shifted, index(seq)));
                 Value newIndex = arith::MinSIOp::create(
                     nb, nl, arith::MaxSIOp::create(nb, nl, shifted, index(0)),
                     index(seq - 1));
                 Value value = tensor::ExtractOp::create(
                     nb, nl, current, ValueRange{i0, i1, newIndex, d});
                 Value zero = createScalar(nb, nl, ioType, 0.0);
                 Value other = zero;
                 if (past && pastBuffer > 0) {
                   Value inPast = arith::AndIOp::create(
                       nb, nl,
                       arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::slt,
                                             t, start),
                       arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult,
                                             t, index(pastBuffer)));
                   Value pastIndex =
                       arith::MinUIOp::create(nb, nl, t, index(pastBuffer - 1));
                   Value fromPast = tensor::ExtractOp::create(
                       nb, nl, past, ValueRange{i0, i1, pastIndex, d});
                   other =
                       arith::SelectOp::create(nb, nl, inPast, fromPast, zero);
                 }
                 linalg::YieldOp::create(
                     nb, nl,
                     arith::SelectOp::create(nb, nl, inNew, value, other)
                         .getResult());
               })
        .getResult(0);
  };
  Value presentKey = buildPresent(pastKey, k);
  Value presentValue = buildPresent(pastValue, v);
  node.setResult(1, presentKey, dtype);
  node.setResult(2, presentValue, dtype);

  // Key j is visible to query i of batch b iff j <= seqlens_k[b] (valid),
  // j <= pastLen[b] + i (causal), and, with a local window w > 0,
  // j > pastLen[b] + i − w (the w latest keys, as onnxruntime 1.30).
  int64_t window = *windowAttr;
  ScoreBias bias;
  bias.inputs = {pastLen, seqlens};
  bias.maps = {getDimsMap(context, 5, {0}), getDimsMap(context, 5, {0})};
  // attention_bias is added after the softcap, as onnxruntime does.
  bias.prepare = [&](ScoreBias &self) {
    if (!hasBias)
      return;
    auto [mask, map] =
        prepareScoreMask(b, loc, node.getInput(10), {},
                         {batch, kvHeads, qHeads / kvHeads, seq, present});
    self.inputs.push_back(mask);
    self.maps.push_back(map);
  };
  bias.body = [&](OpBuilder &nb, Location nl, Value x, ValueRange extras,
                  Value i, Value j) -> Value {
    if (hasBias) {
      Value m = extras[2];
      if (m.getType() != computeType)
        m = arith::ExtFOp::create(nb, nl, computeType, m);
      x = arith::AddFOp::create(nb, nl, x, m);
    }
    Value last = arith::ExtSIOp::create(nb, nl, nb.getI64Type(), extras[1]);
    Value position = arith::AddIOp::create(nb, nl, extras[0], i);
    Value masked = arith::OrIOp::create(
        nb, nl,
        arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sgt, j, last),
        arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sgt, j, position));
    if (window > 0) {
      Value start = arith::SubIOp::create(
          nb, nl, position, createScalar(nb, nl, nb.getI64Type(), window));
      masked = arith::OrIOp::create(
          nb, nl, masked,
          arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sle, j, start));
    }
    Value negInf = createScalar(nb, nl, computeType,
                                -std::numeric_limits<double>::infinity());
    return arith::SelectOp::create(nb, nl, masked, negInf, x).getResult();
  };
  double scale = *scaleAttr != 0.0f
                     ? static_cast<double>(*scaleAttr)
                     : 1.0 / std::sqrt(static_cast<double>(headSize));
  Value y = buildAttentionCore(b, loc, convertFloat(b, loc, q, computeType),
                               convertFloat(b, loc, presentKey, computeType),
                               convertFloat(b, loc, presentValue, computeType),
                               scale, *softcapAttr, &bias);
  node.setResult(0, convertFloat(b, loc, mergeHeads(b, loc, y), ioType), dtype);
  return success();
}
