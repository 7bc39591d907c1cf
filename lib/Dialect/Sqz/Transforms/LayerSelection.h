//===- LayerSelection.h - Which linears a compression pass touches -*- C++ -*-===//
//
// Shared by every compression pass (sqz-prune, sqz-sparsify-nm, ...): a layer's name is the
// NameLoc of its op (what the importer records: "layers.0/q" in stories260K,
// "/model/layers.0/mlp/down_proj/MatMul" in Optimum exports), and the passes select layers by
// ECMAScript regexes searched in that name (`targets`, `ignore`). See docs/Compression.md.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_DIALECT_SQZ_TRANSFORMS_LAYERSELECTION_H
#define SQZ_LIB_DIALECT_SQZ_TRANSFORMS_LAYERSELECTION_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/Operation.h"
#include "mlir/Support/LLVM.h"

#include <memory>
#include <string>

namespace mlir::sqz {

/// The default `targets`: every layer inside a numbered decoder/encoder block
/// ("layers.3/q", "/model/layers.3/mlp/up_proj/MatMul", "/transformer/h.3/attn/...",
/// "/encoder/layer.3/...", "blocks.3/...").
extern const char *const kDefaultLayerTargets;
/// The default `ignore`: embeddings, the LM head and MoE routers, which the reference methods
/// never compress.
extern const char *const kDefaultLayerIgnore;

/// The layer name of `op`: the first NameLoc found in its location (looking through fused
/// and call-site locations), or "" when it has none.
std::string getLayerName(Operation *op);

/// Selects layers by name: a layer is selected when its name is non-empty, some `targets`
/// regex matches somewhere in it (std::regex_search, ECMAScript syntax) and no `ignore` regex
/// does. An empty `targets` (or `ignore`) list means the default above.
class LayerSelector {
public:
  /// Compiles the regexes; a malformed one is reported through `emitError` (naming the
  /// option and the regex) and gives failure.
  static FailureOr<LayerSelector> create(ArrayRef<std::string> targets,
                                         ArrayRef<std::string> ignore,
                                         function_ref<InFlightDiagnostic()> emitError);

  /// Whether the layer named `name` is selected. Fails (after reporting through `emitError`)
  /// only if the regex engine gives up on a pathological pattern.
  FailureOr<bool> selects(StringRef name,
                          function_ref<InFlightDiagnostic()> emitError) const;

  struct Impl;

private:
  std::shared_ptr<const Impl> impl;
};

/// A selected layer: its op and its name.
struct SelectedLayer {
  Operation *op;
  std::string name;
};

/// The ops under `root` (in walk order) for which `isCandidate` holds and whose names
/// `selector` selects.
FailureOr<SmallVector<SelectedLayer>> selectLayers(Operation *root,
                                                   const LayerSelector &selector,
                                                   function_ref<bool(Operation *)> isCandidate);

} // namespace mlir::sqz

#endif // SQZ_LIB_DIALECT_SQZ_TRANSFORMS_LAYERSELECTION_H
