//===- IndexUtils.h - Index helpers of gathers and scatters ----*- C++ -*-===//
//
// Shared by IndexingOps.cpp and ScatterOps.cpp: the check of an index operand's dtype and
// constant values, and the in-bounds normalization of a run-time index element.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_IMPORT_INDEXUTILS_H
#define SQZ_LIB_IMPORT_INDEXUTILS_H

#include "GraphImporter.h"

namespace mlir::sqz::import {

/// True for the index dtypes gathers and scatters accept (int32, int64).
bool isIndexDType(int32_t dtype);

/// `index` (an integer element) as an in-bounds `index` for a dim of size `dim`: negative values
/// count from the end, the rest is clamped to [0, dim - 1].
Value buildNormalizedIndex(OpBuilder &b, Location loc, Value index, int64_t dim);
/// The same for a dim whose size may be dynamic.
Value buildNormalizedIndex(OpBuilder &b, Location loc, Value index, OpFoldResult dim);

/// Checks the index tensor `index` of a gather or scatter: int32/int64 and, when constant, its
/// values in [-dim, dim).
LogicalResult checkIndices(NodeContext &node, unsigned index, int64_t dim);

} // namespace mlir::sqz::import

#endif // SQZ_LIB_IMPORT_INDEXUTILS_H
