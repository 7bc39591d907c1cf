//===- OnnxExport.h - Compressed sqz graph IR back to ONNX ------*- C++ -*-===//
//
// `sqz-translate --export-onnx --onnx-source model.onnx compressed.mlir -o
// out.onnx` writes a compressed module as an ONNX model: the source model the
// module was imported from, with the MatMul/Gemm/MatMulNBits nodes whose linear
// the passes changed replaced by com.microsoft MatMulNBits (sqz.quant_linear)
// or by MatMul [+ Add] with a new weight (sqz.linear). Everything else is the
// source's own nodes; the module must be the source's import with only its
// linears' weights changed, which the exporter checks by importing the source
// again and comparing. See docs/Compression.md ("Pre-quantized models in, ONNX
// out").
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_TARGET_ONNX_ONNXEXPORT_H
#define SQZ_TARGET_ONNX_ONNXEXPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringRef.h"

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace mlir::sqz {

/// Writes `module` (sqz graph IR, `func.func @main`, imported from the ONNX
/// model at `sourcePath` and then compressed) as a binary ONNX model to `os`.
/// On failure emits diagnostics (naming the op or ONNX node that cannot be
/// exported) and writes nothing.
LogicalResult exportOnnx(ModuleOp module, llvm::StringRef sourcePath,
                         llvm::raw_ostream &os);

} // namespace mlir::sqz

#endif // SQZ_TARGET_ONNX_ONNXEXPORT_H
