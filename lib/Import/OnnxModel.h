//===- OnnxModel.h - The exception boundary to libonnx ----------*- C++ -*-===//
//
// Everything that calls into libonnx code that may throw (the textual parser, the checker,
// shape inference) lives behind these functions. OnnxModel.cpp is the only file of the importer
// compiled with -fexceptions; it catches every exception and turns it into an error string,
// so nothing thrown ever crosses into MLIR code.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_IMPORT_ONNXMODEL_H
#define SQZ_LIB_IMPORT_ONNXMODEL_H

#include "llvm/ADT/StringRef.h"

#include "onnx/onnx_pb.h"

#include <string>

namespace mlir::sqz::import {

/// Where a textual parse error happened (1-based), when the parser said.
struct OnnxParseError {
  std::string message;
  unsigned line = 0;
  unsigned column = 0;
};

/// How a buffer's format was decided (see importOnnx in OnnxImporter.h).
bool isTextualOnnx(llvm::StringRef fileName, llvm::StringRef contents);

/// Parses textual ONNX. Lines whose first non-blank characters are `//` are blanked first (so
/// lit RUN/CHECK lines can live in the file) without changing line numbers.
bool parseTextualOnnx(llvm::StringRef contents, onnx::ModelProto &model, OnnxParseError &error);

/// Parses a binary ModelProto. With `dropParsedPages` (`contents` is a file mapping,
/// llvm::MemoryBuffer_MMap), the kernel is asked to reclaim the pages already parsed as the parse
/// goes (they fault back in from the file if read again), so that the bytes of the model and its
/// parsed tensors are not both resident.
bool parseBinaryOnnx(llvm::StringRef contents, onnx::ModelProto &model, std::string &error,
                     bool dropParsedPages = false);

/// The highest ONNX IR version the linked libonnx checks; newer models are checked as this one.
int64_t maxCheckedIrVersion();

/// Runs the ONNX checker (with the importer's extra schemas, see OnnxModel.cpp). `modelDir` is
/// the folder external data locations are relative to (empty: unknown).
bool checkOnnxModel(const onnx::ModelProto &model, std::string &error,
                    const std::string &modelDir = "");

/// Runs strict ONNX type and shape inference, adding value_info for intermediates.
bool inferOnnxShapes(onnx::ModelProto &model, std::string &error);

} // namespace mlir::sqz::import

#endif // SQZ_LIB_IMPORT_ONNXMODEL_H
