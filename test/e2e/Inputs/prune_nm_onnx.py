"""Applies n:m magnitude pruning (keep the n largest |w| of each aligned group of m along the
input dimension; ties: the lower index is pruned) to the weight initializers of the MatMuls
inside numbered blocks of an ONNX model: argv[1] -> argv[2], with n = argv[3], m = argv[4].
The NumPy twin of sqz-sparsify-nm{method=magnitude} with the default selection, so that the
dense compile of the result is a reference for the sparse compile (e2e/sparse-stories260K.test).
"""
import re
import sys

import numpy as np
import onnx
from onnx import numpy_helper

model = onnx.load(sys.argv[1])
n, m = int(sys.argv[3]), int(sys.argv[4])
inits = {t.name: t for t in model.graph.initializer}
count = 0
for node in model.graph.node:
    if node.op_type != "MatMul" or node.input[1] not in inits:
        continue
    if not re.search(r"(^|[/.])(layers|layer|h|blocks?)[./]\d+", node.name):
        continue
    t = inits[node.input[1]]
    w = numpy_helper.to_array(t).T.copy()  # MatMul's B is [in, out]; W is [out, in]
    assert w.shape[1] % m == 0
    for r in range(w.shape[0]):
        for g in range(w.shape[1] // m):
            drop = np.argsort(np.abs(w[r, g * m:(g + 1) * m]), kind="stable")[:m - n]
            w[r, g * m + drop] = 0.0
    t.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(w.T), t.name))
    count += 1
print(f"pruned {count} weights to {n}:{m}")
onnx.save(model, sys.argv[2])
