//===- ModelFixups.cpp - Repairs of real-world ONNX models ----------------===//
//
// onnxruntime accepts models that the ONNX checker rejects; its own test data has three kinds:
//   - `opset_import: [{domain: "ai.onnx"}]` (the default domain spelled out): libonnx 1.12's
//     checker then finds no opset for the nodes' domain "";
//   - nodes out of topological order (a PyTorch 1.1 export edited by hand): onnxruntime sorts;
//   - graph outputs without a `type` (PyTorch 1.5 exports of GPT-2): onnxruntime infers it.
// The first two are repaired here, on the ModelProto, before the importer looks at it; untyped
// outputs (which the importer types itself) are hidden from the checker (UntypedOutputsHidden).
//
//===----------------------------------------------------------------------===//

#include "ModelFixups.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <queue>
#include <string>
#include <vector>

using namespace mlir::sqz::import;

static void normalizeDomains(onnx::ModelProto &model) {
  bool hasDefault = false;
  for (const onnx::OperatorSetIdProto &opset : model.opset_import())
    hasDefault |= opset.domain().empty();
  auto *opsets = model.mutable_opset_import();
  for (int i = 0; i < opsets->size();) {
    onnx::OperatorSetIdProto &opset = opsets->at(i);
    if (opset.domain() == "ai.onnx") {
      if (hasDefault) { // both spellings: keep the "" entry
        opsets->erase(opsets->begin() + i);
        continue;
      }
      opset.set_domain("");
      hasDefault = true;
    }
    ++i;
  }
  for (onnx::NodeProto &node : *model.mutable_graph()->mutable_node())
    if (node.domain() == "ai.onnx")
      node.set_domain("");
}

/// Every value name a node reads: its inputs and, conservatively, every name the nodes of its
/// subgraph attributes read (outer-scope references).
static void collectReads(const onnx::NodeProto &node, std::vector<const std::string *> &reads) {
  for (const std::string &input : node.input())
    if (!input.empty())
      reads.push_back(&input);
  for (const onnx::AttributeProto &attr : node.attribute()) {
    if (attr.has_g())
      for (const onnx::NodeProto &inner : attr.g().node())
        collectReads(inner, reads);
    for (const onnx::GraphProto &g : attr.graphs())
      for (const onnx::NodeProto &inner : g.node())
        collectReads(inner, reads);
  }
}

static void sortNodes(onnx::GraphProto &graph) {
  int numNodes = graph.node_size();
  llvm::StringMap<int> producer;
  for (int i = 0; i < numNodes; ++i)
    for (const std::string &output : graph.node(i).output())
      if (!output.empty())
        producer.try_emplace(output, i);
  // Already sorted? (the common case: leave the graph untouched)
  std::vector<std::vector<int>> deps(numNodes);
  bool sorted = true;
  for (int i = 0; i < numNodes; ++i) {
    std::vector<const std::string *> reads;
    collectReads(graph.node(i), reads);
    for (const std::string *name : reads) {
      auto it = producer.find(*name);
      if (it == producer.end() || it->second == i)
        continue;
      deps[i].push_back(it->second);
      sorted &= it->second < i;
    }
  }
  if (sorted)
    return;
  // Kahn's algorithm, always taking the lowest ready index (stable).
  std::vector<int> pending(numNodes, 0);
  std::vector<std::vector<int>> users(numNodes);
  for (int i = 0; i < numNodes; ++i)
    for (int d : deps[i]) {
      ++pending[i];
      users[d].push_back(i);
    }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < numNodes; ++i)
    if (pending[i] == 0)
      ready.push(i);
  std::vector<int> order;
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int u : users[i])
      if (--pending[u] == 0)
        ready.push(u);
  }
  if (static_cast<int>(order.size()) != numNodes)
    return; // a cycle: leave it to the checker to report
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  nodes.Swap(graph.mutable_node());
  for (int i : order)
    graph.add_node()->Swap(&nodes[i]);
}

UntypedOutputsHidden::UntypedOutputsHidden(onnx::ModelProto &model)
    : graph(*model.mutable_graph()) {
  auto *outputs = graph.mutable_output();
  for (int i = outputs->size() - 1; i >= 0; --i) {
    if (outputs->Get(i).has_type())
      continue;
    hidden.emplace_back(i, std::move(*outputs->Mutable(i)));
    outputs->erase(outputs->begin() + i);
  }
}

UntypedOutputsHidden::~UntypedOutputsHidden() {
  auto *outputs = graph.mutable_output();
  // `hidden` is in decreasing index order: put them back from the lowest index.
  for (auto it = hidden.rbegin(); it != hidden.rend(); ++it) {
    outputs->Add(std::move(it->second));
    for (int j = outputs->size() - 1; j > it->first; --j)
      outputs->SwapElements(j, j - 1);
  }
}

void mlir::sqz::import::normalizeOnnxModel(onnx::ModelProto &model) {
  normalizeDomains(model);
  sortNodes(*model.mutable_graph());
}
