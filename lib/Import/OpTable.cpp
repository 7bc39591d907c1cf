//===- OpTable.cpp - The ONNX ops the importer supports -------------------===//
//
// The single table from (domain, op type) to import function. `minOpset` is the first opset
// whose semantics the function implements (older versions, e.g. Add with the legacy
// `broadcast` attribute before opset 7, are reported as unsupported). docs/Import.md mirrors it.
//
//===----------------------------------------------------------------------===//

#include "GraphImporter.h"
#include "Ops.h"

using namespace mlir;
using namespace mlir::sqz::import;

static const OpImporter kOpImporters[] = {
    // domain, op type, min opset, import function
    {"", "Add", 7, importAdd},           {"", "Constant", 1, importConstant},
    {"", "Div", 7, importDiv},           {"", "Erf", 9, importErf},
    {"", "Gelu", 20, importGelu},        {"", "Gemm", 7, importGemm},
    {"", "Identity", 1, importIdentity}, {"", "MatMul", 1, importMatMul},
    {"", "Mul", 7, importMul},           {"", "Relu", 6, importRelu},
    {"", "Reshape", 5, importReshape},   {"", "Softmax", 1, importSoftmax},
    {"", "Sub", 7, importSub},           {"", "Transpose", 1, importTranspose},
};

ArrayRef<OpImporter> mlir::sqz::import::getOpImporters() { return kOpImporters; }

const OpImporter *mlir::sqz::import::lookupOpImporter(StringRef domain, StringRef opType) {
  if (domain == "ai.onnx")
    domain = "";
  for (const OpImporter &entry : kOpImporters)
    if (entry.domain == domain && entry.opType == opType)
      return &entry;
  return nullptr;
}
