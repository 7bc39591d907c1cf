//===- ImportBuilders.h - IR building blocks of the ONNX importer -*- C++ -*-===//
//
// Helpers that op import functions share to emit upstream tensor IR: numpy-style broadcasting
// elementwise `linalg.generic`s, reductions, transposes, reshapes and matmuls. All shapes are
// static or dynamic (dynamic dims never broadcast).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_IMPORT_IMPORTBUILDERS_H
#define SQZ_LIB_IMPORT_IMPORTBUILDERS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <optional>

namespace mlir::sqz::import {

/// The shape of ONNX multidirectional (numpy) broadcasting of `shapes`, or std::nullopt if they
/// are incompatible.
std::optional<SmallVector<int64_t>> broadcastShapes(ArrayRef<ArrayRef<int64_t>> shapes);

/// The sizes of a ranked tensor: constants for static dims, `tensor.dim` for dynamic ones.
SmallVector<OpFoldResult> getMixedSizes(OpBuilder &b, Location loc, Value tensor);
/// The value of a constant size, or std::nullopt for an SSA size.
std::optional<int64_t> getConstantSize(OpFoldResult size);
/// A size as an `index` value (constants materialized).
Value getIndexValue(OpBuilder &b, Location loc, OpFoldResult size);
/// Integer arithmetic on mixed sizes: `op` is "Add", "Sub", "Mul", "Div" (truncating), "Mod",
/// "Min" or "Max"; constants fold, anything else becomes `arith` on `index`.
OpFoldResult buildIndexOp(OpBuilder &b, Location loc, StringRef op, OpFoldResult lhs,
                          OpFoldResult rhs);
/// The static shape of mixed sizes (kDynamic for SSA sizes).
SmallVector<int64_t> getStaticSizes(ArrayRef<OpFoldResult> sizes);

/// The sizes of the dims of an iteration space `shape` whose operands `inputs` are read through
/// `maps`: static dims as constants, each dynamic dim from the first operand that indexes it
/// directly (`tensor.dim`). Dynamic dims are assumed never to broadcast.
SmallVector<OpFoldResult> getLoopSizes(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                                       ValueRange inputs, ArrayRef<AffineMap> maps);

/// `tensor.empty` of mixed sizes.
Value createEmpty(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes, Type elementType);
/// `tensor.empty` of the given shape (static, or with dynamic dims whose sizes come from
/// `sizeSources` broadcast numpy-style: right-aligned, first source with a dynamic dim there).
Value createEmpty(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elementType,
                  ValueRange sizeSources = {});
/// A scalar `arith.constant` of `elementType` (float or integer) holding `value`.
Value createScalar(OpBuilder &b, Location loc, Type elementType, double value);
/// `linalg.fill` of a new tensor with `value`.
Value createFilled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elementType,
                   TypedAttr value, ValueRange sizeSources = {});
/// `linalg.fill` of a new tensor of mixed sizes with `value`.
Value createFilled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes, Type elementType,
                   TypedAttr value);

/// Computes the scalar body of an elementwise op from the (broadcast) operand elements.
using ElementwiseBodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// A `linalg.generic` over `resultShape` whose inputs are broadcast to it numpy-style through
/// their indexing maps (size-1 dims read index 0, missing leading dims are dropped).
/// Dynamic result dims take their sizes from `resultSizes` when given, else from the inputs.
Value buildElementwise(OpBuilder &b, Location loc, ValueRange inputs, ArrayRef<int64_t> resultShape,
                       Type resultElementType, ElementwiseBodyFn body,
                       ArrayRef<OpFoldResult> resultSizes = {});

/// `linalg.reduce` of `input` over `dims` (sorted, unique) starting from `init`; the result
/// drops the reduced dims. `combine(b, loc, element, accumulator)` folds one element.
Value buildReduce(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> dims, TypedAttr init,
                  function_ref<Value(OpBuilder &, Location, Value, Value)> combine);

/// The affine map from the iteration space of a `rank`-D elementwise op to a tensor that kept
/// only the dims not in `reducedDims` (to broadcast a reduction result back).
AffineMap getKeptDimsMap(MLIRContext *context, int64_t rank, ArrayRef<int64_t> reducedDims);

/// The map from the iteration space of `resultShape` to an operand broadcast numpy-style to it
/// (right-aligned; size-1 dims read index 0, missing leading dims are dropped).
AffineMap getBroadcastMap(MLIRContext *context, ArrayRef<int64_t> operandShape,
                          ArrayRef<int64_t> resultShape);

/// A `linalg.generic` over the iteration space `shape` that reduces `dims` (sorted, unique):
/// `inputs` are read through `inputMaps`, the accumulator (filled with `init`) keeps the other
/// dims, and `combine(b, loc, elements, accumulator)` returns the new accumulator. Unlike
/// `buildReduce`, per-element math (x², x - mean, extf) lives in the reduction body, so no
/// input-sized temporary is materialized, and elementwise producers can fuse into it.
Value buildReductionGeneric(
    OpBuilder &b, Location loc, ValueRange inputs, ArrayRef<AffineMap> inputMaps,
    ArrayRef<int64_t> shape, ArrayRef<int64_t> dims, TypedAttr init,
    function_ref<Value(OpBuilder &, Location, ValueRange, Value)> combine);

/// `linalg.transpose` (result dim i is input dim perm[i]); returns `input` for the identity.
Value buildTranspose(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> perm);

/// Reshapes `input` to `shape` (same element count): nothing if equal, one
/// `tensor.collapse_shape` or `tensor.expand_shape` when one shape regroups the other, else
/// collapse to 1-D and expand (rank-0 sides use empty reassociations). With dynamic dims:
/// expand/collapse when the regrouping is clear, else `tensor.reshape`; `sizes` (the result
/// dims, mixed) is needed when a result group has several dynamic dims or the reshape is not a
/// regrouping.
Value buildReshape(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> shape,
                   ArrayRef<OpFoldResult> sizes = {});

/// A 2-D `linalg.matmul` (`lhs` [M,K] x `rhs` [K,N]) accumulating into zeros.
Value buildMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs);

/// ONNX MatMul (numpy semantics) of two computed tensors: 1-D operands are promoted and the
/// promoted dims dropped from the result, batch dims broadcast. Uses linalg.matmul,
/// linalg.batch_matmul, or a broadcasting contraction `linalg.generic`. Returns null when the
/// batch dims do not broadcast or the contraction dims differ.
Value buildOnnxMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs);

} // namespace mlir::sqz::import

#endif // SQZ_LIB_IMPORT_IMPORTBUILDERS_H
