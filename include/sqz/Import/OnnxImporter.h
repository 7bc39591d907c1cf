//===- OnnxImporter.h - ONNX to sqz graph IR importer -----------*- C++ -*-===//
//
// Public entry points of the ONNX importer: turn a binary (.onnx) or textual (.onnxtxt) ONNX
// model into a `func.func @main` over tensors using `sqz.linear` and upstream
// linalg/tensor/arith/math ops. Errors are reported through the context's diagnostic engine;
// the importer never asserts or crashes on user input. See docs/Import.md.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_IMPORT_ONNXIMPORTER_H
#define SQZ_IMPORT_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <utility>

namespace llvm {
class MemoryBuffer;
} // namespace llvm

namespace mlir {
class DialectRegistry;
class MLIRContext;

namespace sqz {

/// How the importer reads a model.
struct OnnxImportOptions {
  /// Shapes that pin graph inputs (`--input-shape name=1x128`): every dimension of the named
  /// input is replaced by the given one (the rank must match; static dims must agree).
  llvm::SmallVector<std::pair<std::string, llvm::SmallVector<int64_t>>> inputShapes;
  /// One `--dynamic-dim input:axis[:max]`: axis `axis` of graph input `input` stays dynamic to
  /// run time (also when the model gives it a size), with an optional upper bound.
  struct DynamicDim {
    std::string input;
    int64_t axis = 0;
    int64_t max = -1; // -1: no bound
  };
  /// Dims made dynamic. Dims the model leaves symbolic (a `dim_param` or no size) and no
  /// `--input-shape` pins stay dynamic too, unbounded.
  llvm::SmallVector<DynamicDim> dynamicDims;
};

/// The name of the argument/result attribute that carries the ONNX graph input/output name.
inline constexpr llvm::StringLiteral kOnnxNameAttr = "sqz.name";
/// Unit attribute set on arguments/results whose ONNX dtype is an unsigned integer (uint8/16/32/64
/// carried as signless integers; also uint4/uint2 and the float8/float4 bit patterns, carried in
/// i8 as uint8).
inline constexpr llvm::StringLiteral kOnnxUnsignedAttr = "sqz.unsigned";
/// String attribute naming the ONNX dtype of an argument/result that the ABI carries widened or
/// as raw bit patterns: "int4"/"uint4"/"int2"/"uint2" (one int8/uint8 per element), float8
/// ("float8e4m3fn", ...) and "float4e2m1" (uint8 bit patterns), "bfloat16" (uint16 bits).
inline constexpr llvm::StringLiteral kOnnxDTypeAttr = "sqz.onnx_dtype";

/// Argument attribute (ArrayAttr of StringAttr, one per dim) naming the dims of a graph
/// input/output with a dynamic dim: the ONNX `dim_param`, or "" (static or unnamed dims).
inline constexpr llvm::StringLiteral kDimNamesAttr = "sqz.dim_names";
/// Argument attribute (DenseI64ArrayAttr, one per dim) of a graph input with a dynamic dim:
/// static dims repeat their size, dynamic dims give their bound or -1 (none).
inline constexpr llvm::StringLiteral kMaxShapeAttr = "sqz.max_shape";

/// Parses one `--dynamic-dim` value, `input:axis[:max]` (axis may be negative, counting from
/// the end), and appends it to `options`. On failure returns false and sets `error`.
bool parseOnnxDynamicDim(llvm::StringRef spec, OnnxImportOptions &options, std::string &error);

/// Parses one `--input-shape` value, `name=DxDx...` (dims separated by `x` or `,`; an empty
/// dim list, `name=`, pins a scalar), and appends it to `options`. On failure returns false and
/// sets `error` to a message that names the bad spec.
bool parseOnnxInputShape(llvm::StringRef spec, OnnxImportOptions &options, std::string &error);

/// Imports the ONNX model held in `buffer`. Its identifier is used as the file name in
/// diagnostics and decides the format: `.onnxtxt`/`.onnxtext` is textual ONNX, `.onnx` is binary
/// protobuf, anything else is sniffed (textual if the first character that is not blank and not
/// in a `//` or `#` comment line is `<`). Returns null after emitting diagnostics on failure.
OwningOpRef<ModuleOp> importOnnx(const llvm::MemoryBuffer &buffer, MLIRContext *context,
                                 const OnnxImportOptions &options);

/// Reads `path` and imports it (see `importOnnx`).
OwningOpRef<ModuleOp> importOnnxFile(llvm::StringRef path, MLIRContext *context,
                                     const OnnxImportOptions &options);

/// Registers every dialect that imported IR may contain (func, arith, math, tensor, linalg, sqz).
void registerOnnxImportDialects(DialectRegistry &registry);

} // namespace sqz
} // namespace mlir

#endif // SQZ_IMPORT_ONNXIMPORTER_H
