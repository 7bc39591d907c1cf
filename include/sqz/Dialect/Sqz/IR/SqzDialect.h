//===- SqzDialect.h - The sqz dialect ---------------------------*- C++ -*-===//
//
// Declares the sqz dialect, its attributes and its operations.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_DIALECT_SQZ_IR_SQZDIALECT_H
#define SQZ_DIALECT_SQZ_IR_SQZDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h.inc"
#include "sqz/Dialect/Sqz/IR/SqzEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "sqz/Dialect/Sqz/IR/SqzAttrs.h.inc"

#define GET_OP_CLASSES
#include "sqz/Dialect/Sqz/IR/SqzOps.h.inc"

#endif // SQZ_DIALECT_SQZ_IR_SQZDIALECT_H
