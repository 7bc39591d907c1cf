//===- ShapeUtils.h - Helpers of the shape/indexing op importers -*- C++ -*-===//
//
// Shared by ShapeOps.cpp and IndexingOps.cpp: reading constant int lists and axes, evaluating
// data-movement ops on `HostTensor`s (so shape-only subgraphs fold to constants at import
// time), and a `linalg.generic` builder whose body sees the loop indices (for gathers, masks and
// scans).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_IMPORT_SHAPEUTILS_H
#define SQZ_LIB_IMPORT_SHAPEUTILS_H

#include "GraphImporter.h"

#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace mlir::sqz::import {

/// Ops whose result is bigger than their inputs (Expand, Tile, ConstantOfShape, ...) fold to a
/// host constant only up to this many elements; larger results are computed at run time.
inline constexpr int64_t kMaxFoldElements = int64_t(1) << 20;

int64_t getShapeNumElements(ArrayRef<int64_t> shape);
/// Row-major strides (in elements) of `shape`.
SmallVector<int64_t> getRowMajorStrides(ArrayRef<int64_t> shape);

/// True when every present input of `node` is an import-time constant.
bool allInputsConstant(const NodeContext &node);

/// Input `index` as a list of ints: it must be an import-time constant integer tensor of rank
/// 0 or 1 (`what` names it in the diagnostic).
FailureOr<SmallVector<int64_t>> getConstantInts(NodeContext &node, unsigned index, StringRef what);

/// Like getConstantInts, but also accepts a symbolic shape value (SymbolicInts): the elements
/// as constants (IntegerAttr) or `index` values.
FailureOr<SmallVector<OpFoldResult>> getMixedInts(NodeContext &node, unsigned index,
                                                  StringRef what);

/// `axis` in [-rank, rank) made non-negative; emits an error naming `what` otherwise.
FailureOr<int64_t> normalizeAxis(NodeContext &node, int64_t axis, int64_t rank, StringRef what);

/// Calls `fn(flat, index)` for every multi-index of `shape` in row-major order.
void forEachIndex(ArrayRef<int64_t> shape, function_ref<void(int64_t, ArrayRef<int64_t>)> fn);

/// A new tensor of `shape` with the dtype of `source` whose element at each (row-major)
/// multi-index is the element of `source` at flat index `sourceIndex(index)`, or zero where
/// that returns a negative number.
HostTensor gatherHostElements(const HostTensor &source, ArrayRef<int64_t> shape,
                              function_ref<int64_t(ArrayRef<int64_t>)> sourceIndex);

/// The flat index into a tensor of `sourceShape` that numpy broadcasting reads for
/// `resultIndex` (missing leading dims dropped, size-1 dims read index 0).
int64_t getBroadcastSourceIndex(ArrayRef<int64_t> sourceShape, ArrayRef<int64_t> resultIndex);

/// `source` (a constant) with a new shape of the same element count; shares the data.
HostTensor reshapeHostTensor(const HostTensor &source, ArrayRef<int64_t> shape);

/// Builds the scalar result of an indexed generic from the loop indices and the input elements.
using IndexedBodyFn =
    function_ref<Value(OpBuilder &, Location, ValueRange indices, ValueRange args)>;

/// A parallel `linalg.generic` over `resultShape` (identity output map) reading `inputs` through
/// `inputMaps`; the body gets the `linalg.index` of every loop dim. Dynamic result dims take
/// their sizes from `resultSizes` when given, else from the inputs that index them.
Value buildIndexedGeneric(OpBuilder &b, Location loc, ValueRange inputs,
                          ArrayRef<AffineMap> inputMaps, ArrayRef<int64_t> resultShape,
                          Type resultElementType, IndexedBodyFn body,
                          ArrayRef<OpFoldResult> resultSizes = {});

/// Converts an integer scalar (i64/i32/...) to `index` (signed).
Value castToIndex(OpBuilder &b, Location loc, Value value);

} // namespace mlir::sqz::import

#endif // SQZ_LIB_IMPORT_SHAPEUTILS_H
