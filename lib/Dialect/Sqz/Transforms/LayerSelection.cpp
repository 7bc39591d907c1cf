//===- LayerSelection.cpp - Which linears a compression pass touches ------===//
//
// Compiled with -fexceptions (see CMakeLists.txt): std::regex reports malformed patterns
// only by throwing, and we turn that into a diagnostic. Nothing else here throws.
//
//===----------------------------------------------------------------------===//

#include "LayerSelection.h"

#include "mlir/IR/BuiltinAttributes.h"

#include <regex>
#include <vector>

using namespace mlir;
using namespace mlir::sqz;

const char *const mlir::sqz::kDefaultLayerTargets =
    R"((^|[/.])(layers|layer|h|blocks?)[./]\d+)";
const char *const mlir::sqz::kDefaultLayerIgnore =
    R"((^|[/._])(lm_head|embed_tokens|embed_in|embed_out|tok_embeddings|embeddings?|)"
    R"(wte|wpe|router)([/._]|$))";

struct LayerSelector::Impl {
  std::vector<std::pair<std::string, std::regex>> targets, ignore;
};

std::string mlir::sqz::getLayerName(Operation *op) {
  std::string name;
  op->getLoc()->walk([&](Location loc) {
    if (auto named = dyn_cast<NameLoc>(loc)) {
      name = named.getName().str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return name;
}

/// Compiles `patterns` (or `fallback` when empty) into `out`.
static LogicalResult compile(ArrayRef<std::string> patterns, const char *fallback,
                             StringRef option,
                             std::vector<std::pair<std::string, std::regex>> &out,
                             function_ref<InFlightDiagnostic()> emitError) {
  std::vector<std::string> all(patterns.begin(), patterns.end());
  if (all.empty())
    all.push_back(fallback);
  for (const std::string &pattern : all) {
    try {
      out.emplace_back(pattern, std::regex(pattern, std::regex::ECMAScript));
    } catch (const std::regex_error &e) {
      return emitError() << "invalid regex '" << pattern << "' in option '" << option
                         << "': " << e.what();
    }
  }
  return success();
}

FailureOr<LayerSelector>
LayerSelector::create(ArrayRef<std::string> targets, ArrayRef<std::string> ignore,
                      function_ref<InFlightDiagnostic()> emitError) {
  auto impl = std::make_shared<Impl>();
  if (failed(compile(targets, kDefaultLayerTargets, "targets", impl->targets, emitError)) ||
      failed(compile(ignore, kDefaultLayerIgnore, "ignore", impl->ignore, emitError)))
    return failure();
  LayerSelector selector;
  selector.impl = std::move(impl);
  return selector;
}

FailureOr<bool>
LayerSelector::selects(StringRef name,
                       function_ref<InFlightDiagnostic()> emitError) const {
  if (name.empty())
    return false;
  std::string subject = name.str();
  auto any = [&](const std::vector<std::pair<std::string, std::regex>> &list)
      -> FailureOr<bool> {
    for (const auto &[pattern, regex] : list) {
      try {
        if (std::regex_search(subject, regex))
          return true;
      } catch (const std::regex_error &e) {
        emitError() << "regex '" << pattern << "' failed on layer '" << name
                    << "': " << e.what();
        return failure();
      }
    }
    return false;
  };
  FailureOr<bool> targeted = any(impl->targets);
  if (failed(targeted) || !*targeted)
    return targeted;
  FailureOr<bool> ignored = any(impl->ignore);
  if (failed(ignored))
    return failure();
  return !*ignored;
}

FailureOr<SmallVector<SelectedLayer>>
mlir::sqz::selectLayers(Operation *root, const LayerSelector &selector,
                        function_ref<bool(Operation *)> isCandidate) {
  SmallVector<SelectedLayer> layers;
  WalkResult walk = root->walk([&](Operation *op) {
    if (!isCandidate(op))
      return WalkResult::advance();
    std::string name = getLayerName(op);
    FailureOr<bool> selected = selector.selects(name, [&] { return op->emitError(); });
    if (failed(selected))
      return WalkResult::interrupt();
    if (*selected)
      layers.push_back({op, std::move(name)});
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  return layers;
}
