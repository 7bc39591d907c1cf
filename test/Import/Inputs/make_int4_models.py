"""Writes models with int4/uint4 tensors for test/Import/quantize-int4.test (ONNX 1.12's helpers
cannot make them: the codes are packed by hand, two per byte, low nibble first).

usage: make_int4_models.py OUT_DIR
  weight.onnx  DequantizeLinear of an int4 [2, 3] initializer (codes -8, -1, 7, 0, 3, -5; raw_data)
               and a uint4 [3] one in int32_data (codes 15, 0, 9; zero point 8, scale 0.5)
  input.onnx   an int4 graph input, dequantized
"""
import os
import sys

import onnx
from onnx import helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def packed(name, dtype, dims, codes, raw=True):
    nibbles = [c & 0xF for c in codes] + [0] * (len(codes) % 2)
    data = [nibbles[i] | (nibbles[i + 1] << 4) for i in range(0, len(nibbles), 2)]
    t = onnx.TensorProto()
    t.name, t.data_type = name, dtype
    t.dims.extend(dims)
    if raw:
        t.raw_data = bytes(data)
    else:
        t.int32_data.extend(data)
    return t


def save(name, nodes, inputs, outputs, inits):
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, inits),
                          opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 8
    onnx.save(m, os.path.join(out, name))


f = onnx.TensorProto.FLOAT
save("weight.onnx",
     [helper.make_node("DequantizeLinear", ["w", "s"], ["dw"]),
      helper.make_node("Add", ["x", "dw"], ["y"]),
      helper.make_node("DequantizeLinear", ["u", "s", "uz"], ["du"]),
      helper.make_node("Add", ["x1", "du"], ["y1"])],
     [helper.make_tensor_value_info("x", f, [2, 3]), helper.make_tensor_value_info("x1", f, [3])],
     [helper.make_tensor_value_info("y", f, [2, 3]), helper.make_tensor_value_info("y1", f, [3])],
     [packed("w", 22, [2, 3], [-8, -1, 7, 0, 3, -5]), helper.make_tensor("s", f, [], [0.5]),
      packed("u", 21, [3], [15, 0, 9], raw=False), packed("uz", 21, [], [8])])
save("input.onnx",
     [helper.make_node("DequantizeLinear", ["q", "s"], ["y"])],
     [helper.make_tensor_value_info("q", 22, [4])],
     [helper.make_tensor_value_info("y", f, [4])],
     [helper.make_tensor("s", f, [], [0.5])])
