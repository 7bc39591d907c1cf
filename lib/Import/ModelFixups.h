//===- ModelFixups.h - Repairs of real-world ONNX models -------*- C++ -*-===//
//
// Exporters and onnxruntime's tools write models that onnxruntime runs but the ONNX checker of
// libonnx 1.12 rejects. `normalizeOnnxModel` repairs them in place before the importer scans and
// checks the model (see ModelFixups.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_LIB_IMPORT_MODELFIXUPS_H
#define SQZ_LIB_IMPORT_MODELFIXUPS_H

#include "onnx/onnx_pb.h"

#include <utility>
#include <vector>

namespace mlir::sqz::import {

/// - opset_import / node domain "ai.onnx" becomes "" (the same domain; the checker only knows "");
/// - nodes that are not in topological order are sorted (stably: a sorted graph is unchanged, so
///   the names of unnamed nodes, which use their index, do not move);
void normalizeOnnxModel(onnx::ModelProto &model);

/// Takes the graph outputs that have no type out of the graph while it lives and puts them back
/// (same positions) when destroyed: the ONNX checker requires a type on every graph output,
/// while the importer types such outputs itself from what computes them.
class UntypedOutputsHidden {
public:
  explicit UntypedOutputsHidden(onnx::ModelProto &model);
  ~UntypedOutputsHidden();
  UntypedOutputsHidden(const UntypedOutputsHidden &) = delete;
  UntypedOutputsHidden &operator=(const UntypedOutputsHidden &) = delete;

private:
  onnx::GraphProto &graph;
  std::vector<std::pair<int, onnx::ValueInfoProto>> hidden; // (index, output), decreasing index
};

} // namespace mlir::sqz::import

#endif // SQZ_LIB_IMPORT_MODELFIXUPS_H
