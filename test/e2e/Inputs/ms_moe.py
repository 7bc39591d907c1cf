"""Writes com.microsoft MoE models (onnx.helper) and float64 NumPy references for ms-moe.test.

    ms_moe.py OUTDIR  ->  OUTDIR/<case>.onnx, OUTDIR/<case>_{input,router,y}.npy

Cases cover onnxruntime's two weight layouts ([E, out, in] and the legacy [E, in, out]), k=1/2,
normalize_routing_weights, relu/gelu(tanh)/silu, biases and fc3 (gated experts), 2-D and 3-D
inputs. The reference is moe_e2e.reference (sqz.moe's definition, which is onnxruntime's).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from moe_e2e import reference  # noqa: E402

ACT = {"relu": "relu", "gelu": "gelu_tanh", "silu": "silu", "identity": "identity"}


def case(out, name, xshape, E, I, k, act, normalize, legacy, bias, fc3, seed):
    rng = np.random.default_rng(seed)
    H = xshape[-1]
    T = int(np.prod(xshape[:-1]))
    x = rng.standard_normal(xshape).astype(np.float32)
    router = rng.standard_normal((T, E)).astype(np.float32)
    w1 = (rng.standard_normal((E, I, H)) * 0.4).astype(np.float32)
    w2 = (rng.standard_normal((E, H, I)) * 0.4).astype(np.float32)
    w3 = (rng.standard_normal((E, I, H)) * 0.4).astype(np.float32) if fc3 else None
    b1 = (rng.standard_normal((E, I)) * 0.1).astype(np.float32) if bias else None
    b2 = (rng.standard_normal((E, H)) * 0.1).astype(np.float32) if bias else None
    stored = (lambda w: w.transpose(0, 2, 1).copy()) if legacy else (lambda w: w)
    inits, names = [], []
    for n, a in [("fc1", w1), ("fc1_b", b1), ("fc2", w2), ("fc2_b", b2), ("fc3", w3)]:
        if a is None:
            names.append("")
            continue
        a = stored(a) if a.ndim == 3 else a
        inits.append(numpy_helper.from_array(a, n))
        names.append(n)
    node = helper.make_node("MoE", ["input", "router"] + names, ["y"], name="/moe/MoE",
                            domain="com.microsoft", k=k, activation_type=act,
                            normalize_routing_weights=int(normalize))
    while node.input and node.input[-1] == "":
        node.input.pop()
    graph = helper.make_graph(
        [node], name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(xshape)),
         helper.make_tensor_value_info("router", TensorProto.FLOAT, [T, E])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(xshape))], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    onnx.save(model, f"{out}/{name}.onnx")
    f64 = lambda a: None if a is None else a.astype(np.float64)
    y = reference(f64(x), f64(router), f64(w1), f64(w2), f64(w3), f64(b1), f64(b2), None,
                  k, ACT[act], normalize, 0)
    np.save(f"{out}/{name}_input.npy", x)
    np.save(f"{out}/{name}_router.npy", router)
    np.save(f"{out}/{name}_y.npy", y.astype(np.float32))


def main():
    out = sys.argv[1]
    case(out, "top2_silu", (6, 8), E=4, I=12, k=2, act="silu", normalize=True, legacy=False,
         bias=True, fc3=False, seed=11)
    case(out, "top1_gelu_legacy", (2, 3, 8), E=3, I=5, k=1, act="gelu", normalize=False,
         legacy=True, bias=True, fc3=False, seed=12)
    case(out, "top2_relu_gated", (5, 6), E=4, I=10, k=2, act="relu", normalize=False,
         legacy=False, bias=False, fc3=True, seed=13)


if __name__ == "__main__":
    main()
