//===- CompressionReport.h - What compression did to each layer -*- C++ -*-===//
//
// `sqz-compile --report`: the weights of every linear before and after a recipe, compared
// layer by layer (shape, the stage that changed it, exact zero count, bytes before/after,
// and with calibration statistics the relative reconstruction error
// ‖XWᵀ − XŴᵀ‖² / ‖XWᵀ‖² = tr(D XᵀX Dᵀ) / tr(W XᵀX Wᵀ), D = W − Ŵ, on the calibration data).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_DIALECT_SQZ_TRANSFORMS_COMPRESSIONREPORT_H
#define SQZ_DIALECT_SQZ_TRANSFORMS_COMPRESSIONREPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlir::sqz {

/// One linear's weight as a dense [out, in] f32 matrix (an n:m sparse linear decompressed),
/// with the bytes its stored form takes and a name for that form.
struct LayerWeight {
  std::string name;
  int64_t out = 0, in = 0;
  std::vector<float> dense;
  int64_t bytes = 0;
  std::string form; ///< "dense f32", "2:4 sparse", ...
};

/// Every named `sqz.linear` / `sqz.sparse_linear` with a readable constant weight, by name.
/// Layers whose weights cannot be read (elided blobs, unusual types) are left out.
std::map<std::string, LayerWeight> collectLayerWeights(ModuleOp module);

struct LayerReport {
  std::string name;
  int64_t out = 0, in = 0;
  std::string method; ///< the recipe stage(s) that changed it
  std::string form;
  int64_t zeros = 0, numel = 0;
  int64_t bytesBefore = 0, bytesAfter = 0;
  std::optional<double> relativeError; ///< with calibration statistics (L/xtx)
};

/// Compares `before` and `after`; `methods` says which stage changed each layer; statistics
/// (a calibration safetensors file, may be empty) give the reconstruction error.
std::vector<LayerReport> compareLayers(const std::map<std::string, LayerWeight> &before,
                                       const std::map<std::string, LayerWeight> &after,
                                       const std::map<std::string, std::string> &methods,
                                       const std::string &statsPath);

/// The report as JSON ({"layers": [...], "totals": {...}}) and as a printed table.
llvm::json::Value reportToJson(const std::vector<LayerReport> &layers);
void printReport(const std::vector<LayerReport> &layers, llvm::raw_ostream &os);

} // namespace mlir::sqz

#endif // SQZ_DIALECT_SQZ_TRANSFORMS_COMPRESSIONREPORT_H
