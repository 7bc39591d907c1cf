//===- SqzDialect.td - The sqz dialect --------------------*- tablegen -*-===//
//
// The sqz dialect holds only what carries compression meaning: the linear layer that compression
// passes rewrite, calibration taps, and the attributes that describe compression schemes.
// Everything else in the graph IR is upstream (tensor, arith, math, linalg, func).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_DIALECT_SQZ_IR_SQZDIALECT_TD
#define SQZ_DIALECT_SQZ_IR_SQZDIALECT_TD

include "mlir/IR/OpBase.td"

def Sqz_Dialect : Dialect {
  let name = "sqz";
  let cppNamespace = "::mlir::sqz";
  let summary = "Compression-carrying ops and attributes of the Squeeze LLM compiler";
  let description = [{
    `sqz` is the small dialect at the heart of Squeeze. A `sqz.linear` is the unit of compression
    (y = x·Wᵀ + b with a constant weight W of shape [out, in]); `sqz.observe` taps a linear's input
    during calibration; `#sqz.quant` and `#sqz.sparsity` describe compression schemes.
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect", "::mlir::arith::ArithDialect"];
  let useDefaultAttributePrinterParser = 1;
}

class Sqz_Op<string mnemonic, list<Trait> traits = []>
    : Op<Sqz_Dialect, mnemonic, traits>;

#endif // SQZ_DIALECT_SQZ_IR_SQZDIALECT_TD
