"""Writes a tiny ONNX node-test suite for harness.test: one test that passes, one whose
expected output is wrong, one the importer rejects and one skipped by category."""

import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto


def write_test(root, name, nodes, inputs, outputs, feeds, expects, opsets=(("", 13),)):
    d = os.path.join(root, name)
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    graph = helper.make_graph(nodes, name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(dom, v) for dom, v in opsets])
    model.ir_version = 7
    onnx.save(model, os.path.join(d, "model.onnx"))
    for kind, arrays in (("input", feeds), ("output", expects)):
        for i, arr in enumerate(arrays):
            with open(os.path.join(ds, "%s_%d.pb" % (kind, i)), "wb") as f:
                f.write(numpy_helper.from_array(arr).SerializeToString())


def main(root):
    f = lambda n, s: helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = np.full((2, 3), 0.5, dtype=np.float32)
    add = [helper.make_node("Add", ["x", "y"], ["z"])]
    io = ([f("x", [2, 3]), f("y", [2, 3])], [f("z", [2, 3])])
    write_test(root, "test_add_ok", add, *io, [x, y], [x + y])
    write_test(root, "test_add_wrong_expect", add, *io, [x, y], [x + y + np.float32(1)])
    write_test(root, "test_unknown_op", [helper.make_node("NoSuchOp", ["x", "y"], ["z"])],
               *io, [x, y], [x + y])
    write_test(root, "test_add_training", add, *io, [x, y], [x + y])


if __name__ == "__main__":
    main(sys.argv[1])
