"""Writes OUT.onnx: y = relu(x @ w) with a static x [4, 64] (made dynamic by
sqz-compile --dynamic-dim) and the weight formula dynamic_driver.py reproduces.
Run: /usr/bin/python3 gen_onnx_linear.py OUT.onnx"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def weight():
    return ((np.arange(64 * 32).reshape(64, 32) % 11) - 5).astype(np.float32) / 8


if __name__ == "__main__":
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
        "linear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 32])],
        [numpy_helper.from_array(weight(), "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), sys.argv[1])
