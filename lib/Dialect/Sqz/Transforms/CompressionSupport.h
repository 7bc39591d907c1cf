//===- CompressionSupport.h - What the compression passes share -*- C++ -*-===//
//
// The pieces every compression pass needs besides layer selection (LayerSelection.h): the
// scoring method option, the calibration statistics file, and reading/writing weight
// constants as f32 arrays.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_DIALECT_SQZ_TRANSFORMS_COMPRESSIONSUPPORT_H
#define SQZ_LIB_DIALECT_SQZ_TRANSFORMS_COMPRESSIONSUPPORT_H

#include "LayerSelection.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Operation.h"
#include "mlir/Support/LLVM.h"

#include <memory>
#include <string>
#include <vector>

namespace mlir::sqz {

/// How a pruning pass scores weights.
enum class PruneMethod { Magnitude, Wanda, SparseGPT };

/// Parses a `method` option: magnitude, wanda or sparsegpt.
FailureOr<PruneMethod> parsePruneMethod(StringRef method,
                                        function_ref<InFlightDiagnostic()> emitError);

/// Calibration statistics, one safetensors file (docs/Compression.md): for each linear named
/// L, `L/sumsq` F64 [in] (Σ x_j² over the calibration tokens), `L/absmax` F32 [in],
/// `L/xtx` F64 [in, in] (Σ x xᵀ) and `L/tokens` I64 [1] (the token count).
class CalibrationStats {
public:
  /// Maps `path`; a missing or malformed file is reported through `emitError`.
  static FailureOr<std::unique_ptr<CalibrationStats>>
  open(StringRef path, function_ref<InFlightDiagnostic()> emitError);
  ~CalibrationStats();

  /// `layer/sumsq` for a linear with `in` input features; errors (missing tensor, wrong
  /// dtype or shape, no tokens) are reported on `op`, naming the layer.
  FailureOr<std::vector<double>> getSumSq(Operation *op, StringRef layer, int64_t in) const;
  /// `layer/xtx` [in, in], row-major; errors as for getSumSq.
  FailureOr<std::vector<double>> getXtX(Operation *op, StringRef layer, int64_t in) const;
  /// `layer/absmax` F32 [in] (max |x_j|); errors as for getSumSq.
  FailureOr<std::vector<float>> getAbsMax(Operation *op, StringRef layer, int64_t in) const;

  struct File;

private:
  CalibrationStats() = default;
  FailureOr<std::vector<double>> getF64(Operation *op, StringRef layer, StringRef stat,
                                        ArrayRef<int64_t> shape) const;
  /// The checked bytes of `layer/stat` of `dtype` and `shape` (the layer's token count too).
  FailureOr<ArrayRef<char>> getRaw(Operation *op, StringRef layer, StringRef stat,
                                   StringRef dtype, ArrayRef<int64_t> shape) const;
  std::string path;
  std::unique_ptr<File> file;
};

/// The elements of a float constant (f32, f16 or bf16; dense or dense_resource) as f32.
/// Fails with a message in `error` for other element types and elided blobs.
FailureOr<std::vector<float>> readFloatConstant(Attribute value, std::string &error);

/// A dense_resource attribute of `type` (f32, f16 or bf16 elements) holding `values`,
/// converted to the element type (round to nearest even), in a new blob named after `key`
/// (the blob manager makes the name unique).
DenseResourceElementsAttr makeFloatResource(RankedTensorType type, ArrayRef<float> values,
                                            StringRef key);

/// A dense_resource attribute of i8 `type` holding `bytes`.
DenseResourceElementsAttr makeI8Resource(RankedTensorType type, ArrayRef<uint8_t> bytes,
                                         StringRef key);

/// The blob key of a dense_resource constant, or "" for other attributes.
std::string getResourceKey(Attribute value);

/// A blob key made from a layer name (characters other than [A-Za-z0-9_.] become '_'), for
/// weights that were not blobs; "sqz_weight" for an unnamed layer.
std::string getBlobKeyBase(StringRef layerName);

/// `method` (scoring `kind`) needs a statistics file: an error when `stats` is empty
/// ("method 'wanda' needs calibration statistics (stats=<file>, L/sumsq per layer)").
LogicalResult checkMethodHasStats(PruneMethod kind, StringRef method, StringRef stats,
                                  function_ref<InFlightDiagnostic()> emitError);

/// What a compression pass works on: the selected `sqz.linear`s (walk order) and, when the
/// pass was given a statistics file, that file opened.
struct CompressionTargets {
  SmallVector<SelectedLayer> layers;
  std::unique_ptr<CalibrationStats> stats; ///< null without a file
};

/// Compiles the `targets`/`ignore` regexes, opens `statsPath` (if not empty) and selects the
/// linears of `module` (the ops `isCandidate` accepts; default: every `sqz.linear`); every
/// failure is reported through `emitError`.
FailureOr<CompressionTargets> selectCompressionTargets(
    ModuleOp module, ArrayRef<std::string> targets, ArrayRef<std::string> ignore,
    StringRef statsPath, function_ref<InFlightDiagnostic()> emitError,
    function_ref<bool(Operation *)> isCandidate = nullptr);

} // namespace mlir::sqz

#endif // SQZ_LIB_DIALECT_SQZ_TRANSFORMS_COMPRESSIONSUPPORT_H
