"""Removes the lowest-scored FFN neurons of a llama2.c-style ONNX model (MatMul nodes named
<block>/w1, <block>/w3 (gate, up: B [H, I]) and <block>/w2 (down: B [I, H])): argv[1] ->
argv[2], removing floor(I * argv[3]) neurons per block.

The NumPy twin of sqz-prune-structured{unit=ffn-neuron score=l2} with the default selection:
the score of neuron i is the sum of squares of its w1 and w3 rows and its w2 column (W = Bᵀ,
[out, in]), accumulated in float64; the lowest go, ties to the lower index. The dense compile
of the result is the reference for the structurally pruned compile (e2e/prune-structured-
stories260K.test).
"""
import math
import re
import sys

import numpy as np
import onnx
from onnx import numpy_helper

model = onnx.load(sys.argv[1])
ratio = float(sys.argv[3])
inits = {t.name: t for t in model.graph.initializer}
nodes = {n.name: n for n in model.graph.node if n.op_type == "MatMul"}
blocks = 0
for name, down in nodes.items():
    match = re.fullmatch(r"(.*(?:^|[/.])layers\.\d+)/w2", name)
    if not match:
        continue
    gate, up = nodes[match.group(1) + "/w1"], nodes[match.group(1) + "/w3"]
    b1, b3, b2 = (numpy_helper.to_array(inits[n.input[1]]) for n in (gate, up, down))
    units = b2.shape[0]
    score = np.zeros(units)
    for b in (b1, b3):  # B [H, I]: neuron i is column i (row i of W)
        score += (b.astype(np.float64) ** 2).sum(axis=0)
    score += (b2.astype(np.float64) ** 2).sum(axis=1)  # B [I, H]: row i (column i of W)
    count = math.floor(units * ratio)
    drop = np.sort(np.argsort(score, kind="stable")[:count])
    keep = np.setdiff1d(np.arange(units), drop)
    for node, b, axis in ((gate, b1, 1), (up, b3, 1), (down, b2, 0)):
        t = inits[node.input[1]]
        t.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(np.take(b, keep, axis=axis)), t.name))
    blocks += 1
    print(f"{name}: {units} -> {len(keep)} neurons, removed {drop[:4].tolist()}...")
print(f"pruned {blocks} FFN blocks")
onnx.save(model, sys.argv[2])
