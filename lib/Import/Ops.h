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

// SoftmaxOp.cpp
LogicalResult importSoftmax(NodeContext &node);

// LinearOps.cpp
LogicalResult importMatMul(NodeContext &node);
LogicalResult importGemm(NodeContext &node);

// TensorOps.cpp
LogicalResult importConstant(NodeContext &node);
LogicalResult importIdentity(NodeContext &node);
LogicalResult importReshape(NodeContext &node);
LogicalResult importTranspose(NodeContext &node);

} // namespace mlir::sqz::import

#endif // SQZ_LIB_IMPORT_OPS_H
