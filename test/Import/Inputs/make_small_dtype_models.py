"""Writes models with int4/int2/float8/float4 graph inputs and outputs for
test/Import/dtypes-small.test (ONNX 1.12's helpers cannot make these dtypes: the value infos
are typed by number and packed tensors are packed by hand, lowest bits first).

usage: make_small_dtype_models.py OUT_DIR
  subbyte.onnx  an int4 input q [4] dequantized (scale 0.5) and cast to int8; an x [4] float
                input quantized to a uint2 output (zero point 1, from a packed initializer)
  float8.onnx   x [4] float quantized to a float8e4m3fn output, a float8e5m2 input dequantized,
                x cast to float8e5m2 with saturate=0, and a float4e2m1 initializer (packed
                codes 1, 2, 7, 0xF: 0.5, 1, 6, -6) dequantized on the host and added to x
  untyped.onnx  float8.onnx with the float8 output y8 untyped
"""
import os
import sys

import onnx
from onnx import helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)

F = onnx.TensorProto.FLOAT
INT4, UINT2, E4M3FN, E5M2, F4E2M1 = 22, 25, 17, 19, 23


def packed(name, dtype, dims, codes, bits):
    per_byte = 8 // bits
    codes = [c & ((1 << bits) - 1) for c in codes]
    codes += [0] * (-len(codes) % per_byte)
    data = [sum(codes[i + k] << (k * bits) for k in range(per_byte))
            for i in range(0, len(codes), per_byte)]
    t = onnx.TensorProto()
    t.name, t.data_type = name, dtype
    t.dims.extend(dims)
    t.raw_data = bytes(data)
    return t


def save(name, nodes, inputs, outputs, inits):
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, inits),
                          opset_imports=[helper.make_opsetid("", 25)])
    m.ir_version = 11
    onnx.save(m, os.path.join(out, name))


vi = helper.make_tensor_value_info
save("subbyte.onnx",
     [helper.make_node("DequantizeLinear", ["q", "s"], ["y"]),
      helper.make_node("Cast", ["q"], ["q8"], to=onnx.TensorProto.INT8),
      helper.make_node("QuantizeLinear", ["x", "s", "z2"], ["y2"])],
     [vi("q", INT4, [4]), vi("x", F, [4])],
     [vi("y", F, [4]), vi("q8", onnx.TensorProto.INT8, [4]), vi("y2", UINT2, [4])],
     [helper.make_tensor("s", F, [], [0.5]), packed("z2", UINT2, [], [1], 2)])
save("float8.onnx",
     [helper.make_node("QuantizeLinear", ["x", "s", "z8"], ["y8"]),
      helper.make_node("DequantizeLinear", ["e", "s"], ["d"]),
      helper.make_node("Cast", ["x"], ["c"], to=E5M2, saturate=0),
      helper.make_node("DequantizeLinear", ["w4", "one"], ["dw"]),
      helper.make_node("Add", ["x", "dw"], ["a"])],
     [vi("x", F, [4]), vi("e", E5M2, [4])],
     [vi("y8", E4M3FN, [4]), vi("d", F, [4]), vi("c", E5M2, [4]), vi("a", F, [4])],
     [helper.make_tensor("s", F, [], [2.0]), helper.make_tensor("one", F, [], [1.0]),
      onnx.TensorProto(name="z8", data_type=E4M3FN, int32_data=[0]),  # bit patterns
      packed("w4", F4E2M1, [4], [1, 2, 7, 0xF], 4)])
# untyped.onnx: float8.onnx with its float8 output y8 untyped (shape inference types it while
# float8 is presented as uint8; the importer must type it float8e4m3fn itself).
m = onnx.load(os.path.join(out, "float8.onnx"))
for o in m.graph.output:
    if o.name == "y8":
        o.ClearField("type")
onnx.save(m, os.path.join(out, "untyped.onnx"))
