//===- Recipe.h - Compression recipes (YAML) ---------------------*- C++ -*-===//
//
// A recipe is a YAML list of stages; each stage is a one-key map from a compression pass's
// name without the `sqz-` prefix to a map of that pass's options:
//
//   - prune: {method: sparsegpt, sparsity: 0.5, targets: '.*mlp.*'}
//   - sparsify-nm: {method: wanda, n: 2, m: 4}
//
// Values are scalars, or lists for list options (`targets: ['mlp', 'attn']`). A recipe becomes
// an MLIR pass pipeline (`sqz-prune{method=sparsegpt sparsity=0.5 targets=".*mlp.*"}`), which
// is checked against the registered passes: an unknown stage or option is an error listing
// the valid ones. docs/Compression.md describes the stages.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_COMPRESSION_RECIPE_H
#define SQZ_COMPRESSION_RECIPE_H

#include "mlir/Pass/PassManager.h"
#include "llvm/Support/Error.h"

#include <string>
#include <utility>
#include <vector>

namespace sqz::compression {

struct RecipeStage {
  std::string name; ///< e.g. "prune" (the pass is "sqz-" + name)
  /// Options in recipe order; list values are already joined as MLIR list options.
  std::vector<std::pair<std::string, std::string>> options;
  unsigned line = 0; ///< of the stage in the recipe file, for diagnostics

  /// The stage's pass argument ("sqz-prune").
  std::string passArgument() const { return "sqz-" + name; }
  /// Whether the recipe sets `option`.
  bool has(llvm::StringRef option) const;
  /// "sqz-prune{method=sparsegpt sparsity=0.5}".
  std::string textualPipeline() const;
};

struct Recipe {
  std::vector<RecipeStage> stages;
  /// The whole recipe as one pipeline string (stages separated by commas).
  std::string textualPipeline() const;
};

/// The stage names a recipe may use: the compression passes that are registered.
std::vector<std::string> getRecipeStageNames();

/// The option names of a registered pass (from its textual form).
std::vector<std::string> getPassOptionNames(llvm::StringRef passArgument);

/// Parses `text` (from `fileName`) and checks stage names and option names.
llvm::Expected<Recipe> parseRecipe(llvm::StringRef text, llvm::StringRef fileName);

/// Reads and parses a recipe file.
llvm::Expected<Recipe> loadRecipe(llvm::StringRef path);

} // namespace sqz::compression

#endif // SQZ_COMPRESSION_RECIPE_H
