//===- sqz-translate.cpp - Squeeze's mlir-translate ------------------------===//
//
// mlir-translate with Squeeze's translations:
//   sqz-translate --import-onnx model.onnx [--input-shape x=1x128]... [--dynamic-dim x:0:64]...
//                 [-o out.mlir]
// imports a binary or textual ONNX model into sqz graph IR (see docs/Import.md).
//   sqz-translate --export-onnx --onnx-source model.onnx compressed.mlir -o out.onnx
// writes a compressed module (imported from model.onnx, then sqz-prune/sqz-quantize...) back
// into that model: changed linears become com.microsoft MatMulNBits or MatMul nodes (see
// docs/Compression.md, "Pre-quantized models in, ONNX out").
//
//===----------------------------------------------------------------------===//

#include "sqz/Import/OnnxImporter.h"
#include "sqz/Target/ONNX/OnnxExport.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/SourceMgr.h"

#include <string>

using namespace mlir;

static llvm::cl::list<std::string>
    inputShapes("input-shape",
                llvm::cl::desc("Pin the shape of an ONNX graph input (--import-onnx), e.g. "
                               "--input-shape x=1x128; repeatable"),
                llvm::cl::value_desc("name=DxD..."));
static llvm::cl::list<std::string>
    dynamicDims("dynamic-dim",
                llvm::cl::desc("Keep an axis of an ONNX graph input dynamic (--import-onnx), "
                               "with an optional bound, e.g. --dynamic-dim input_ids:1:2048; "
                               "repeatable"),
                llvm::cl::value_desc("input:axis[:max]"));

static llvm::cl::opt<std::string>
    onnxSource("onnx-source",
               llvm::cl::desc("The ONNX model the module was imported from (--export-onnx)"),
               llvm::cl::value_desc("model.onnx"));

static OwningOpRef<Operation *> importOnnxTranslation(llvm::SourceMgr &sourceMgr,
                                                      MLIRContext *context) {
  sqz::OnnxImportOptions options;
  bool ok = true;
  for (const std::string &spec : inputShapes) {
    std::string error;
    if (!sqz::parseOnnxInputShape(spec, options, error)) {
      emitError(UnknownLoc::get(context)) << error;
      ok = false;
    }
  }
  for (const std::string &spec : dynamicDims) {
    std::string error;
    if (!sqz::parseOnnxDynamicDim(spec, options, error)) {
      emitError(UnknownLoc::get(context)) << error;
      ok = false;
    }
  }
  if (!ok)
    return nullptr;
  const llvm::MemoryBuffer *buffer = sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  OwningOpRef<ModuleOp> module = sqz::importOnnx(*buffer, context, options);
  return OwningOpRef<Operation *>(module.release());
}

int main(int argc, char **argv) {
  TranslateToMLIRRegistration importOnnx(
      "import-onnx", "Import an ONNX model (binary .onnx or textual .onnxtxt)",
      importOnnxTranslation,
      [](DialectRegistry &registry) { sqz::registerOnnxImportDialects(registry); });
  TranslateFromMLIRRegistration exportOnnx(
      "export-onnx",
      "Write a compressed module back into its source ONNX model (needs --onnx-source)",
      [](Operation *op, llvm::raw_ostream &os) -> LogicalResult {
        auto module = dyn_cast<ModuleOp>(op);
        if (!module)
          return op->emitError() << "--export-onnx expects a builtin.module";
        if (onnxSource.empty())
          return module.emitError()
                 << "--export-onnx needs --onnx-source <the ONNX model the module was "
                    "imported from>";
        return sqz::exportOnnx(module, onnxSource, os);
      },
      [](DialectRegistry &registry) { sqz::registerOnnxImportDialects(registry); });
  return failed(mlirTranslateMain(argc, argv, "Squeeze translation tool"));
}
