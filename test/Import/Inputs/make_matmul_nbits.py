"""Writes small com.microsoft MatMulNBits models for test/Import/matmul-nbits.test.

usage: make_matmul_nbits.py OUT_DIR
  ok.onnx          4-bit, K=32, N=4, block 16, packed zero points, bias (codes all 9, zero
                   points 8, scales 0.5 -> every weight 0.5)
  gidx.onnx        g_idx present (rejected)
  bad_block.onnx   block_size 24 (not a power of 2)
  bad_scales.onnx  scales of the wrong size
"""
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def write(name, inputs, inits, block=16, scales_size=8):
    k, n, bits = 32, 4, 4
    inits = [numpy_helper.from_array(np.full((n, 2, 8), 0x99, np.uint8), "B"),
             numpy_helper.from_array(np.full(scales_size, 0.5, np.float32), "scales")] + inits
    node = helper.make_node("MatMulNBits", ["A", "B", "scales"] + inputs, ["Y"],
                            name="/fc/MatMulNBits", domain="com.microsoft", K=k, N=n, bits=bits,
                            block_size=block)
    graph = helper.make_graph([node], "g",
                              [helper.make_tensor_value_info("A", onnx.TensorProto.FLOAT, [2, k])],
                              [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, [2, n])],
                              inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    onnx.save(m, os.path.join(out, name + ".onnx"))


zp = numpy_helper.from_array(np.full(4, 0x88, np.uint8), "zp")
bias = numpy_helper.from_array(np.arange(4, dtype=np.float32), "bias")
gidx = numpy_helper.from_array(np.zeros(32, np.int32), "g_idx")
write("ok", ["zp", "", "bias"], [zp, bias])
write("gidx", ["zp", "g_idx"], [zp, gidx])
write("bad_block", [], [], block=24)
write("bad_scales", [], [], scales_size=6)
