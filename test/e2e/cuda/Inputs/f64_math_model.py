"""Writes an ONNX model of f64 math functions that the CUDA target takes from libdevice when it
has one, else from its own f64 code (Tanh, Sin, Cos, Erf, Atan, Asin, Tan; docs/CUDA.md "Math
functions"), its input and the float64 references (Python's math module), for
test/e2e/cuda/f64-math.test and f64-math-libdevice.test.

Usage: f64_math_model.py OUT_DIR
"""

import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

OPS = {
    "Tanh": math.tanh,
    "Sin": math.sin,
    "Cos": math.cos,
    "Erf": math.erf,
    "Atan": math.atan,
    "Tan": math.tan,
}


def main():
    out = sys.argv[1]
    # Spread over the interesting ranges (tanh and erf saturate, large sin/cos arguments
    # need a good range reduction), odd size.
    x = np.concatenate([np.linspace(-7.0, 7.0, 61), [1e-300, -1e-9, 0.0, 40.5, -1234.5678,
                                                      1e5 + 0.25]]).reshape(1, -1)
    nodes, outputs = [], []
    for op, fn in OPS.items():
        name = op.lower()
        nodes.append(helper.make_node(op, ["x"], [name]))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.DOUBLE, x.shape))
        np.save(os.path.join(out, name + ".npy"), np.vectorize(fn)(x))
    # Asin needs |x| <= 1.
    nodes.append(helper.make_node("Mul", ["x", "scale"], ["xs"]))
    nodes.append(helper.make_node("Asin", ["xs"], ["asin"]))
    outputs.append(helper.make_tensor_value_info("asin", TensorProto.DOUBLE, x.shape))
    scale = 1.0 / 2e5
    np.save(os.path.join(out, "asin.npy"), np.vectorize(math.asin)(x * scale))
    graph = helper.make_graph(
        nodes, "f64_math",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, x.shape)], outputs,
        [helper.make_tensor("scale", TensorProto.DOUBLE, [], [scale])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, "f64_math.onnx"))
    np.save(os.path.join(out, "x.npy"), x)
    print("f64_math: wrote", len(outputs), "outputs,", x.size, "points each")


if __name__ == "__main__":
    main()
